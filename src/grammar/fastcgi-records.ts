/**
 * FastCGI 1.0 records (the spec's §3 and appendix A), as pure functions over Buffers: an
 * encoder that never puts more than 65535 bytes of content in a record and never splits a
 * name-value pair across PARAMS records, and an incremental decoder that gives the same
 * records for any chunking of its input.
 */

export const FCGI_VERSION = 1;
export const FCGI_HEADER_LEN = 8;
export const FCGI_MAX_CONTENT = 0xffff;

export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;
export const FCGI_KEEP_CONN = 1;

export const ProtocolStatus = { REQUEST_COMPLETE: 0, CANT_MPX_CONN: 1, OVERLOADED: 2, UNKNOWN_ROLE: 3 } as const;

export interface FcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

/** A record header with no padding (the content follows separately). */
export function recordHeader(type: number, requestId: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  writeHeader(h, 0, type, requestId, length);
  return h;
}

/** One record (no padding: some peers reject content+padding over 65535). */
export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  if (content.length > FCGI_MAX_CONTENT) throw new RangeError('record content over 65535 bytes');
  return Buffer.concat([recordHeader(type, requestId, content.length), content]);
}

/** A stream (STDIN, STDOUT …) split into records of at most 65535 bytes, without its terminator. */
export function encodeStream(type: number, requestId: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += FCGI_MAX_CONTENT) {
    out.push(encodeRecord(type, requestId, data.subarray(i, i + FCGI_MAX_CONTENT)));
  }
  return out;
}

export function encodeBeginRequest(requestId: number, role: number, flags: number): Buffer {
  const record = Buffer.allocUnsafe(2 * FCGI_HEADER_LEN);
  writeBeginRequest(record, 0, requestId, role, flags);
  return record;
}

/** A BEGIN_REQUEST record at `off`: its header, the role, the flags, five reserved bytes. */
function writeBeginRequest(out: Buffer, at: number, requestId: number, role: number, flags: number): number {
  const off = writeHeader(out, at, RecordType.BEGIN_REQUEST, requestId, 8);
  out[off] = role >>> 8;
  out[off + 1] = role & 0xff;
  out[off + 2] = flags;
  for (let i = 3; i < 8; i++) out[off + i] = 0;
  return off + 8;
}

/** One name-value pair (1-byte lengths below 128, 4-byte otherwise, as mod_fcgid writes them). */
export function encodePair(name: string, value: string): Buffer {
  const out = Buffer.allocUnsafe(lengthSize(name.length) + lengthSize(value.length) + name.length + value.length);
  let off = putLength(out, 0, name.length);
  off = putLength(out, off, value.length);
  off += out.write(name, off, 'latin1');
  out.write(value, off, 'latin1');
  return out;
}

/**
 * PARAMS records for an environment: pairs packed into records of at most 65535 bytes, never
 * split (php-cgi resets the connection, ruby-fcgi corrupts silently). Returns undefined when a
 * single pair is larger than one record can hold. The empty terminator is not included.
 */
export function encodeParams(requestId: number, env: Readonly<Record<string, string>>): Buffer[] | undefined {
  const layout = layoutParams(env);
  if (!layout) return undefined;
  const out = Buffer.allocUnsafe(layout.bytes);
  writeParams(out, 0, requestId, layout);
  const records: Buffer[] = [];
  let off = 0;
  for (const text of layout.texts) {
    records.push(out.subarray(off, off + FCGI_HEADER_LEN + text.length));
    off += FCGI_HEADER_LEN + text.length;
  }
  return records;
}

/**
 * The PARAMS records' content: each record's pairs as one latin1 string (one byte per UTF-16
 * unit, as Buffer.from(s, 'latin1')), so a string's byte length is its length and the whole
 * request can be sized before it is written.
 */
interface ParamsLayout {
  texts: string[];
  /** All PARAMS records with their headers. */
  bytes: number;
}

const lengthSize = (n: number): number => (n < 0x80 ? 1 : 4);

/** A pair length as latin1 characters (one byte below 128, else four with the top bit set). */
const SHORT_LENGTHS = Array.from({ length: 0x80 }, (_, n) => String.fromCharCode(n));
const lengthChars = (n: number): string => (n < 0x80 ? SHORT_LENGTHS[n]! : String.fromCharCode(((n >>> 24) & 0x7f) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));

