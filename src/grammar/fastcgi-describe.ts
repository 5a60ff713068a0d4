/**
 * One FastCGI record in words, for `serve --trace-fcgi`: what a teacher shows when explaining
 * the protocol (the spec's names, request ids, the pairs of PARAMS, a preview of stream data).
 * Pure.
 */
import { decodeEndRequest, decodePairs, ProtocolStatus, RecordType, Role, type FcgiRecord } from './fastcgi-records.js';

const TYPE_NAMES = new Map<number, string>(Object.entries(RecordType).map(([name, n]) => [n, name]));
const ROLE_NAMES = new Map<number, string>(Object.entries(Role).map(([name, n]) => [n, name]));
const PROTOCOL_STATUS_NAMES = new Map<number, string>(Object.entries(ProtocolStatus).map(([name, n]) => [n, name]));

/** Longest preview of stream data, and of one PARAMS value. */
const PREVIEW = 80;
const VALUE_PREVIEW = 60;

/** Bytes as a quoted string with control characters escaped (C style), cut at `max` bytes. */
export function previewBytes(data: Buffer, max = PREVIEW): string {
  let out = '';
  const end = Math.min(data.length, max);
  for (let i = 0; i < end; i++) {
    const b = data[i]!;
    if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `"${out}"${data.length > max ? `… (${data.length - max} more bytes)` : ''}`;
}

function shortValue(v: string): string {
  return v.length > VALUE_PREVIEW ? `${v.slice(0, VALUE_PREVIEW)}…` : v;
}

function describeContent(rec: FcgiRecord): string {
  const c = rec.content;
  switch (rec.type) {
    case RecordType.BEGIN_REQUEST: {
      if (c.length < 8) return `malformed (${c.length} bytes of 8)`;
      const role = c.readUInt16BE(0);
      const flags = c[2]!;
      return `role ${ROLE_NAMES.get(role) ?? role}, ${flags & 1 ? 'FCGI_KEEP_CONN' : 'no FCGI_KEEP_CONN (close after the request)'}`;
    }
    case RecordType.END_REQUEST: {
      const end = decodeEndRequest(c);
      if (!end) return `malformed (${c.length} bytes of 8)`;
      return `appStatus ${end.appStatus}, ${PROTOCOL_STATUS_NAMES.get(end.protocolStatus) ?? `protocolStatus ${end.protocolStatus}`}`;
    }
    case RecordType.UNKNOWN_TYPE:
      return c.length ? `the peer does not know type ${c[0]}` : 'malformed (empty)';
    case RecordType.ABORT_REQUEST:
      return 'the client went away';
    case RecordType.PARAMS:
    case RecordType.GET_VALUES:
    case RecordType.GET_VALUES_RESULT: {
      if (c.length === 0) return rec.type === RecordType.PARAMS ? 'empty: end of PARAMS' : 'empty';
      const pairs = decodePairs(c);
      if (!pairs) return `${c.length} bytes, not whole name-value pairs`;
      const list = pairs.map(([n, v]) => (rec.type === RecordType.GET_VALUES ? n : `${n}=${shortValue(v)}`)).join(' ');
      return `${c.length} bytes, ${pairs.length} pair${pairs.length === 1 ? '' : 's'}: ${list}`;
    }
    default:
      // STDIN, STDOUT, STDERR, DATA: a stream; its empty record ends it.
      return c.length === 0 ? `empty: end of ${TYPE_NAMES.get(rec.type) ?? 'stream'}` : `${c.length} bytes ${previewBytes(c)}`;
  }
}

/** E.g. `STDOUT #1 45 bytes "Content-Type: text/plain\r\n\r\nHello"`. */
export function describeRecord(rec: FcgiRecord): string {
  return `${TYPE_NAMES.get(rec.type) ?? `type ${rec.type}`} #${rec.requestId} ${describeContent(rec)}`;
}
