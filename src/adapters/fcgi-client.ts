/**
 * FastCGI client connections. By default one connection per process is kept and reused with
 * FCGI_KEEP_CONN (libfcgi, Perl FCGI, php-cgi and flup honour it; an app that closes anyway is
 * simply reconnected). Otherwise it behaves as mod_fcgid: request id 1, PARAMS in whole pairs,
 * the empty PARAMS and STDIN terminators, END_REQUEST ends the response (php-cgi never sends the
 * empty STDOUT).
 */
import { connect, type Socket } from 'node:net';
import { encodeRecord, encodeRequest, FCGI_KEEP_CONN, FCGI_MAX_CONTENT, ParamsMemory, recordHeader, RecordDecoder, RecordType, Role } from '../grammar/fastcgi-records.js';
import { isSpooled, type RequestBody, type SpooledBody } from './request-body-spool.js';
import type { FcgiEndpoint } from '../grammar/proxy-target.js';
import { aprErrorText } from './os-errors.js';
import { FcgiTracer } from './fcgi-trace.js';
import { holdWhileErrorLogBehind } from '../vocabulary/error-log-backlog.js';
import { type OwnedObject, REQUEST_OWNER, runningRequest } from './request-owner.js';

export interface FcgiExchange {
  stdout(chunk: Buffer): void;
  /** One STDERR record's text. */
  stderr(text: string): void;
  /** END_REQUEST arrived. */
  end(): void;
  /**
   * The exchange failed before END_REQUEST (mod_fcgid's wording). `retryable` is true when a
   * reused connection failed before any reply: the app had closed it; try a new one.
   */
  error(message: string, retryable: boolean, detail?: { connected: boolean; code?: string }): void;
}

/** A socket error as Apache's log words it. */
export const errnoText = (err: NodeJS.ErrnoException): string => aprErrorText(err.code, `(${err.errno ?? 0})${err.message}`);

/**
 * A spooled request body as STDIN records on `sock`, read from its file as the socket drains,
 * then the empty STDIN record. Stops as soon as `current()` is false (the request is over).
 */
export function streamSpooledStdin(sock: Socket, requestId: number, body: SpooledBody, current: () => boolean, fail: (message: string) => void, tracer?: FcgiTracer): void {
  let position = 0;
  const next = (): void => {
    if (!current()) return;
    if (position >= body.size) {
      const end = encodeRecord(RecordType.STDIN, requestId);
      tracer?.sent(end);
      sock.write(end);
      return;
    }
    body.read(position, Math.min(FCGI_MAX_CONTENT, body.size - position), (err, data) => {
      if (!current()) return;
      if (err || data.length === 0) {
        fail(`mod_fcgid: can't read the spooled request body: ${err?.message ?? 'short file'}`);
        return;
      }
      position += data.length;
      const header = recordHeader(RecordType.STDIN, requestId, data.length);
      tracer?.sent(header, data);
      sock.write(header);
      if (sock.write(data)) next();
      else sock.once('drain', next);
    });
  };
  next();
}

/** One transport connection to one application process. */
export class FcgiConnection {
  private readonly sock: Socket;
  private decoder = new RecordDecoder();
  /** The previous request's PARAMS (successive requests on a connection repeat most pairs). */
  private readonly params = new ParamsMemory();
  private current: { on: FcgiExchange; received: boolean; keep: boolean } | undefined;
  private requests = 0;
  /** False once the connection is closed or broken. */
  alive = true;

  /** True once the transport connected (a failure before is a connect error). */
  private connected = false;

  /** Set when `--trace-fcgi` is on. */
  private readonly tracer: FcgiTracer | undefined;