// One pass over the environment (an object of many keys: each for-in over it costs), the pairs
// joined into one string per record and written with one call: a Buffer.write per name and per
// value made encoding 4× slower (3.7 µs against 0.8 µs for a typical request, in a loop).
function layoutParams(env: Readonly<Record<string, string>>): ParamsLayout | undefined {
  const texts: string[] = [];
  let text = '';
  let bytes = 0;
  for (const k in env) {
    const v = env[k]!;
    const pair = lengthSize(k.length) + lengthSize(v.length) + k.length + v.length;
    if (pair > FCGI_MAX_CONTENT) return undefined;
    if (text.length + pair > FCGI_MAX_CONTENT) {
      texts.push(text);
      bytes += FCGI_HEADER_LEN + text.length;
      text = '';
    }
    text += lengthChars(k.length) + lengthChars(v.length) + k + v;
  }
  if (text.length > 0) {
    texts.push(text);
    bytes += FCGI_HEADER_LEN + text.length;
  }
  return { texts, bytes };
}

// Bytes stored one by one: Buffer's writeUInt16BE goes through Node's argument-checking wrapper,
// about 200 instructions a call, and a request writes several headers.
function writeHeader(out: Buffer, off: number, type: number, requestId: number, length: number): number {
  out[off] = FCGI_VERSION;
  out[off + 1] = type;
  out[off + 2] = requestId >>> 8;
  out[off + 3] = requestId & 0xff;
  out[off + 4] = length >>> 8;
  out[off + 5] = length & 0xff;
  out[off + 6] = 0;
  out[off + 7] = 0;
  return off + FCGI_HEADER_LEN;
}

function writeParams(out: Buffer, off: number, requestId: number, layout: ParamsLayout): number {
  for (const text of layout.texts) {
    off = writeHeader(out, off, RecordType.PARAMS, requestId, text.length);
    off += out.write(text, off, 'latin1');
  }
  return off;
}

/**
 * One connection's previous PARAMS, pair by pair. A process class's successive requests share
 * most of their variables (server, document root, script, PATH): a run of pairs equal to the
 * previous request's, in the same places, is copied as bytes instead of being encoded again.
 * Encoding each pair had been the largest part of building a FastCGI request.
 */
export class ParamsMemory {
  /** Pairs in the previous request (0: nothing to reuse). */
  count = 0;
  names: string[] = [];
  values: string[] = [];
  /**
   * Where each pair starts in `bytes`; one more entry, the end. A typed array, grown as needed:
   * a plain array's element stores here went through a generic store stub on every pair.
   */
  starts: Uint32Array = new Uint32Array(64);
  /** The starts being written for the current request (the two arrays swap). */
  spare: Uint32Array = new Uint32Array(64);
  /** The previous request's pairs as sent (a view of its request buffer). */
  bytes: Buffer | undefined;

  forget(): void {
    this.count = 0;
    this.bytes = undefined;
  }
}

/** Where the pairs of one PARAMS record are put together (one record at most). */
const PAIRS_SCRATCH = Buffer.allocUnsafe(FCGI_MAX_CONTENT);

/**
 * Bytes `from`..`to` of `src` into `out` at `at`. TypedArray#set with a plain view: Buffer#copy
 * and Buffer#subarray check their arguments in JavaScript first, about 900 instructions a call.
 */
function copyBytes(src: Uint8Array, from: number, to: number, out: Uint8Array, at: number): void {
  out.set(new Uint8Array(src.buffer, src.byteOffset + from, to - from), at);
}

function putLatin1(out: Buffer, off: number, s: string): number {
  if (s.length > 48) return off + out.write(s, off, 'latin1');
  for (let j = 0; j < s.length; j++) out[off + j] = s.charCodeAt(j);
  return off + s.length;
}

function putLength(out: Buffer, off: number, n: number): number {
  if (n < 0x80) {
    out[off] = n;
    return off + 1;
  }
  out[off] = ((n >>> 24) & 0x7f) | 0x80;
  out[off + 1] = (n >>> 16) & 0xff;
  out[off + 2] = (n >>> 8) & 0xff;
  out[off + 3] = n & 0xff;
  return off + 4;
}

