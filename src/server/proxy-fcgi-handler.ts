/**
 * mod_proxy_fcgi's handler (`SetHandler "proxy:fcgi://…"`, `"proxy:unix:…|fcgi://…"`,
 * `"proxy:balancer://…"`): the request goes to a FastCGI server htsandbox does not manage
 * (php-fpm, an app listening on its own socket), as Apache 2.4 sends it. What differs from
 * mod_fcgid, each seen on Apache 2.4.71 with a raw FastCGI echo application:
 * - the environment is Apache's table as it is (no renaming), plus `proxy-nokeepalive=1`;
 *   SCRIPT_FILENAME keeps `proxy:fcgi://host[:port]` in front of the (URL-encoded) path, which
 *   PHP-FPM strips; CONTENT_LENGTH only when the request has a body;
 * - a connection per request; a backend that refuses it is a 503;
 * - the answer streams; `Location` goes out with the script's status (no internal redirect);
 *   malformed headers give a 500 with an empty body; a backend that closes without answering
 *   gives an empty 200, one whose connection is reset (a killed php-fpm child) a 503;
 * - a chunked request body over 16 KiB goes without CONTENT_LENGTH (php-fpm then reads none);
 * - each STDERR record is one `AH01071: Got error '…'` line.
 */
import { answeredBodyFailure, watchBodyFailure, type BodyFailure } from './body-failure.js';
import { FcgiConnection, type FcgiExchange } from '../adapters/fcgi-client.js';
import { isSpooled, RequestBodySpool, type RequestBody } from '../adapters/request-body-spool.js';
import { CgiHeaderParser, cgiHeaderErrorCode, cgiHeaderErrorMessage, invalidResponseField, type CgiHeaders } from '../grammar/cgi-response.js';
import { parseProxyHandler, type BalancerMember, type FcgiEndpoint } from '../grammar/proxy-target.js';
import { aprErrorText } from '../adapters/os-errors.js';
import { requestEnvironment, startResponse, type CgiContext } from './cgi-handler.js';
import { HostResponse } from './response-sink.js';
import { bindExchange } from './request-guard.js';
import { attemptsPerRequest, electMember, memberFailed } from '../engine/balancer-policy.js';

/** mod_proxy_fcgi's prefetch (MAX_MEM_SPOOL): a chunked body that fits is sent with a length. */
const PREFETCH_BYTES = 16384;