  /**
   * A Unix socket path (mod_fcgid's processes) or a TCP/Unix endpoint (mod_proxy_fcgi backends);
   * `peer` names it in traces (the script and pid), else its address.
   */
  constructor(target: string | FcgiEndpoint, peer?: string) {
    const t: FcgiEndpoint = typeof target === 'string' ? { kind: 'unix', path: target } : target;
    this.tracer = FcgiTracer.open(peer ?? (t.kind === 'unix' ? `unix:${t.path}` : `fcgi://${t.host}:${t.port}`));
    this.sock = t.kind === 'unix' ? connect(t.path) : connect(t.port, t.host);
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => (this.connected = true));
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', (err: NodeJS.ErrnoException) => this.fail(`${errnoText(err)}: mod_fcgid: error reading data from FastCGI server`, err.code));
    this.sock.on('end', () => this.fail('mod_fcgid: error reading data, FastCGI server closed connection'));
    this.sock.on('close', () => this.fail('mod_fcgid: error reading data, FastCGI server closed connection'));
    this.sock.on('timeout', () => {
      // The timer stays armed between requests (re-arming it twice per request costs): a kept
      // connection that is merely idle is not timed out; the next request's write restarts it.
      if (this.current) this.fail(`mod_fcgid: read data timeout in ${Math.round(this.ioTimeoutMs / 1000)} seconds`, 'ETIMEDOUT');
    });
  }

  private ioTimeoutMs = 0;

  /** True when a request may be sent now. */
  get idle(): boolean {
    return this.alive && this.current === undefined;
  }

  private fail(message: string, code?: string): void {
    this.alive = false;
    const cur = this.current;
    this.current = undefined;
    this.sock.destroy();
    // A kept connection the app had closed fails before any reply: worth one retry. A timeout is
    // an app that hangs, not a stale connection.
    if (cur) cur.on.error(message, !cur.received && this.requests > 1 && code !== 'ETIMEDOUT', { connected: this.connected, ...(code ? { code } : {}) });
  }

  private onData(chunk: Buffer): void {
    const cur = this.current;
    if (!cur) return;
    cur.received = true;
    const r = this.decoder.push(chunk);
    for (const rec of r.records) {
      this.tracer?.received(rec);
      if (rec.type === RecordType.STDOUT) {
        if (rec.content.length) cur.on.stdout(rec.content);
      } else if (rec.type === RecordType.STDERR) {
        if (rec.content.length) cur.on.stderr(rec.content.toString('latin1'));
        // The text went to the error log: when that is behind, the application waits for it.
        holdWhileErrorLogBehind(this.sock);
      } else if (rec.type === RecordType.END_REQUEST) {
        this.current = undefined;
        this.decoder = new RecordDecoder();
        if (!cur.keep) {
          this.alive = false;
          this.sock.destroy();
        }
        cur.on.end();
        return;
      }
    }
    if (r.error) {
      this.tracer?.malformed(r.error);
      this.fail(`mod_fcgid: ${r.error}`);
    }
  }

  /** Sends one request; returns a function that aborts it (closing the connection). */
  request(params: Record<string, string>, body: RequestBody | undefined, ioTimeoutMs: number, on: FcgiExchange, keep: boolean, role: number = Role.RESPONDER): () => void {
    const spooled = body !== undefined && isSpooled(body);
    const stdin = role !== Role.RESPONDER || spooled ? null : ((body as Buffer | undefined) ?? Buffer.alloc(0));
    const wire = encodeRequest(1, role, keep ? FCGI_KEEP_CONN : 0, params, stdin, this.params);
    if (!wire) {
      queueMicrotask(() => on.error("mod_fcgid: can't init env request header", false));
      return () => undefined;
    }
    this.requests++;
    const current = { on, received: false, keep };
    this.current = current;
    // The connection now reads for this request: a throw in its record dispatch ends that
    // request's response (request-guard.ts finds it from the socket).
    (this.sock as OwnedObject)[REQUEST_OWNER] = runningRequest();
    if (this.ioTimeoutMs !== ioTimeoutMs) {
      this.ioTimeoutMs = ioTimeoutMs;
      this.sock.setTimeout(ioTimeoutMs);
    }
    this.tracer?.sentAll(wire);
    if (wire.length === 1) this.sock.write(wire[0]!);
    else {
      this.sock.cork();
      for (const b of wire) this.sock.write(b);
      this.sock.uncork();
    }
    if (spooled && role === Role.RESPONDER) {
      streamSpooledStdin(
        this.sock,
        1,
        body,
        () => this.current === current && this.alive,
        (message) => this.fail(message),
        this.tracer,
      );
    }
    return () => {
      if (this.current?.on === on) {
        // A client that goes away: mod_fcgid closes the connection (no ABORT_REQUEST).
        this.current = undefined;
        this.alive = false;
        this.sock.destroy();
      }
    };
  }

  close(): void {
    this.alive = false;
    this.sock.destroy();
  }
}
