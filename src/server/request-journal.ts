/**
 * What the dashboard (and its JSON API) shows: the recent requests with the reason for every
 * error, FastCGI process spawns and exits with their reasons, CGI spawn counts. Kept in
 * bounded rings, so a long-running server holds the last few hundred of each, never more.
 * Credentials never enter it: header values and environment entries are redacted on the way in.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostResponse } from './response-sink.js';
import { capLogLine } from '../grammar/log-lines.js';

/** One request as the dashboard lists it. */
export interface RequestRecord {
  /** Increasing id; `/.htsandbox/r/<id>` shows the request. */
  id: number;
  /** Milliseconds since the epoch when the request arrived. */
  time: number;
  method: string;
  url: string;
  /** 0 until the answer is sent. */
  status: number;
  /** What answered: a handler name (`cgi-script`, `fcgid-script`, `proxy:…`), `static`, `autoindex`, `error`, `redirect`. */
  handler: string;
  /** The simulated back-end server that answered (1 until `--servers` exists). */
  server: number;
  /** The script's or FastCGI application's process, when one answered. */
  pid?: number | undefined;
  /** Milliseconds from arrival to the end of the answer; undefined while in flight. */
  durationMs?: number | undefined;
  /** For an error, or a request something went wrong for: what happened, in plain words. */
  reason?: string | undefined;
  /** The error log lines the request produced (Apache's wording), in order. */
  log: string[];
  /** The request's raw header fields as Node read them; shown through recordHeaders (redacted). */
  rawHeaders: readonly string[];
  /** The FastCGI records exchanged for it, in words, when recording was on (at most 200). */
  fcgiRecords?: string[] | undefined;
}

/** A FastCGI process event: spawned, exited, replaced code, killed for a limit. */
export interface ProcessEvent {
  time: number;
  /** `spawn`, `exit`, `stale`, `limit`, `output`… (from the pool's log line). */
  kind: string;
  message: string;
  pid?: number;
  app?: string;
}

const MAX_REQUESTS = 300;
const MAX_EVENTS = 200;
/** Error-log lines kept per request, and characters per line: the error log has them all. */
const MAX_LOG_LINES = 50;
const MAX_LOG_LINE = 2048;
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token)$/i;
const SECRET_NAME = /pass|secret|token|auth|cookie|key|session/i;

/** Replaces what looks like a credential by a marker (header and variable names decide). */
export function redactValue(name: string, value: string): string {
  if (SECRET_HEADER.test(name) || SECRET_NAME.test(name)) return value === '' ? '' : '[redacted]';
  return value;
}

/** Counters kept whether or not a journal is on (the process's CGI spawns). */
export const journalCounters = { cgiSpawns: 0 };

/** The dashboard's record of a request, when a journal is on. */
export function recordOf(res: ServerResponse): RequestRecord | undefined {
  return (res as Partial<HostResponse>).record;
}

/**
 * The log of a record with no error-log line yet, shared: most requests log nothing, and every
 * object a record holds is copied by each young collection while the ring keeps the record.
 */
const NO_LINES: string[] = Object.freeze([]) as unknown as string[];

/** How many error-log lines of a request the journal did not keep. */
const logLinesNotKept = new WeakMap<RequestRecord, number>();

/**
 * Adds an error-log line to a request's record, bounded: a script may write megabytes to
 * stderr, and the journal holds hundreds of records. Past MAX_LOG_LINES, the last entry says
 * how many more lines went to the error log only.
 */
export function addLogLine(rec: RequestRecord, line: string): void {
  if (rec.log === NO_LINES) rec.log = [];
  if (rec.log.length < MAX_LOG_LINES) {
    // A copy, not a slice: a slice would keep the whole chunk of script output it came from.
    rec.log.push(Buffer.from(capLogLine(line, MAX_LOG_LINE)).toString());
    return;
  }
  const notKept = (logLinesNotKept.get(rec) ?? 0) + 1;
  logLinesNotKept.set(rec, notKept);
  rec.log[MAX_LOG_LINES] = `… ${notKept} more line${notKept === 1 ? '' : 's'}: see the error log`;
}

/** A record's request header fields, credentials redacted (at most 100 fields). */
export function recordHeaders(rec: RequestRecord): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = rec.rawHeaders;
  for (let i = 0; i + 1 < raw.length && i < 200; i += 2) headers[raw[i]!] = redactValue(raw[i]!, raw[i + 1]!);
  return headers;
}

