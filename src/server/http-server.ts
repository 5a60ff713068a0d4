/** The HTTP front: parses the request line, asks the resolver, responds; logs as Apache would. */
import { catalogEntry, type ErrorCode } from '../vocabulary/error-catalog.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { LogEvent, RequestFacts } from '../engine/resolve.js';
import { resolveRequest } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import { respond } from './responder.js';
import { bodyFailureAnswered, reportBodyFailure } from './body-failure.js';
import { HostProcessCrash } from '../vocabulary/host-process-crash.js';
import { endAsHostCrashes, endFailedResponse, inRequestScope, type RequestScope } from './request-guard.js';
import { balancerClientKey, type PersistenceTable } from '../engine/lvs-persistence.js';
import { serveDashboard, type DashboardOptions } from './dashboard.js';
import { addLogLine, type RequestJournal, type RequestRecord } from './request-journal.js';
import { accessLogTime } from '../grammar/apache-time.js';
import { normalizeRequestPath } from '../grammar/url-path.js';
import type { SiteContext } from './site-context.js';
import { HostResponse, SERVER_BANNER } from './response-sink.js';
import { cannedErrorPage, STATUS_REASONS } from '../grammar/error-pages.js';
import { checkRequestHead, maxHeadBytes, overflowStatus, readExpired, type ReadProgress } from '../engine/request-reading.js';
import { sslEnvironment, sslVariables, type ServerCertificateFacts } from '../engine/ssl-variables.js';
import { EMULATED_APACHE_VERSION } from '../grammar/host-config.js';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createSecureContext, TLSSocket } from 'node:tls';
import { Duplex as DuplexStream } from 'node:stream';
import { installRegexMatchLimit, REGEX_MATCH_LIMIT_MS } from '../adapters/regex-match-limit.js';
// Installs the directive registry (the modules' command tables) before any file is read.
import '../modules/index.js';

export interface HttpFrontOptions {
  site: SiteContext;
  logger: Logger;
  /** Where combined-format access lines go (undefined: nowhere). */
  accessLog?: (line: string) => void;
  /** Also speak TLS on the same port (`serve --tls`): the first byte of a connection decides. */
  tls?: { key: string; cert: string };
  /** `--servers N`: the simulated real servers (server 1 is `site`) and the balancer's persistence. */
  backends?: { servers: SiteContext[]; persistence: PersistenceTable };
  /** Where requests are recorded for the dashboard (undefined: nowhere). */
  journal?: RequestJournal;
  /** The dashboard's path and who may see it (undefined: no dashboard). */
  dashboard?: DashboardOptions;
  /** Add `X-Htsandbox-Explain: <dashboard>/r/<id>` to every answer (off with --strict). */
  explainHeader?: boolean;
  /** Called once a request's answer has been sent (terminal request lines). */
  onRequestDone?: (rec: RequestRecord) => void;
}

/** What a request that logged nothing went wrong for, in plain words, by status. */
const PLAIN_REASONS: Record<number, string> = {
  400: 'The request itself is malformed (bad URL encoding, a bad header, or a path Apache refuses).',
  401: 'This directory asks for a login (Basic authentication) and no valid user and password came with the request.',
  403: 'The configuration forbids this path (a Require line, Options, or a file the host never serves).',
  404: 'No file or directory of that name exists under the site, and nothing (rewrite rule, script) answered for it.',
  405: 'This method is not allowed on this path.',
  408: 'The client did not send its whole request in time (Timeout, RequestReadTimeout).',
  413: 'The request body is larger than the configured limit (LimitRequestBody).',
  414: 'The request line is longer than LimitRequestLine (8190 bytes on the host).',
  500: 'The server could not answer: see the error log lines below for what the host logged.',
  501: 'The method is not one the server implements.',
};

/** A connection's two ends, as the environment names them (an IPv4 client without its ::ffff:). */
interface ConnectionAddresses {
  remoteAddr: string;
  remotePort: number;
  serverAddr: string;
}

/**
 * Read from the socket once per connection: each read of a socket's address goes through
 * Node's getpeername/getsockname wrappers (their cache is behind symbol-keyed loads).
 */
function addressesOf(socket: Socket): ConnectionAddresses {
  const remote = socket.remoteAddress ?? '0.0.0.0';
  const local = socket.localAddress ?? '127.0.0.1';
  return {
    remoteAddr: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
    remotePort: socket.remotePort ?? 0,
    serverAddr: local.startsWith('::ffff:') ? local.slice(7) : local,
  };
}

/** What the server tracks of one connection: how far the current request has been read. */
interface Connection {
  /** What counts the bytes received (the TCP socket under a TLS one). */
  counter: { readonly bytesRead: number };
  /** The request being answered (undefined between requests). */
  req?: IncomingMessage;
  res?: ServerResponse;
  /** socket.bytesRead when the current reading stage began. */
  baseline: number;
  progress: ReadProgress;
  /** No request has begun on it yet. */
  fresh: boolean;
  /** When the current request's head arrived (ms). */
  requestAt: number;
  /** Its addresses, once a request has asked. */
  addresses: ConnectionAddresses | undefined;
}

