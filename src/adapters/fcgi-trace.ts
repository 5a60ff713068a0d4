/**
 * `serve --trace-fcgi`: every FastCGI record htsandbox sends to or reads from an application,
 * in words, to the error log. Off, it costs one test per connection: a connection takes a
 * tracer only when a sink is set.
 */
import { describeRecord } from '../grammar/fastcgi-describe.js';
import { RecordDecoder, type FcgiRecord } from '../grammar/fastcgi-records.js';

export interface FcgiTraceLine {
  /** The application: `hello.fcgi[1234]` (script and pid), or an external server's address. */
  peer: string;
  direction: 'sent' | 'received';
  /** The record in words (grammar/fastcgi-describe.ts). */
  record: string;
}

export type FcgiTraceSink = (line: FcgiTraceLine) => void;

let sink: FcgiTraceSink | undefined;
/** Bumped whenever tracing is switched: a connection's half-decoded outgoing record is dropped then. */
let generation = 0;

/** Where trace lines go from now on (undefined: tracing off); connections already open follow too. */
export function setFcgiTraceSink(s: FcgiTraceSink | undefined): void {
  sink = s;
  generation++;
}

/**
 * One connection's trace: what was written is decoded again, so records split across writes read
 * whole. Every connection has one (tracing can be switched on while connections are kept, from
 * the dashboard); while it is off each call is one test.
 */
export class FcgiTracer {
  private outgoing = new RecordDecoder();
  private seen = generation;

  private constructor(private readonly peer: string) {}

  static open(peer: string): FcgiTracer {
    return new FcgiTracer(peer);
  }

  /** Buffers as they are written, in order (a record may span several). */
  sent(...buffers: Buffer[]): void {
    const to = sink;
    if (!to) return;
    if (this.seen !== generation) {
      this.seen = generation;
      this.outgoing = new RecordDecoder();
    }
    for (const b of buffers) for (const rec of this.outgoing.push(b).records) to({ peer: this.peer, direction: 'sent', record: describeRecord(rec) });
  }

  /** A request's buffers as one write (no argument list is built while tracing is off). */
  sentAll(buffers: readonly Buffer[]): void {
    if (sink) this.sent(...buffers);
  }

  received(rec: FcgiRecord): void {
    sink?.({ peer: this.peer, direction: 'received', record: describeRecord(rec) });
  }

  /** What arrived is not FastCGI (the decoder's reason). */
  malformed(reason: string): void {
    sink?.({ peer: this.peer, direction: 'received', record: `not a FastCGI record: ${reason}` });
  }
}