/** The requests and process events of one running server, with listeners for live views. */
export class RequestJournal {
  private nextId = 1;
  /** The last MAX_REQUESTS records, a ring: slot `id % MAX_REQUESTS` (no shifting per request). */
  private readonly ring: (RequestRecord | undefined)[] = new Array(MAX_REQUESTS).fill(undefined);
  private readonly events: ProcessEvent[] = [];
  private readonly listeners = new Set<(what: 'request' | 'process' | 'shutdown') => void>();
  /** Whether FastCGI records are being kept per request (the dashboard's switch, or --trace-fcgi). */
  recordingFcgi = false;
  /** Called when the dashboard switches FastCGI recording (the server then sets the trace sink). */
  onRecordingChange: (on: boolean) => void = () => undefined;

  /** Switches keeping FastCGI records per request. */
  setRecordingFcgi(on: boolean): void {
    if (this.recordingFcgi === on) return;
    this.recordingFcgi = on;
    this.onRecordingChange(on);
    this.emit('process');
  }

  /**
   * A FastCGI record in words, from the tracer: it joins the in-flight request(s) answered by
   * that process (`name[pid]`), or by that external server when no pid is known.
   */
  fcgiRecord(peer: string, direction: 'sent' | 'received', record: string): void {
    const pid = Number(/\[(\d+)\]$/.exec(peer)?.[1]);
    const text = `${direction === 'sent' ? '<-' : '->'} ${record}`;
    for (let id = this.nextId - 1, seen = 0; id > 0 && id >= this.nextId - MAX_REQUESTS && seen < 64; id--) {
      const r = this.ring[id % MAX_REQUESTS]!;
      if (r.status !== 0) continue;
      seen++;
      if (pid ? r.pid === pid : r.handler.startsWith('proxy:')) {
        const list = (r.fcgiRecords ??= []);
        if (list.length < 200) list.push(text);
      }
    }
  }

  /** CGI processes started since the process started. */
  get cgiSpawns(): number {
    return journalCounters.cgiSpawns;
  }

  /** Starts the record of a request (called as it arrives). */
  begin(req: IncomingMessage, res: HostResponse, url: string): RequestRecord {
    // The fields are kept as Node read them and redacted when shown: every request pays here.
    const id = this.nextId++;
    // Every field from the start, optional ones undefined: a record keeps one hidden class all
    // its life (adding `pid` or `durationMs` later gave records two or three shapes, and every
    // site that reads them a polymorphic access).
    const rec: RequestRecord = {
      id,
      time: Date.now(),
      method: req.method ?? 'GET',
      url,
      status: 0,
      handler: '',
      server: 1,
      pid: undefined,
      durationMs: undefined,
      reason: undefined,
      log: NO_LINES,
      rawHeaders: req.rawHeaders,
      fcgiRecords: undefined,
    };
    this.ring[id % MAX_REQUESTS] = rec;
    res.record = rec;
    return rec;
  }

  /** Ends a request's record with its status. */
  finish(rec: RequestRecord, status: number): void {
    rec.status = status;
    rec.durationMs = Date.now() - rec.time;
    this.emit('request');
  }

  get(id: number): RequestRecord | undefined {
    const r = Number.isInteger(id) && id > 0 ? this.ring[id % MAX_REQUESTS] : undefined;
    return r?.id === id ? r : undefined;
  }

  /** Newest first. */
  recent(limit = MAX_REQUESTS): RequestRecord[] {
    const out: RequestRecord[] = [];
    for (let id = this.nextId - 1; id > 0 && out.length < Math.min(limit, MAX_REQUESTS); id--) out.push(this.ring[id % MAX_REQUESTS]!);
    return out;
  }

  /** Newest first. */
  processEvents(limit = MAX_EVENTS): ProcessEvent[] {
    return this.events.slice(-limit).reverse();
  }

  /** Records a line of the process pool's log as an event (spawns, exits and their reasons). */
  processEvent(message: string, fields: Record<string, unknown> | undefined): void {
    const kind = /started$/.test(message)
      ? 'spawn'
      : /exited|ended|killed|gone|terminated/.test(message)
        ? 'exit'
        : /changed on disk|replaced|older than/.test(message)
          ? 'stale'
          : fields?.appOutput
            ? 'output'
            : 'note';
    const pid = typeof fields?.pid === 'number' ? fields.pid : Number(/\((\d+)\)/.exec(message)?.[1]) || undefined;
    const app = typeof fields?.app === 'string' ? fields.app : undefined;
    this.events.push({ time: Date.now(), kind, message, ...(pid ? { pid } : {}), ...(app ? { app } : {}) });
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.emit('process');
  }

  /** Calls `fn` on each change until the returned function is called. */
  listen(fn: (what: 'request' | 'process' | 'shutdown') => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells live views the server is stopping (they end their streams). */
  endStreams(): void {
    this.emit('shutdown');
  }

  private emit(what: 'request' | 'process' | 'shutdown'): void {
    // Every request ends here; a live view is rarely open.
    if (this.listeners.size === 0) return;
    for (const fn of this.listeners) fn(what);
  }
}