/** A connection's state before its first request: its head is being read from now on. */
function newConnection(counter: Connection['counter'], baseline: number): Connection {
  const now = Date.now();
  return { counter, baseline, progress: { stage: 'header', startedAt: now, bytes: 0, lastByteAt: now }, fresh: true, requestAt: 0, addresses: undefined };
}

/** The response's handling (its one 'finish' listener finds it here). */
const FRONT_REQUEST = Symbol('htsandbox.frontRequest');
type FrontResponse = ServerResponse & { [FRONT_REQUEST]?: { finished(): void } };
/** Every response's one 'finish' listener (shared: no closure per request). */
function onResponseFinish(this: FrontResponse): void {
  this[FRONT_REQUEST]?.finished();
}

/** How soon after its request a client's FIN counts as a half-close rather than leaving. */
const HALF_CLOSE_GRACE_MS = 200;

/** The methods Apache's Allow lists for a static resource (ap_send_http_options's default). */
const STATIC_ALLOW = 'GET,POST,OPTIONS,HEAD';

/**
 * A whole response written straight to the socket, for answers given before (or instead of)
 * Node's request object: ap_send_error_response's page, then the connection closes.
 */
function rawErrorResponse(status: number, method: string, extra: { allow?: string; errorNotes?: string } = {}): string {
  const page = cannedErrorPage(status, { method, serverAdmin: '', signature: '', ...(extra.errorNotes ? { errorNotes: extra.errorNotes } : {}) });
  return (
    `HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? ''}\r\n` +
    `Date: ${new Date().toUTCString()}\r\n` +
    `Server: ${SERVER_BANNER}\r\n` +
    (extra.allow !== undefined ? `Allow: ${extra.allow}\r\n` : '') +
    `Content-Length: ${Buffer.byteLength(page, 'latin1')}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/html; charset=iso-8859-1\r\n\r\n' +
    page
  );
}

/** Writes `text` and closes: the client gets the answer, then the connection ends. */
function answerAndClose(socket: Duplex, text: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(text, 'latin1');
  // A client that never reads must not keep the socket: it goes once the answer is flushed or soon after.
  setTimeout(() => socket.destroy(), 2000).unref();
}

/**
 * The request line of a head Node's parser refused (its error points somewhere inside it):
 * the method and target when the line is whole and has the shape `METHOD TARGET[ VERSION]`.
 */
function refusedRequestLine(raw: Buffer | undefined, at: number | undefined): { method: string; target: string } | undefined {
  if (!raw) return undefined;
  const text = raw.toString('latin1');
  const from = text.lastIndexOf('\n', Math.max(0, (at ?? 0) - 1)) + 1;
  const eol = text.indexOf('\n', from);
  if (eol === -1) return undefined;
  const m = /^([^\s]+) ([^\s]+)(?: HTTP\/\d\.\d)?\r?$/.exec(text.slice(from, eol));
  return m ? { method: m[1]!, target: m[2]! } : undefined;
}

/** OpenSSL's long names of the key and signature algorithms mod_ssl prints. */
const SIGNATURE_OIDS: [string, string][] = [
  ['2a8648ce3d040302', 'ecdsa-with-SHA256'],
  ['2a8648ce3d040303', 'ecdsa-with-SHA384'],
  ['2a8648ce3d040304', 'ecdsa-with-SHA512'],
  ['2a864886f70d01010b', 'sha256WithRSAEncryption'],
  ['2a864886f70d01010c', 'sha384WithRSAEncryption'],
  ['2a864886f70d01010d', 'sha512WithRSAEncryption'],
  ['2a864886f70d010105', 'sha1WithRSAEncryption'],
  ['2b6570', 'ED25519'],
];
const KEY_NAMES: Record<string, string> = { ec: 'id-ecPublicKey', rsa: 'rsaEncryption', 'rsa-pss': 'rsassaPss', ed25519: 'ED25519', dsa: 'dsaEncryption' };

/** `DNS:a, IP Address:1.2.3.4, email:x@y` → the entries of one kind. */
function sanEntries(san: string | undefined, kind: string): string[] {
  return (san ?? '')
    .split(', ')
    .filter((e) => e.startsWith(`${kind}:`))
    .map((e) => e.slice(kind.length + 1));
}

function certificateFacts(pemText: string): ServerCertificateFacts {
  const x = new X509Certificate(pemText);
  // The certificate's signatureAlgorithm follows the TBSCertificate: the last OID in the DER.
  const hex = x.raw.toString('hex');
  let signatureAlgorithm = 'UNKNOWN';
  let at = -1;
  for (const [oid, name] of SIGNATURE_OIDS) {
    const i = hex.lastIndexOf(`06${(oid.length / 2).toString(16).padStart(2, '0')}${oid}`);
    if (i > at) {
      at = i;
      signatureAlgorithm = name;
    }
  }
  return {
    subject: x.subject,
    issuer: x.issuer,
    serial: x.serialNumber.toUpperCase(),
    validFrom: x.validFrom,
    validTo: x.validTo,
    sanDns: sanEntries(x.subjectAltName, 'DNS'),
    sanEmail: sanEntries(x.subjectAltName, 'email'),
    keyAlgorithm: KEY_NAMES[x.publicKey.asymmetricKeyType ?? ''] ?? 'UNKNOWN',
    signatureAlgorithm,
  };
}

/**
 * Makes `server` answer TLS on its own port too: a connection whose first byte opens a TLS
 * handshake (0x16) goes through a TLS server whose decrypted socket is handed to the HTTP
 * server, any other stays plain. One port for both is what lets an `.htaccess` that forces
 * `https://%{HTTP_HOST}/…` land in the preview. Returns the per-request variables reader.
 */
/** A TLS connection's variables: all that ssl_var_lookup answers, and what goes into the environment. */
interface TlsFacts {
  lookup: ReadonlyMap<string, string>;
  env: ReadonlyMap<string, string>;
}

function speakTlsToo(
  server: Server,
  identity: { key: string; cert: string },
  track: { handshake(raw: Socket): void; secured(tlsSocket: TLSSocket, raw: Socket): void },
  logger: Logger,
  stdEnvVars: boolean,
): (s: TLSSocket) => TlsFacts {
  const [httpConnection] = server.listeners('connection') as ((s: Duplex) => void)[];
  if (!httpConnection) throw new Error('node:http registered no connection listener');
  server.removeListener('connection', httpConnection);
  const cert = certificateFacts(identity.cert);
  const perConnection = new WeakMap<TLSSocket, TlsFacts>();
  const secureContext = createSecureContext({ key: identity.key, cert: identity.cert });
  server.prependListener('connection', (raw: Socket) => {
    // Until a protocol takes the connection, a reset must not go unheard (an unhandled 'error').
    const early = (): void => void raw.destroy();
    raw.on('error', early);
    raw.once('data', (first: Buffer) => {
      raw.pause();
      raw.removeListener('error', early);
      if (first[0] !== 0x16) {
        raw.unshift(first);
        httpConnection.call(server, raw);
        raw.resume();
        return;
      }
      // node:tls reads a net.Socket's handle directly and would miss the bytes already read;
      // over a stream wrapper it reads what the wrapper hands it, those bytes first.
      const wrapper = new DuplexStream({
        read: () => void raw.resume(),
        write: (chunk: Buffer, _enc, done) => void raw.write(chunk, done),
        final: (done) => {
          raw.end();
          done();
        },
        destroy: (err, done) => {
          raw.destroy(err ?? undefined);
          done(err);
        },
      });
      wrapper.push(first);
      raw.on('data', (chunk: Buffer) => {
        if (!wrapper.push(chunk)) raw.pause();
      });
      let secured = false;
      // A client that stops half-way through the handshake is gone: nothing can follow.
      raw.on('end', () => (secured ? wrapper.push(null) : raw.destroy()));
      raw.on('close', () => wrapper.destroy());
      raw.on('error', (err) => wrapper.destroy(err));
      const tlsSocket = new TLSSocket(wrapper, { isServer: true, secureContext });
      track.handshake(raw);
      // The addresses are the TCP connection's (the wrapper has none of its own).
      for (const key of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const) {
        Object.defineProperty(tlsSocket, key, { value: raw[key], configurable: true });
      }
      tlsSocket.on('error', (err: Error) => {
        logger.debug({ module: 'ssl' }, `TLS connection from ${raw.remoteAddress ?? '?'} failed: ${err.message}`);
        tlsSocket.destroy();
      });
      tlsSocket.once('secure', () => {
        secured = true;
        track.secured(tlsSocket, raw);
        httpConnection.call(server, tlsSocket);
      });
      raw.resume();
    });
  });
  return (s: TLSSocket): TlsFacts => {
    let vars = perConnection.get(s);
    if (!vars) {
      const cipher = s.getCipher();
      const lookup = sslVariables(
        {
          protocol: s.getProtocol() ?? '',
          cipher: cipher?.name ?? '',
          sessionId: randomBytes(32).toString('hex'),
          resumed: s.isSessionReused(),
          ...(typeof s.servername === 'string' && s.servername ? { serverName: s.servername } : {}),
          library: `OpenSSL/${process.versions.openssl}`,
          interface: `mod_ssl/${EMULATED_APACHE_VERSION}`,
        },
        cert,
      );
      vars = { lookup, env: sslEnvironment(lookup, stdEnvVars) };
      perConnection.set(s, vars);
    }
    return vars;
  };
}

/** The most directories ahead of a walk whose access files `prepare` looks at. */
const MAX_PREPARED_DIRS = 64;

/**
 * The directories whose access files the walk of `rawPath` reads, from `/` down (the last
 * component may be a directory too). A guess is enough: a directory missed here is read
 * where the walk meets it.
 */
/** A run-time failure's code with the catalog's advice (its summary when it has none). */
function catalogAdvice(code: ErrorCode): string {
  const entry = catalogEntry(code);
  return `${code}: ${entry.hint ?? entry.summary}`;
}

export function walkDirectories(documentRoot: string, rawPath: string): string[] {
  // Paths repeat from request to request: the list is made once per path (bounded), and is the
  // same array each time (DiskFsView.prepare remembers lists it found nothing to do for).
  let paths = walkedPaths.get(documentRoot);
  if (!paths) walkedPaths.set(documentRoot, (paths = new Map()));
  const known = paths.get(rawPath);
  if (known) return known;
  const dirs = directoriesOf(documentRoot, rawPath);
  if (paths.size >= 1024) paths.clear();
  paths.set(rawPath, dirs);
  return dirs;
}

/** Per document root (one per simulated server), per request path. */
const walkedPaths = new Map<string, Map<string, string[]>>();

function directoriesOf(documentRoot: string, rawPath: string): string[] {
  const norm = normalizeRequestPath(rawPath);
  if (!norm.ok || norm.uri.startsWith('/~')) return [];
  const parts = `${documentRoot}/${norm.uri}`.split('/').filter((p) => p !== '');
  const dirs = ['/'];
  let dir = '';
  for (const p of parts.slice(0, MAX_PREPARED_DIRS)) {
    dir += `/${p}`;
    dirs.push(dir);
  }
  return dirs;
}

/** Creates the server (not yet listening). */
export function createHttpFront(opts: HttpFrontOptions): Server {
  const { site, logger } = opts;
  // Backreferences and lookaround run on a backtracking engine: bounded, as PCRE2's match limit
  // bounds them under ap_regexec (no match at the limit).
  installRegexMatchLimit((e) =>
    logger.warn(
      { module: 'regex', pattern: e.source },
      e.reason === 'limit'
        ? `the pattern ${e.source} ran past the match limit (${REGEX_MATCH_LIMIT_MS} ms) on a ${e.subjectLength}-character subject and was taken as not matching, as Apache does at PCRE2's match limit; nested quantifiers with a backreference or lookaround backtrack without end: rewrite the pattern (e.g. [^/]+ for (.*)+)`
        : `the pattern ${e.source} was not run on a ${e.subjectLength}-character subject (${e.reason}) and was taken as not matching`,
    ),
  );
  const limits = site.requestLimits;
  const timeouts = site.readTimeouts;
  const connections = new Map<Socket, Connection>();
  const explainPrefix = opts.journal && opts.explainHeader ? `${opts.dashboard?.prefix ?? '/.htsandbox/'}r/` : undefined;
  const server = createServer(
    {
      // Every response writes core's Server field itself; with a journal it also carries its
      // record (and the explain link) from its start.
      ServerResponse: HostResponse as typeof ServerResponse,
      requireHostHeader: false,
      // Node's parser must hold any head within Apache's limits; the limits themselves are
      // checked below with Apache's answers (414, 400 with its notes).
      maxHeaderSize: maxHeadBytes(limits),
      // Reading deadlines are the host's (Timeout, RequestReadTimeout), kept by the watchdog
      // below; Node's own timers (headersTimeout checked every 30 s) would cut at other times.
      headersTimeout: 0,
      requestTimeout: 0,
      keepAliveTimeout: site.keepAliveTimeoutMs,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const conn = connections.get(req.socket);
      if (conn) {
        conn.req = req;
        conn.res = res;
        conn.fresh = false;
        conn.requestAt = startStage(conn, 'body');
      }
      new FrontRequest(req, res, conn).handle();
    },
  );
  server.maxHeadersCount = limits.fields > 0 ? limits.fields + 1 : 0;
  const tlsVariables = opts.tls
    ? speakTlsToo(
        server,
        opts.tls,
        {
          // A handshake gets Timeout to finish; then the decrypted connection is timed as any.
          handshake: (raw) => {
            connections.delete(raw);
            raw.setTimeout(timeouts.inactivityMs, () => raw.destroy());
          },
          secured: (tlsSocket, raw) => {
            raw.setTimeout(0);
            const s = tlsSocket as unknown as Socket;
            connections.set(s, newConnection(raw, raw.bytesRead));
            tlsSocket.on('close', () => connections.delete(s));
            tlsSocket.on('end', () => clientFinished(s));
            watchdog ??= setInterval(watch, tick).unref();
          },
        },
        logger,
        site.sslStdEnvVars,
      )
    : undefined;
  // A client may half-close once its request is sent (`printf … | nc`): the answer still goes
  // out, then the connection ends (Apache reads the request, answers, then sees the EOF).
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  /** Ends a request's journal record once its answer has gone out. */
  const finishRecord = (r: RequestRecord, res: ServerResponse): void => {
    if (r.reason === undefined && res.statusCode >= 400) {
      // Apache's own line says more than a generic sentence for a 500; for the rest, plain words.
      const plain = PLAIN_REASONS[res.statusCode];
      const last = r.log[r.log.length - 1];
      // The host's own error line says more than a generic sentence; an info line less.
      r.reason = last !== undefined && (res.statusCode === 500 || !plain || /:error\]/.test(last)) ? last : plain;
    }
    opts.journal?.finish(r, res.statusCode);
    opts.onRequestDone?.(r);
  };

  /**
   * One request's handling, from the head's checks to the resolver's answer. One object per
   * request with its methods on the class, in place of a handful of closures per request (the
   * request path's per-request allocations, docs/performance.md, session 11); it is also the
   * request's scope for the guard (request-guard.ts).
   */
  class FrontRequest implements RequestScope {
    readonly method: string;
    /** The request-target (its path and query once an absolute form is taken apart), for log lines. */
    url: string;
    readonly serverAdmin = site.serverAdmin;
    recovered?: boolean;
    /** The journal's record (undefined without a dashboard). */
    rec: RequestRecord | undefined = undefined;
    readonly remoteAddr: string;
    /** The connection's addresses (REMOTE_PORT and SERVER_ADDR for scripts). */
    readonly addresses: ConnectionAddresses;
    /** When the request began, for the access log (only kept when one is written). */
    readonly started: Date | undefined;
    /** The simulated server that answers (the balancer's pick with --servers). */
    server: SiteContext = site;
    facts: RequestFacts | undefined = undefined;
    /** The error logger handed to the responder (bound once: the handlers call it detached). */
    readonly log: (event: LogEvent, f: { remoteAddr: string }) => void;

    constructor(
      readonly req: IncomingMessage,
      readonly res: ServerResponse,
      readonly conn: Connection | undefined,
    ) {
      this.method = req.method ?? 'GET';
      this.url = req.url ?? '/';
      this.addresses = conn ? (conn.addresses ??= addressesOf(req.socket)) : addressesOf(req.socket);
      this.remoteAddr = this.addresses.remoteAddr;
      this.started = opts.accessLog ? new Date() : undefined;
      this.log = (event) => this.logEvent(event);
      // One listener for what every answer's end does (the connection's next stage, the journal,
      // the access log): a listener and its once-wrapper per item cost more than the items.
      (res as FrontResponse)[FRONT_REQUEST] = this;
      res.on('finish', onResponseFinish);
    }

    /** The answer has gone out: the connection reads its next head, the records end. */
    finished(): void {
      const { conn, res } = this;
      if (conn && conn.res === res) {
        conn.req = undefined;
        conn.res = undefined;
        startStage(conn, 'header');
      }
      if (this.rec) finishRecord(this.rec, res);
      if (opts.accessLog) {
        const req = this.req;
        const len = (res as HostResponse).sentContentLength();
        opts.accessLog(
          `${this.remoteAddr} - - [${accessLogTime(this.started!)}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} ${len ?? '-'} "${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}"`,
        );
      }
    }

    /** An error-log event of this request: to the journal's record and the server's log. */
    logEvent(event: LogEvent): void {
      const target = this.url;
      const line = `[${event.module}:${event.level}] [client ${this.remoteAddr}] ${event.message}`;
      // The reason in plain words first, then the host's own line. A run-time failure with a
      // catalog code and no explanation of its own gets the catalog's advice (docs/errors.md).
      const explain = event.explain ?? (event.code ? catalogAdvice(event.code) : undefined);
      const rec = this.rec;
      if (rec) {
        addLogLine(rec, line);
        if (explain) rec.reason ??= explain;
      }
      const fields = event.code ? { module: event.module, apache: line, url: target, code: event.code } : { module: event.module, apache: line, url: target };
      const level = event.level === 'alert' || event.level === 'crit' ? 'error' : event.level === 'warn' ? 'warn' : event.level === 'info' ? 'debug' : 'error';
      if (explain) logger[level === 'debug' ? 'debug' : 'warn']({ module: 'htsandbox', url: target, ...(event.code ? { code: event.code } : {}) }, explain);
      logger[level](fields, event.message);
    }

    /** Core's own error answer (ap_send_error_response's page), and the connection closes. */
    refuse(status: number, errorNotes?: string, allow?: string): void {
      const { req, res } = this;
      const page = cannedErrorPage(status, { method: this.method, serverAdmin: site.serverAdmin, signature: '', ...(errorNotes ? { errorNotes } : {}) });
      const headers: Record<string, string> = { Connection: 'close', 'Content-Type': 'text/html; charset=iso-8859-1' };
      // Apache sends its 413 (met while the body is read) without a length, ended by the close.
      if (status === 413) res.useChunkedEncodingByDefault = false;
      else headers['Content-Length'] = String(Buffer.byteLength(page, 'latin1'));
      if (allow !== undefined) headers.Allow = allow;
      res.writeHead(status, STATUS_REASONS[status] ?? '', headers);
      res.end(req.method === 'HEAD' ? undefined : Buffer.from(page, 'latin1'));
    }

    /** The guard's loud line: an exception escaped this request's handling (a bug of htsandbox). */
    report(err: unknown, outcome: string): void {
      logger.error(
        { module: 'htsandbox', err, url: this.url },
        `internal error while handling ${this.method} ${this.url} (${outcome}); the server goes on. This is a bug in htsandbox: please report it with this log line.`,
      );
    }

    /** A request on which the host's process would have crashed (not a bug of htsandbox). */
    reportHostCrash(err: HostProcessCrash): void {
      this.logEvent({ module: 'headers', level: 'error', message: `${err.message}; htsandbox closes the connection the same way`, explain: `To fix: ${err.hint}.` });
    }

    handle(): void {
      const { req, res } = this;
      let target = this.url;
      let hostHeader = req.headers.host ?? `${site.serverName}`;
      site.stats.requests++;
      // ap_read_request's checks come before anything else looks at the request.
      // The absolute form (`GET http://host/path`): ap_parse_uri takes the path, and the URI's
      // authority replaces the Host field (RFC 7230 5.4); a scheme other than http(s) is 400.
      // (An origin-form target, the usual one, starts with '/': no pattern is run on it.)
      const absolute = target.charCodeAt(0) === 47 ? null : /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(target);
      const refusal = checkRequestHead(
        {
          requestLineLength: (req.method ?? '').length + target.length + 10,
          fields: req.rawHeaders,
          httpVersion: req.httpVersion,
          targetAuthority: absolute ? absolute[2]!.replace(/^.*@/, '') : undefined,
        },
        limits,
      );
      if (refusal) {
        this.logEvent({ module: 'core', level: 'info', message: refusal.log, ...(refusal.explain ? { explain: refusal.explain } : {}) });
        this.refuse(refusal.status, refusal.errorNotes);
        return;
      }
      // ap_parse_request_line (HttpProtocolOptions Strict) refuses a target with a fragment or
      // with user information in its authority.
      if (target.includes('#') || absolute?.[2]!.includes('@')) {
        this.logEvent({
          module: 'core',
          level: 'info',
          message: `HTTP Request Line; URI must not contain a ${target.includes('#') ? 'fragment' : 'username/password'}: ${target}`,
        });
        this.refuse(400);
        return;
      }
      if (absolute) {
        if (!/^https?$/i.test(absolute[1]!)) {
          this.logEvent({
            module: 'core',
            level: 'info',
            message: `AH10388: Request header field \`Host\` / scheme of ${target} not served here (absolute URI with scheme ${absolute[1]})`,
          });
          this.refuse(400);
          return;
        }
        hostHeader = absolute[2]!;
        req.headers.host = hostHeader;
        const raw = req.rawHeaders.filter((_, i, a) => (i % 2 === 0 ? a[i]!.toLowerCase() !== 'host' : a[i - 1]!.toLowerCase() !== 'host'));
        req.rawHeaders.splice(0, req.rawHeaders.length, 'Host', hostHeader, ...raw);
        target = absolute[3] || '/';
        this.url = target;
      }
      // `OPTIONS *` asks about the server: core answers 200 with an empty body (ap_send_http_options).
      if (target === '*' && req.method === 'OPTIONS') {
        res.writeHead(200, { 'Content-Length': '0' });
        res.end();
        return;
      }
      const q = target.indexOf('?');
      const rawPath = q === -1 ? target : target.slice(0, q);
      if (opts.dashboard && opts.journal && serveDashboard(opts.backends?.servers ?? [site], opts.journal, opts.dashboard, req, res, rawPath, opts.backends?.persistence)) return;
      // The host's balancer sends the client to its server; each server has its own FastCGI processes.
      const server = opts.backends
        ? opts.backends.servers[opts.backends.persistence.route(balancerClientKey(this.remoteAddr, req.headers['x-forwarded-for'] as string | undefined), Date.now())]!
        : site;
      this.server = server;
      if (opts.journal) {
        // The record is ended by the request's one 'finish' listener (finished).
        const r = opts.journal.begin(req, res as HostResponse, req.url ?? '/');
        this.rec = r;
        r.server = server.server;
        if (explainPrefix !== undefined) (res as HostResponse).explainLink = explainPrefix + r.id;
      }
      const encrypted = tlsVariables !== undefined && (req.socket as TLSSocket).encrypted;
      const facts: RequestFacts = {
        method: this.method,
        rawPath,
        query: q === -1 ? undefined : target.slice(q + 1),
        remoteAddr: this.remoteAddr,
        remotePort: this.addresses.remotePort,
        serverAddr: this.addresses.serverAddr,
        origin: `${encrypted ? 'https' : 'http'}://${hostHeader}`,
        headers: req.headers,
        rawTarget: req.url ?? '/',
        requestTimeUs: Math.round((performance.timeOrigin + performance.now()) * 1000),
      };
      if (encrypted) {
        const tls = tlsVariables(req.socket as TLSSocket);
        facts.tls = tls.env;
        facts.sslLookup = tls.lookup;
      }
      this.facts = facts;
      let ahead: Promise<void> | undefined;
      try {
        server.fs.sync();
        // A huge .htaccess on the way is read first, in slices, so other clients go on being
        // answered meanwhile; the walk then finds it cached.
        ahead = server.fs.prepare(walkDirectories(server.documentRoot, rawPath));
      } catch (err) {
        logger.error({ err, url: target }, 'internal error while reading access files ahead of the request');
      }
      if (ahead)
        ahead.then(
          () => this.answerInScope(),
          () => this.answerInScope(),
        );
      else this.answerInScope();
    }

    /**
     * Resolves and answers, as the request's scope: an exception escaping its handling later (in
     * a stream callback) ends this response only (request-guard.ts; the serve command's process
     * handlers find it).
     */
    answerInScope(): void {
      inRequestScope(this, answerRequest, this);
    }

    answer(): void {
      const { req, res, server } = this;
      const facts = this.facts!;
      try {
        const decision = resolveRequest(server, facts);
        // LimitRequestBody (the directory's): a declared length above it is refused before any
        // handler reads or discards the body, whatever the target (ap_http_filter's check), and
        // the connection closes.
        const bodyLimit = ('config' in decision && decision.config ? dirConfigOf(decision.config) : server.serverConfig).limitRequestBody;
        const declared = req.headers['content-length'];
        if (bodyLimit > 0 && declared !== undefined && Number(declared) > bodyLimit) {
          this.logEvent({
            module: 'http',
            level: 'error',
            message: `AH01587: Requested content-length of ${declared} is larger than the configured limit of ${bodyLimit}`,
            code: 'HT504',
          });
          this.refuse(413);
          return;
        }
        respond(server, req, res, facts, decision, this.log);
      } catch (err) {
        this.recovered = true;
        if (err instanceof HostProcessCrash) endAsHostCrashes(this, err);
        else this.report(err, endFailedResponse(this));
      }
    }
  }
  const answerRequest = (r: FrontRequest): void => r.answer();

  /** Starts timing a reading stage of the connection (its progress record is reused); returns now. */
  const startStage = (conn: Connection, stage: 'header' | 'body'): number => {
    const now = Date.now();
    conn.baseline = conn.counter.bytesRead;
    const p = conn.progress;
    p.stage = stage;
    p.startedAt = now;
    p.bytes = 0;
    p.lastByteAt = now;
    return now;
  };

  // The read watchdog: one timer for all connections. A request whose head or body does not
  // arrive in time gets Apache's 408 and the connection closes; Node's event loop keeps serving
  // everyone else meanwhile, so slow clients cannot starve the server (Apache's workers can be).
  const tick = Math.max(50, Math.min(1000, Math.floor(timeouts.inactivityMs / 8)));
  let watchdog: NodeJS.Timeout | undefined;
  let lastTick = Date.now();
  const watch = (): void => {
    const now = Date.now();
    const elapsed = now - lastTick;
    lastTick = now;
    for (const [socket, conn] of connections) {
      if (conn.res && (conn.req?.complete || conn.res.headersSent)) continue; // answering, not reading
      if (conn.req && conn.req.readableLength > 0) {
        // The handler has not taken what arrived (a script not reading its input yet): the
        // client is not the slow one, and the clocks stand still (mod_reqtimeout times reads).
        conn.progress.startedAt += elapsed;
        conn.progress.lastByteAt += elapsed;
        continue;
      }
      const bytes = conn.counter.bytesRead - conn.baseline;
      if (bytes > conn.progress.bytes) {
        conn.progress.bytes = bytes;
        conn.progress.lastByteAt = now;
      }
      // An idle keep-alive connection is KeepAliveTimeout's (Node closes it); a new one is ours.
      if (!conn.res && bytes === 0 && !conn.fresh) {
        conn.progress.startedAt = now;
        conn.progress.lastByteAt = now;
        continue;
      }
      const why = readExpired(conn.progress, timeouts, now);
      if (!why) continue;
      connections.delete(socket);
      const stage = conn.progress.stage;
      if (!conn.res && bytes === 0) {
        socket.destroy();
        continue;
      }
      logger.info(
        { module: why === 'reqtimeout' ? 'reqtimeout' : 'core' },
        why === 'reqtimeout'
          ? `AH01382: Request ${stage} read timeout`
          : `AH00567: request failed: the client sent nothing for Timeout (${timeouts.inactivityMs / 1000} s) while sending the request ${stage}`,
      );
      answerAndClose(socket, rawErrorResponse(408, conn.req?.method ?? 'GET'));
      if (conn.req) conn.req.destroy();
    }
    if (connections.size === 0 && watchdog) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  };

  /**
   * The client sent FIN while its request is answered. Sent with the request (within
   * HALF_CLOSE_GRACE_MS of it: `printf … | nc -N`), it is a half-close and the answer still goes
   * out, as on Apache. Sent later, while waiting, the client has gone away (a browser's stop,
   * curl's timeout: their FIN looks the same): the connection ends, and with it the script or
   * the FastCGI request (FCGI_ABORT_REQUEST), where Apache would let it run until its output
   * met the closed connection or Timeout.
   */
  const clientFinished = (s: Socket): void => {
    const conn = connections.get(s);
    if (!conn?.res || conn.res.writableFinished) return;
    if (Date.now() - conn.requestAt > HALF_CLOSE_GRACE_MS) s.destroy();
  };

  // Every TCP connection: node:http's close*Connections() know only those it parses, not one
  // still before its first byte or in a TLS handshake, which would hold server.close() up.
  const sockets = new Set<Socket>();
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  const unparsed = (s: Socket): boolean => connections.get(s)?.fresh === true || !connections.has(s);
  server.closeIdleConnections = (): void => {
    closeIdle();
    for (const s of sockets) if (unparsed(s) && ![...connections.values()].some((c) => c.counter === s && c.res)) s.destroy();
  };
  server.closeAllConnections = (): void => {
    closeAll();
    for (const s of sockets) s.destroy();
  };

  // Track connections so shutdown can end idle keep-alive ones, and reads can be timed.
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    connections.set(s, newConnection(s, 0));
    s.on('close', () => connections.delete(s));
    s.on('end', () => clientFinished(s));
    watchdog ??= setInterval(watch, tick).unref();
  });
  server.on('close', () => {
    if (watchdog) clearInterval(watchdog);
  });

  // CONNECT (a proxy tunnel): the host loads no mod_proxy_connect, so core refuses it with 405.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    if (!/^[^/\s]+:\d+$/.test(req.url ?? '')) {
      // ap_parse_request_line: CONNECT takes an authority (`host:port`); any other target is 400.
      logger.info({ module: 'core', url: req.url }, `CONNECT ${req.url ?? ''} refused with 400: its target is not host:port`);
      answerAndClose(socket, rawErrorResponse(400, 'CONNECT'));
      return;
    }
    logger.info({ module: 'core', url: req.url }, `CONNECT ${req.url ?? ''} refused with 405: the host is not a proxy`);
    answerAndClose(socket, rawErrorResponse(405, 'CONNECT', { allow: STATIC_ALLOW }));
  });

  // A head Node's parser refuses. The answer waits for a response still in flight on the
  // connection (garbage pipelined after a script's request must not cost the script's answer).
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number }, socket: Duplex) => {
    const conn = connections.get(socket as Socket);
    connections.delete(socket as Socket);
    const inFlight = conn?.res;
    // (conn.req is cleared once the answer finishes: keep the request the error came in.)
    const reqAtError = inFlight ? conn?.req : undefined;
    // The body of the request being answered failed (bad chunks, or the client half-closed
    // before its Content-Length): the handler reading it answers with the failure, as Apache's.
    const failedReq = reqAtError && !reqAtError.complete && inFlight && !inFlight.headersSent && err.code !== 'ECONNRESET' && err.code !== 'EPIPE' ? reqAtError : undefined;
    if (failedReq) {
      const overflow = /overflow/i.test(`${(err as { reason?: string }).reason ?? ''} ${err.message}`);
      const cutShort = err.code === 'HPE_INVALID_EOF_STATE';
      reportBodyFailure(failedReq, {
        kind: cutShort ? 'cut-short' : 'bad-chunk',
        status: overflow ? 413 : 400,
        reason: cutShort ? 'the client closed before sending the whole body' : `bad chunked body: ${err.code ?? err.message}`,
      });
    }
    const answer = (): void => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
        socket.destroy();
        return;
      }
      if ((failedReq && bodyFailureAnswered(failedReq)) || (reqAtError && !reqAtError.complete)) {
        // The request whose body failed has had its answer (the failure, or one given without
        // reading the body): the connection closes after it, as nothing can follow a body that
        // cannot be framed.
        answerAndClose(socket, '');
        return;
      }
      if (err.code === 'HPE_INVALID_METHOD') {
        const line = refusedRequestLine(err.rawPacket, err.bytesParsed);
        if (line && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.method)) {
          // ap_parse_request_line (HttpProtocolOptions Strict): a method that is not a token is 400.
          logger.info(
            { module: 'core', url: line.target },
            `request failed: the method ${JSON.stringify(line.method)} is not a token (ap_parse_request_line, HttpProtocolOptions Strict)`,
          );
          answerAndClose(socket, rawErrorResponse(400, 'GET'));
          return;
        }
        if (line) {
          // Apache answers 501 for a method it does not know (and runs a script with it):
          // Node's parser accepts only the registered methods, so no script can get it here.
          logger.warn(
            { module: 'core', url: line.target },
            `method ${line.method} answered 501 Not Implemented: htsandbox's HTTP parser accepts only registered methods (GET, POST, PUT, DELETE, PATCH, OPTIONS, WebDAV, …), so it cannot pass ${line.method} to a script as Apache would; use a registered method`,
          );
          answerAndClose(socket, rawErrorResponse(501, line.method, { allow: STATIC_ALLOW }));
          return;
        }
      }
      if (err.code === 'HPE_HEADER_OVERFLOW') {
        const status = overflowStatus(err.rawPacket?.toString('latin1') ?? '', limits);
        logger.info(
          { module: 'core' },
          status === 414 ? 'request failed: request-line exceeds LimitRequestLine' : 'request failed: the header exceeds LimitRequestFieldSize or LimitRequestFields',
        );
        answerAndClose(socket, rawErrorResponse(status, 'GET', status === 400 ? { errorNotes: 'Size of a request header field exceeds server limit.' } : {}));
        return;
      }
      logger.info({ module: 'core' }, `request failed: malformed request (${err.code ?? err.message})`);
      answerAndClose(socket, rawErrorResponse(400, 'GET'));
    };
    if (inFlight && !inFlight.writableFinished && !inFlight.destroyed) {
      inFlight.once('finish', answer);
      // The connection left the watchdog: a handler still waiting for a body that will never
      // come must not hold it past Timeout.
      const stuck = setTimeout(() => socket.destroy(), timeouts.inactivityMs).unref();
      inFlight.once('close', () => {
        clearTimeout(stuck);
        if (!inFlight.writableFinished) socket.destroy();
      });
      return;
    }
    answer();
  });
  return server;
}
