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

/** Where trace lines go from now on (undefined: tracing off, for connections opened later). */
export function setFcgiTraceSink(s: FcgiTraceSink | undefined): void {
  sink = s;
}

/** One connection's trace: what was written is decoded again, so records split across writes read whole. */
export class FcgiTracer {
  private readonly outgoing = new RecordDecoder();

  private constructor(
    private readonly peer: string,
    private readonly to: FcgiTraceSink,
  ) {}

  /** A tracer for a new connection when tracing is on. */
  static open(peer: string): FcgiTracer | undefined {
    return sink ? new FcgiTracer(peer, sink) : undefined;
  }

  /** Buffers as they are written, in order (a record may span several). */
  sent(...buffers: Buffer[]): void {
    for (const b of buffers) for (const rec of this.outgoing.push(b).records) this.to({ peer: this.peer, direction: 'sent', record: describeRecord(rec) });
  }

  received(rec: FcgiRecord): void {
    this.to({ peer: this.peer, direction: 'received', record: describeRecord(rec) });
  }

  /** What arrived is not FastCGI (the decoder's reason). */
  malformed(reason: string): void {
    this.to({ peer: this.peer, direction: 'received', record: `not a FastCGI record: ${reason}` });
  }
}