/**
 * The pairs of `env` into PAIRS_SCRATCH, runs equal to the previous request's copied from its
 * bytes; their length, or -1 when they do not fit in one record (the memory is then forgotten).
 */
function writeRememberedPairs(env: Readonly<Record<string, string>>, m: ParamsMemory): number {
  const prev = m.bytes;
  const prevCount = prev ? m.count : 0;
  const oldStarts = m.starts;
  let newStarts = m.spare;
  const out = PAIRS_SCRATCH;
  let off = 0;
  let i = 0;
  let runFrom = -1;
  let runTo = -1;
  for (const k in env) {
    const v = env[k]!;
    if (i < prevCount && m.names[i] === k && m.values[i] === v) {
      if (runFrom < 0) runFrom = oldStarts[i]!;
      newStarts[i] = off + (oldStarts[i]! - runFrom);
      runTo = oldStarts[i + 1]!;
    } else {
      if (runFrom >= 0) {
        off = appendRun(prev!, runFrom, runTo, out, off);
        if (off < 0) {
          m.forget();
          return -1;
        }
        runFrom = -1;
      }
      const size = lengthSize(k.length) + lengthSize(v.length) + k.length + v.length;
      if (off + size > FCGI_MAX_CONTENT) {
        m.forget();
        return -1;
      }
      if (i + 1 >= newStarts.length) m.spare = newStarts = grown(newStarts);
      newStarts[i] = off;
      off = putLength(out, off, k.length);
      off = putLength(out, off, v.length);
      off = putLatin1(out, off, k);
      off = putLatin1(out, off, v);
      m.names[i] = k;
      m.values[i] = v;
    }
    i++;
  }
  if (runFrom >= 0) {
    off = appendRun(prev!, runFrom, runTo, out, off);
    if (off < 0) {
      m.forget();
      return -1;
    }
  }
  newStarts[i] = off;
  m.count = i;
  m.starts = newStarts;
  m.spare = oldStarts;
  return off;
}

/** A run of the previous request's pairs after `off`; the new end, or -1 when the record would overflow. */
function appendRun(prev: Buffer, from: number, to: number, out: Buffer, off: number): number {
  if (off + to - from > FCGI_MAX_CONTENT) return -1;
  copyBytes(prev, from, to, out, off);
  return off + to - from;
}

/** Twice the room, the starts kept. */
function grown(starts: Uint32Array): Uint32Array {
  const more = new Uint32Array(starts.length * 2);
  more.set(starts);
  return more;
}

/** A STDIN body of at most this size travels in the same buffer as the request's head. */
const INLINE_BODY = 4 * FCGI_MAX_CONTENT;

/**
 * A whole request as the client sends it: BEGIN_REQUEST, the PARAMS records and their empty
 * terminator, then (unless `stdin` is null, as for the Authorizer role) the body as STDIN records
 * and the empty STDIN. Small requests come back as one buffer (one write); a large body's bytes
 * are not copied, only framed. Undefined when one pair cannot fit in a record.
 */
