/**
 * A multiplexed FastCGI connection (`HtsandboxFcgidMultiplex On`): several requests at once on
 * one connection, each with its own request id, as the spec allows and neither Apache nor
 * lighttpd does. FCGI_GET_VALUES asks the application first whether it multiplexes
 * (FCGI_MPXS_CONNS) and how many requests it takes (FCGI_MAX_REQS); a client that goes away gets
 * an FCGI_ABORT_REQUEST instead of a closed connection.
 */
import { connect, type Socket } from 'node:net';
import { decodeEndRequest, decodePairs, encodePair, encodeRecord, encodeRequest, FCGI_KEEP_CONN, RecordDecoder, RecordType, Role } from '../grammar/fastcgi-records.js';
import { errnoText, streamSpooledStdin, type FcgiExchange } from './fcgi-client.js';
import { isSpooled, type RequestBody } from './request-body-spool.js';
import { FcgiTracer } from './fcgi-trace.js';
import { holdWhileErrorLogBehind } from '../vocabulary/error-log-backlog.js';

/** What FCGI_GET_VALUES learned: how many requests the application takes at once on a connection. */
export interface MuxCapacity {
  multiplexes: boolean;
  maxRequests: number;
}

/** FCGI_MAX_REQS when an application says it multiplexes but not how much. */
const DEFAULT_MAX_REQS = 16;
/** The request ids a connection hands out (the spec allows 1..65535). */
const MAX_ID = 65535;

/** Asks an application (its listening socket) what FCGI_GET_VALUES says; gives up after `timeoutMs`. */
export function queryCapacity(socketPath: string, timeoutMs: number, done: (c: MuxCapacity) => void, peer?: string): void {
  const sock = connect(socketPath);
  const decoder = new RecordDecoder();
  const tracer = FcgiTracer.open(peer ?? `unix:${socketPath}`);
  let finished = false;
  const finish = (c: MuxCapacity): void => {
    if (finished) return;
    finished = true;
    sock.destroy();
    done(c);
  };
  const no: MuxCapacity = { multiplexes: false, maxRequests: 1 };
  sock.setTimeout(timeoutMs, () => finish(no));
  sock.on('error', () => finish(no));
  sock.on('close', () => finish(no));
  sock.on('data', (chunk: Buffer) => {
    const r = decoder.push(chunk);
    for (const rec of r.records) {
      tracer?.received(rec);
      if (rec.type === RecordType.GET_VALUES_RESULT) {
        const values = new Map(decodePairs(rec.content) ?? []);
        const mpxs = values.get('FCGI_MPXS_CONNS') === '1';
        const max = Number.parseInt(values.get('FCGI_MAX_REQS') ?? '', 10);
        finish({ multiplexes: mpxs, maxRequests: mpxs ? Math.max(1, Math.min(Number.isFinite(max) ? max : DEFAULT_MAX_REQS, MAX_ID)) : 1 });
        return;
      }
      if (rec.type === RecordType.UNKNOWN_TYPE) finish(no);
    }
    if (r.error) finish(no);
  });
  const ask = Buffer.concat([encodePair('FCGI_MPXS_CONNS', ''), encodePair('FCGI_MAX_REQS', ''), encodePair('FCGI_MAX_CONNS', '')]);
  const question = encodeRecord(RecordType.GET_VALUES, 0, ask);
  tracer?.sent(question);
  sock.write(question);
}

/** One multiplexed connection to one application process. */
export class FcgiMuxConnection {
  private readonly sock: Socket;
  private readonly decoder = new RecordDecoder();
  private readonly inflight = new Map<number, { on: FcgiExchange; aborted: boolean }>();
  private nextId = 1;
  alive = true;

  /** Set when `--trace-fcgi` is on. */
  private readonly tracer: FcgiTracer | undefined;