/** `ap_proxy_canonenc` for a path: these characters stay, every other byte is %XX. */
const PATH_SAFE = /[A-Za-z0-9$\-_.+!*'(),;:@&=/~]/;

function canonPath(bytes: string): string {
  let out = '';
  // A byte string (byte-strings.ts): each unit is one byte.
  for (const byte of Buffer.from(bytes, 'latin1')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && PATH_SAFE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** One STDERR record as mod_proxy_fcgi logs it: on one line, backslashes and line ends escaped. */
const stderrLine = (text: string): string => `AH01071: Got error '${text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;

/** The table a `proxy:fcgi://` backend gets: mod_proxy_fcgi's SCRIPT_FILENAME, no kept connection. */
function directTable(env: Record<string, string>, scriptFilenamePrefix: string, path: string): Record<string, string> {
  // Object.assign, not a spread that adds a field: that makes a new hidden class per request (resolve.ts, factsWith).
  return Object.assign({}, env, { 'proxy-nokeepalive': '1', SCRIPT_FILENAME: `${scriptFilenamePrefix}${canonPath(path)}` });
}

/** The table a balancer's member gets: mod_proxy_balancer's variables and the member's SCRIPT_FILENAME. */
function memberTable(env: Record<string, string>, balancerName: string, m: BalancerMember, path: string): Record<string, string> {
  return {
    ...env,
    BALANCER_NAME: balancerName,
    BALANCER_WORKER_NAME: m.url,
    BALANCER_WORKER_ROUTE: '',
    SCRIPT_FILENAME: `${m.scriptFilenamePrefix}${canonPath(path)}`,
  };
}

const describe = (e: FcgiEndpoint): string => (e.kind === 'tcp' ? `${e.host}:${e.port}` : `httpd-UDS:0`);

/** Runs one request through a `proxy:` handler. */
export function runProxyFcgi(c: CgiContext): void {
  const { req, res, decision: d } = c;
  // proxy_handler makes the request a proxied one (r->proxyreq) before anything else: the
  // backend's own Server and Date fields go out (response-sink.ts, HostResponse).
  if (res instanceof HostResponse) res.proxied = true;
  const target = parseProxyHandler(d.handler);
  if (!target || 'error' in target || target.kind === 'other') {
    c.log({ module: 'proxy', level: 'warn', message: `AH01144: No protocol handler was valid for the URL ${d.handler}` });
    req.resume();
    c.fail(500);
    return;
  }
  const spool = new RequestBodySpool(1 << 20);
  req.on('data', (chunk: Buffer) => {
    if (!spool.push(chunk, () => req.resume())) req.pause();
  });
  req.on('error', () => {
    spool.discard();
    c.sink.abort();
  });
  // The body fails on the way (bad chunks, cut short): the prefetch's read fails and its
  // status (ap_map_http_request_error) is the answer; the request never ends here.
  const take = (failure: BodyFailure): boolean => {
    if (c.sink.headSent) return false;
    spool.discard();
    c.log({ module: 'proxy', level: 'error', message: `reading the request body failed (${failure.reason})` });
    c.fail(failure.status);
    return true;
  };
  const failed = watchBodyFailure(req, take);
  if (failed) {
    answeredBodyFailure(req);
    take(failed);
  }
  req.on('end', () =>
    spool.finish((err, body) => {
      if (err) {
        c.log({ module: 'proxy_fcgi', level: 'error', message: `can't keep the request body: ${err.message}` });
        c.fail(500);
        return;
      }
      if (res.destroyed) {
        if (isSpooled(body)) body.close();
        return;
      }
      const size = isSpooled(body) ? body.size : body.length;
      const env = requestEnvironment(c, { createEnvironment: false });
      const chunked = req.headers['transfer-encoding'] !== undefined;
      if (chunked) {
        // The whole body arrived in the prefetch: it goes with a length, the chunking is gone.
        if (size <= PREFETCH_BYTES) {
          env.CONTENT_LENGTH = String(size);
          delete env.HTTP_TRANSFER_ENCODING;
        } else delete env.CONTENT_LENGTH;
      }
      if (target.kind === 'fcgi') {
        exchange(c, body, { endpoint: target.endpoint, env: directTable(env, target.scriptFilenamePrefix, d.path) });
        return;
      }
      const balancer = c.site.proxyBalancers.get(target.name);
      if (!balancer || balancer.members.length === 0) {
        c.log({
          module: 'proxy',
          level: 'warn',
          message: `AH00898: no balancer "balancer://${target.name}" is configured (add <Proxy "balancer://${target.name}"> with BalancerMember lines to the host configuration)`,
        });
        c.fail(503);
        return;
      }
      let tries = attemptsPerRequest(balancer.state);
      const name = `balancer://${target.name}`;
      // mod_proxy's loop: a member is elected for each attempt; one that fails goes into error
      // (out of rotation for its retry time) and, on a 503, the request tries another.
      const attempt = (): Attempt | undefined => {
        if (tries-- <= 0) return undefined;
        const elected = electMember(balancer.state, Date.now());
        if (!elected) {
          c.log({ module: 'proxy_balancer', level: 'error', message: `AH01170: ${name}: All workers are in error state` });
          return undefined;
        }
        const index = elected.index;
        const m = balancer.members[index]!;
        return {
          endpoint: m.endpoint,
          env: memberTable(env, name, m, d.path),
          failed: (refused) => {
            memberFailed(balancer.state, index, Date.now());
            if (refused)
              c.log({
                module: 'proxy',
                level: 'error',
                message: `AH00959: ap_proxy_connect_backend disabling worker for (${describe(m.endpoint).replace(/:0$/, '')}) for ${Math.round(m.retryMs / 1000)}s`,
              });
          },
          next: attempt,
        };
      };
      const first = attempt();
      if (!first) {
        closeSpooled(body);
        c.fail(503);
        return;
      }
      exchange(c, body, first);
    }),
  );
}

/** One backend to try, with the environment it is sent. */
interface Attempt {
  endpoint: FcgiEndpoint;
  env: Record<string, string>;
  /**
   * A balancer member's attempt was a 503 (`refused`: the connection, which
   * ap_proxy_connect_backend logs): the member goes into error.
   */
  failed?: (refused: boolean) => void;
  /** The request's next attempt after a 503, if it has one (a balancer's next member). */
  next?: () => Attempt | undefined;
}

function closeSpooled(body: RequestBody): void {
  if (isSpooled(body)) body.close();
}

function exchange(c: CgiContext, body: RequestBody, attempt: Attempt): void {
  const { res, sink, decision: d } = c;
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  const closeBody = (): void => closeSpooled(body);
  const { endpoint, env } = attempt;
  const conn = new FcgiConnection(endpoint);
  const parser = new CgiHeaderParser();
  let headers: CgiHeaders | undefined;
  let streaming = false;
  let done = false;
  const finish = (keepBody = false): void => {
    done = true;
    conn.close();
    if (!keepBody) closeBody();
  };
  const on: FcgiExchange = bindExchange({
    stdout: (chunk) => {
      if (done) return;
      if (headers) {
        if (streaming) sink.data(chunk);
        return;
      }
      const ev = parser.push(chunk);
      if (ev.kind === 'more') return;
      if (ev.kind === 'error') {
        c.log({ module: 'proxy_fcgi', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
        c.log({ module: 'proxy_fcgi', level: 'error', message: 'AH01070: Error parsing script headers' });
        finish();
        // The handler itself answers this 500 (an empty one): the member stays in rotation. The
        // scan had already set the Content-Type of a line before the bad one (ap_set_content_type).
        emptyAnswer(c, 500, contentTypeOf(parser.fieldsSoFar));
        return;
      }
      headers = ev.headers;
      streaming = startResponse(c, headers, env, { locationRedirects: false, module: 'proxy_fcgi' }) === 'stream';
      if (streaming && ev.rest.length) sink.data(ev.rest);
    },
    stderr: (text) => c.log({ module: 'proxy_fcgi', level: 'error', message: stderrLine(text) }),
    end: () => {
      if (done) return;
      finish();
      if (!headers) {
        // No header block at all is an empty 200; one cut short is a 500.
        const ev = parser.end();
        if (ev.kind === 'error' && ev.error.type !== 'no-headers') {
          c.log({ module: 'proxy_fcgi', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
          emptyAnswer(c, 500);
        } else emptyAnswer(c, 200);
        return;
      }
      if (streaming) sink.end();
    },
    error: (message, _retryable, detail) => {
      if (done) return;
      const refused = detail !== undefined && !detail.connected;
      // A 503 (refused, or reset before an answer) puts a balancer member in error, and the
      // request goes on to the next member while it has attempts left.
      const unavailable = refused || (!headers && detail?.code !== undefined && detail.code !== 'ETIMEDOUT');
      if (unavailable) attempt.failed?.(refused);
      const another = unavailable ? attempt.next?.() : undefined;
      finish(another !== undefined);
      if (refused) {
        if (another) {
          c.log({ module: 'proxy', level: 'error', message: `AH00957: FCGI: attempt to connect to ${describe(endpoint)} failed` });
          exchange(c, body, another);
          return;
        }
        const errno = aprErrorText(detail.code, `(${detail.code ?? 'error'})`);
        c.log({ module: 'proxy', level: 'error', message: `${errno}: AH00957: FCGI: attempt to connect to ${describe(endpoint)} failed` });
        c.log({
          module: 'proxy_fcgi',
          level: 'error',
          message: `AH01079: failed to make connection to backend: ${endpoint.kind === 'tcp' ? endpoint.host : 'httpd-UDS'}`,
          code: 'HT503',
          explain: `Nothing accepts FastCGI connections at ${endpoint.kind === 'tcp' ? `${endpoint.host}:${endpoint.port}` : endpoint.path}: start the FastCGI server (e.g. php-fpm) there, or fix the address in the SetHandler line.`,
        });
        c.fail(503);
        return;
      }
      if (headers) {
        // Part of the answer went out: it is cut off.
        c.log({ module: 'proxy_fcgi', level: 'error', message: `AH01075: Error dispatching request to ${describe(endpoint)}: ${message.replace(/: mod_fcgid.*$/, '')}` });
        sink.abort();
        return;
      }
      if (detail?.code === 'ETIMEDOUT') {
        // Silent past the timeout (ProxyTimeout, which defaults to Timeout): a 504.
        c.log({ module: 'proxy_fcgi', level: 'error', message: `${aprErrorText('ETIMEDOUT', '')}: AH01075: Error dispatching request to ${describe(endpoint)}:`, code: 'HT502' });
        c.fail(504);
        return;
      }
      if (detail?.code !== undefined) {
        // A reset (a backend process killed mid-request): a 503, or a balancer's next member.
        c.log({ module: 'proxy_fcgi', level: 'error', message: 'AH01067: Failed to read FastCGI header' });
        c.log({ module: 'proxy_fcgi', level: 'error', message: `${message.replace(/: mod_fcgid.*$/, '')}: AH01075: Error dispatching request to ${describe(endpoint)}:` });
        if (another) {
          exchange(c, body, another);
          return;
        }
        c.fail(503);
        return;
      }
      // The backend closed the connection without a word: Apache answers an empty 200.
      emptyAnswer(c, 200);
    },
  });
  conn.request(env, body, c.site.timeoutMs, on, false);
  res.on('close', () => {
    if (!res.writableFinished && !done) finish();
  });
}

/**
 * A `proxy:` handler run as a sub-request (a listing's HeaderName / ReadmeName): the request
 * goes to the backend without a body, and what it answers is collected, not sent. Seen on
 * Apache 2.4: the body goes into the page whatever the Status or Location (mod_proxy_fcgi
 * follows no Location); a backend that answers nothing is an empty body; one that cannot be
 * reached (a 503) or answers a malformed header block (a 500) fails the sub-request.
 * A balancer's member is elected once; one that fails goes into error, no other is tried.
 */
export function proxyFcgiOutput(
  c: Pick<CgiContext, 'site' | 'decision' | 'log'>,
  env: Record<string, string>,
  maxBytes: number,
): Promise<{ fields: [string, string][]; body: Buffer } | undefined> {
  const d = c.decision;
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  const target = parseProxyHandler(d.handler);
  let endpoint: FcgiEndpoint;
  let failed: (() => void) | undefined;
  if (!target || 'error' in target || target.kind === 'other') {
    c.log({ module: 'proxy', level: 'warn', message: `AH01144: No protocol handler was valid for the URL ${d.handler}` });
    return Promise.resolve(undefined);
  }
  if (target.kind === 'fcgi') {
    endpoint = target.endpoint;
    env = directTable(env, target.scriptFilenamePrefix, d.path);
  } else {
    const balancer = c.site.proxyBalancers.get(target.name);
    const elected = balancer ? electMember(balancer.state, Date.now()) : undefined;
    if (!balancer || !elected) return Promise.resolve(undefined);
    const m = balancer.members[elected.index]!;
    endpoint = m.endpoint;
    failed = () => memberFailed(balancer.state, elected.index, Date.now());
    env = memberTable(env, `balancer://${target.name}`, m, d.path);
  }
  return new Promise((resolve) => {
    const conn = new FcgiConnection(endpoint);
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (output: { fields: [string, string][]; body: Buffer } | undefined): void => {
      conn.close();
      resolve(output);
    };
    const on: FcgiExchange = bindExchange({
      stdout: (chunk) => {
        if (size >= maxBytes) return;
        chunks.push(chunk);
        size += chunk.length;
      },
      stderr: (text) => c.log({ module: 'proxy_fcgi', level: 'error', message: stderrLine(text) }),
      end: () => {
        const parser = new CgiHeaderParser();
        let ev = parser.push(Buffer.concat(chunks));
        if (ev.kind === 'more') ev = parser.end();
        if (ev.kind === 'error' && ev.error.type !== 'no-headers') {
          c.log({ module: 'proxy_fcgi', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
          settle(undefined);
          return;
        }
        settle(ev.kind === 'headers' ? { fields: ev.headers.fields, body: ev.rest } : { fields: [], body: Buffer.alloc(0) });
      },
      error: (message, _retryable, detail) => {
        const refused = detail !== undefined && !detail.connected;
        if (refused) failed?.();
        const what = refused ? `AH00957: FCGI: attempt to connect to ${describe(endpoint)} failed` : `AH01075: Error dispatching request to ${describe(endpoint)}: ${message}`;
        c.log({ module: 'proxy', level: 'error', message: `${what} (a listing's sub-request)` });
        settle(undefined);
      },
    });
    conn.request(env, Buffer.alloc(0), c.site.timeoutMs, on, false);
  });
}

/** The last Content-Type among a script's fields, if it is one a response may carry. */
function contentTypeOf(fields: readonly [string, string][]): string | undefined {
  let type: string | undefined;
  for (const [name, value] of fields) if (name.toLowerCase() === 'content-type') type = value.replace(/\s+$/, '');
  return type !== undefined && invalidResponseField('Content-Type', type) === undefined ? type : undefined;
}

/** An answer with no body and Content-Length 0 (what mod_proxy_fcgi leaves when it has none). */
function emptyAnswer(c: CgiContext, status: number, contentType?: string): void {
  if (c.sink.headSent) {
    c.sink.abort();
    return;
  }
  c.sink.scriptlessHeaders(c.decision, 'both');
  c.sink.whole(status, contentType !== undefined ? { 'Content-Type': contentType, 'Content-Length': '0' } : { 'Content-Length': '0' });
}