export function encodeRequest(
  requestId: number,
  role: number,
  flags: number,
  env: Readonly<Record<string, string>>,
  stdin: Buffer | null,
  memory?: ParamsMemory,
): Buffer[] | undefined {
  // One PARAMS record, its pairs written with the memory of the previous request; else the
  // general layout (several records, or no memory).
  const remembered = memory ? writeRememberedPairs(env, memory) : -1;
  const layout = remembered < 0 ? layoutParams(env) : undefined;
  if (remembered < 0 && !layout) return undefined;
  const paramsBytes = layout ? layout.bytes : remembered > 0 ? FCGI_HEADER_LEN + remembered : 0;
  const body = stdin ?? Buffer.alloc(0);
  const inline = body.length <= INLINE_BODY;
  const bodyRecords = Math.ceil(body.length / FCGI_MAX_CONTENT);
  const headBytes = 2 * FCGI_HEADER_LEN + paramsBytes + FCGI_HEADER_LEN + (stdin === null ? 0 : inline ? bodyRecords * FCGI_HEADER_LEN + body.length + FCGI_HEADER_LEN : 0);
  const head = Buffer.allocUnsafe(headBytes);
  let off = writeBeginRequest(head, 0, requestId, role, flags);
  if (layout) off = writeParams(head, off, requestId, layout);
  else if (remembered > 0) {
    off = writeHeader(head, off, RecordType.PARAMS, requestId, remembered);
    copyBytes(PAIRS_SCRATCH, 0, remembered, head, off);
    // The request's buffer is never written again once sent: the next request copies from it.
    memory!.bytes = head.subarray(off, off + remembered);
    off += remembered;
  }
  off = writeHeader(head, off, RecordType.PARAMS, requestId, 0);
  if (stdin === null) return [head];
  if (inline) {
    for (let i = 0; i < body.length; i += FCGI_MAX_CONTENT) {
      const part = body.subarray(i, i + FCGI_MAX_CONTENT);
      off = writeHeader(head, off, RecordType.STDIN, requestId, part.length);
      off += part.copy(head, off);
    }
    writeHeader(head, off, RecordType.STDIN, requestId, 0);
    return [head];
  }
  return [head, ...encodeStreamFrames(RecordType.STDIN, requestId, body), recordHeader(RecordType.STDIN, requestId, 0)];
}

/** A stream's records as header and content buffers, the content not copied. */
function encodeStreamFrames(type: number, requestId: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += FCGI_MAX_CONTENT) {
    const part = data.subarray(i, i + FCGI_MAX_CONTENT);
    out.push(recordHeader(type, requestId, part.length), part);
  }
  return out;
}

/** Decodes name-value pairs; undefined when the bytes are not a whole number of pairs. */
export function decodePairs(buf: Buffer): [string, string][] | undefined {
  const out: [string, string][] = [];
  let i = 0;
  const readLen = (): number | undefined => {
    if (i >= buf.length) return undefined;
    const b = buf[i]!;
    if (b < 0x80) {
      i += 1;
      return b;
    }
    if (i + 4 > buf.length) return undefined;
    const n = buf.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < buf.length) {
    const nl = readLen();
    const vl = readLen();
    if (nl === undefined || vl === undefined || i + nl + vl > buf.length) return undefined;
    out.push([buf.toString('latin1', i, i + nl), buf.toString('latin1', i + nl, i + nl + vl)]);
    i += nl + vl;
  }
  return out;
}

/** END_REQUEST's body. */
export function decodeEndRequest(content: Buffer): { appStatus: number; protocolStatus: number } | undefined {
  if (content.length < 8) return undefined;
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4]! };
}

export type DecodeResult = { records: FcgiRecord[]; error?: string };

const EMPTY = Buffer.alloc(0);

/** Incremental decoder: push chunks of any size, get whole records out. */
export class RecordDecoder {
  private pending: Buffer = EMPTY;
  private failed: string | undefined;

  push(chunk: Buffer): DecodeResult {
    if (this.failed) return { records: [], error: this.failed };
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const records: FcgiRecord[] = [];
    let off = 0;
    while (buf.length - off >= FCGI_HEADER_LEN) {
      const version = buf[off]!;
      const type = buf[off + 1]!;
      if (version !== FCGI_VERSION) {
        this.failed = `bad FastCGI record version ${version}`;
        break;
      }
      if (type < 1 || type > 11) {
        this.failed = `unknown FastCGI record type ${type}`;
        break;
      }
      const requestId = (buf[off + 2]! << 8) | buf[off + 3]!;
      const length = (buf[off + 4]! << 8) | buf[off + 5]!;
      const padding = buf[off + 6]!;
      const total = FCGI_HEADER_LEN + length + padding;
      if (buf.length - off < total) break;
      // A view, not a copy: the content goes on to the client as it is.
      records.push({ type, requestId, content: buf.subarray(off + FCGI_HEADER_LEN, off + FCGI_HEADER_LEN + length) });
      off += total;
    }
    this.pending = off === buf.length ? EMPTY : buf.subarray(off);
    return this.failed ? { records, error: this.failed } : { records };
  }

  /** Bytes of an incomplete record left over (non-zero at EOF means a truncated stream). */
  get leftover(): number {
    return this.pending.length;
  }
}