  /** `peer` names the application in traces (script and pid). */
  constructor(socketPath: string, peer?: string) {
    this.tracer = FcgiTracer.open(peer ?? `unix:${socketPath}`);
    this.sock = connect(socketPath);
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', (err: NodeJS.ErrnoException) => this.fail(`${errnoText(err)}: mod_fcgid: error reading data from FastCGI server`, err.code));
    this.sock.on('close', () => this.fail('mod_fcgid: error reading data, FastCGI server closed connection'));
  }

  get active(): number {
    return this.inflight.size;
  }

  private fail(message: string, code?: string): void {
    this.alive = false;
    this.sock.destroy();
    const all = [...this.inflight.values()];
    this.inflight.clear();
    for (const r of all) r.on.error(message, false, { connected: true, ...(code ? { code } : {}) });
  }

  private onData(chunk: Buffer): void {
    const r = this.decoder.push(chunk);
    for (const rec of r.records) {
      this.tracer?.received(rec);
      const req = this.inflight.get(rec.requestId);
      if (!req) continue; // a late answer to an aborted request, or a management record
      if (rec.type === RecordType.STDOUT) {
        if (rec.content.length && !req.aborted) req.on.stdout(rec.content);
      } else if (rec.type === RecordType.STDERR) {
        if (rec.content.length && !req.aborted) req.on.stderr(rec.content.toString('latin1'));
        // The text went to the error log: when that is behind, the application waits for it.
        holdWhileErrorLogBehind(this.sock);
      } else if (rec.type === RecordType.END_REQUEST) {
        this.inflight.delete(rec.requestId);
        const end = decodeEndRequest(rec.content);
        // An aborted request ends here too: its caller learns the id is free again.
        if (!req.aborted && end && end.protocolStatus !== 0)
          req.on.error(`mod_fcgid: the application refused the request (protocol status ${end.protocolStatus})`, false, { connected: true });
        else req.on.end();
      }
    }
    if (r.error) {
      this.tracer?.malformed(r.error);
      this.fail(`mod_fcgid: ${r.error}`);
    }
  }

  /** Sends one request on its own id; returns a function that aborts it with FCGI_ABORT_REQUEST. */
  request(params: Record<string, string>, body: RequestBody | undefined, ioTimeoutMs: number, on: FcgiExchange): () => void {
    let id = this.nextId;
    while (this.inflight.has(id)) id = (id % MAX_ID) + 1;
    this.nextId = (id % MAX_ID) + 1;
    const spooled = body !== undefined && isSpooled(body);
    const wire = encodeRequest(id, Role.RESPONDER, FCGI_KEEP_CONN, params, spooled ? null : ((body as Buffer | undefined) ?? Buffer.alloc(0)));
    if (!wire) {
      queueMicrotask(() => on.error("mod_fcgid: can't init env request header", false));
      return () => undefined;
    }
    const entry = { on, aborted: false };
    this.inflight.set(id, entry);
    // The connection's timeout covers silence from the application while anything is in flight.
    this.sock.setTimeout(ioTimeoutMs, () => {
      if (this.inflight.size) this.fail(`mod_fcgid: read data timeout in ${Math.round(ioTimeoutMs / 1000)} seconds`);
    });
    this.tracer?.sentAll(wire);
    this.sock.cork();
    for (const b of wire) this.sock.write(b);
    this.sock.uncork();
    if (spooled)
      streamSpooledStdin(
        this.sock,
        id,
        body,
        () => this.inflight.get(id) === entry && !entry.aborted && this.alive,
        (message) => this.fail(message),
        this.tracer,
      );
    // After an abort the exchange still ends (END_REQUEST, or the connection failing): only then
    // is the request's place on the connection free.
    return () => {
      if (this.inflight.get(id) !== entry || entry.aborted) return;
      // The client went away: the application is told, the connection stays for the others.
      entry.aborted = true;
      if (!this.alive) return;
      const abort = encodeRecord(RecordType.ABORT_REQUEST, id);
      this.tracer?.sent(abort);
      this.sock.write(abort);
    };
  }

  close(): void {
    this.alive = false;
    this.sock.destroy();
  }
}
