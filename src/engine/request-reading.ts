/**
 * How the host reads a request off the connection, as plain decisions: the size limits core
 * puts on the request line and header fields (LimitRequestLine, LimitRequestFieldSize,
 * LimitRequestFields), and how long a client may take to send its request (core's `Timeout`,
 * and mod_reqtimeout's `RequestReadTimeout` when the host loads it). Pure: the server feeds it
 * lengths, byte counts and clock readings.
 */
import { checkHostField } from './host-field.js';
import type { ReadStage } from '../modules/reqtimeout.js';

/** Core's request size limits (server config only; Apache's defaults below). */
export interface RequestLimits {
  /** LimitRequestLine: bytes of the request line (default 8190). */
  line: number;
  /** LimitRequestFieldSize: bytes of one header field line (default 8190). */
  fieldSize: number;
  /** LimitRequestFields: number of header fields (default 100; 0: no limit). */
  fields: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { line: 8190, fieldSize: 8190, fields: 100 };

/** Why a request head is refused before anything else looks at it. */
export interface HeadRefusal {
  status: 400 | 414;
  /** The `error-notes` Apache's 400 page shows (none for 414). */
  errorNotes?: string;
  /** The error-log line (Apache's AH code and words). */
  log: string;
  /** What it means and what to do, in plain words (when Apache's line does not say). */
  explain?: string;
}

/**
 * read_request_line and ap_get_mime_headers_core (server/protocol.c): each line is read with
 * ap_rgetline into a buffer of limit + 2 bytes, so a line (without its CRLF) of limit + 1
 * bytes still fits and one of limit + 2 is refused (verified against Apache 2.4: an 8191-byte
 * request line is read, an 8192-byte one gets 414; likewise for a header field).
 */
export function checkRequestHead(
  head: {
    requestLineLength: number;
    /** The header fields as Node reads them: name, value, name, value… (no array per field). */
    fields: readonly string[];
    /** The request line's version (`1.1`); given, the Host checks of ap_read_request apply. */
    httpVersion?: string;
    /** The authority of an absolute-form target (`GET http://host/…`): it stands for Host. */
    targetAuthority?: string | undefined;
  },
  limits: RequestLimits,
): HeadRefusal | undefined {
  if (head.requestLineLength > limits.line + 1) {
    return { status: 414, log: `AH00565: request failed: client's request-line exceeds LimitRequestLine (longer than ${limits.line})` };
  }
  const fields = head.fields;
  if (limits.fields > 0 && fields.length / 2 > limits.fields) {
    return {
      status: 400,
      errorNotes: "The number of request header fields exceeds this server's limit.",
      log: `AH00563: request failed: error reading the headers (more than LimitRequestFields ${limits.fields} fields)`,
    };
  }
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    // "Name: value": the line as the client sent it, less the optional spaces Node dropped.
    if (name.length + 2 + fields[i + 1]!.length > limits.fieldSize + 1) {
      return {
        status: 400,
        errorNotes: 'Size of a request header field exceeds server limit.',
        log: `AH00561: Size of a request header field exceeds server limit (field ${name}, LimitRequestFieldSize ${limits.fieldSize})`,
      };
    }
  }
  if (head.httpVersion === undefined) return undefined;
  return checkHost(head.httpVersion, fields, head.targetAuthority) ?? checkTransferEncoding(fields);
}

/**
 * ap_read_request (server/protocol.c, RFC 7230 3.3.3): a Transfer-Encoding whose codings do not
 * end with `chunked` (ap_is_chunked) cannot be framed: 400, AH02539.
 */
function checkTransferEncoding(fields: readonly string[]): HeadRefusal | undefined {
  // Every request passes here: names are lowered only when their length matches.
  let values: string[] | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') (values ??= []).push(fields[i + 1]!);
  }
  if (values === undefined) return undefined;
  const codings = values
    .join(',')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  // (Apache answers `chunked, chunked` too, read once: only the last coding matters here.)
  if (codings[codings.length - 1] === 'chunked') return undefined;
  return { status: 400, log: `AH02539: client sent unknown Transfer-Encoding (${values.join(', ')})` };
}

/**
 * The Host checks of ap_read_request and ap_update_vhost_from_headers (server/protocol.c,
 * server/vhost.c) under the default `HttpProtocolOptions Strict`: an explicit HTTP/0.9 request
 * line is refused; an HTTP/1.1 request needs a non-empty Host (or an absolute-form target),
 * AH00569; the name goes through fix_hostname: apr_parse_addr_port takes a trailing `:port`
 * (1-65535), an IPv6 literal must be bracketed hex, `..`, `/` and `\` are refused (AH00550),
 * and strict_hostname_check allows only letters, digits, `-`, `_` and `.`, which also refuses
 * two Host fields (apr_table_get joins them with ", ") and purely numeric names (AH02416).
 */
function checkHost(httpVersion: string, fields: readonly string[], targetAuthority: string | undefined): HeadRefusal | undefined {
  const bad = (log: string): HeadRefusal => ({ status: 400, log });
  if (httpVersion === '0.9') return bad('HTTP Request Line; Unsupported HTTP protocol HTTP/0.9 (an explicit HTTP/0.9 version is refused)');
  // The Host field is found without building arrays: every request passes here.
  let host = targetAuthority;
  if (host === undefined) {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      if (name.length === 4 && name.toLowerCase() === 'host') host = host === undefined ? fields[i + 1]! : `${host}, ${fields[i + 1]!}`;
    }
  }
  if (host === undefined || host === '') {
    const [major, minor] = httpVersion.split('.').map(Number);
    return (major ?? 0) > 1 || (major === 1 && (minor ?? 0) >= 1) ? bad('AH00569: client sent HTTP/1.1 request without hostname (see RFC7230 section 5.4)') : undefined;
  }
  // The name itself is fix_hostname's (host-field.ts, remembered per value).
  const verdict = checkHostField(host);
  if (verdict.ok) return undefined;
  const code = verdict.reason.startsWith('[strict] purely') ? 'AH02416' : verdict.reason.startsWith('[strict]') ? 'AH02415' : 'AH00550';
  return {
    ...bad(`${code}: ${verdict.reason}`),
    explain: `The request's Host (${JSON.stringify(host)}) is not a host name Apache accepts (HttpProtocolOptions Strict): the client must send a DNS name or an IP address, with an optional :port.`,
  };
}

/** Where a raw head that overflowed the parser's buffer went wrong: its request line or a field. */
export function overflowStatus(rawHead: string, limits: RequestLimits): 400 | 414 {
  const eol = rawHead.indexOf('\n');
  const lineLength = (eol === -1 ? rawHead.length : eol) - (rawHead[eol - 1] === '\r' ? 1 : 0);
  return eol === -1 || lineLength > limits.line + 1 ? 414 : 400;
}

/** The biggest head a request within `limits` can have (the parser's buffer must hold it). */
export function maxHeadBytes(limits: RequestLimits): number {
  const fields = limits.fields > 0 ? limits.fields + 1 : 1000;
  return limits.line + 3 + fields * (limits.fieldSize + 3) + 2;
}

/** How long a client may take: core's Timeout always, mod_reqtimeout's stages when loaded. */
export interface ReadTimeouts {
  /** Core's `Timeout`: the longest a single read may wait (ms). */
  inactivityMs: number;
  /** mod_reqtimeout's stages (undefined: the module is not loaded). */
  header?: ReadStage;
  body?: ReadStage;
}

/** What the server knows of one stage of reading a request. */
export interface ReadProgress {
  stage: 'header' | 'body';
  /** When the stage began (ms). */
  startedAt: number;
  /** Bytes received since it began. */
  bytes: number;
  /** When a byte last arrived (ms). */
  lastByteAt: number;
}

/**
 * Whether reading has taken too long at `now`: no byte for Timeout, or past mod_reqtimeout's
 * deadline for the stage: its timeout, extended by one second per MinRate bytes received
 * (extend_timeout), never past the stage's maximum when it has one.
 */
export function readExpired(p: ReadProgress, t: ReadTimeouts, now: number): 'inactivity' | 'reqtimeout' | undefined {
  if (now - p.lastByteAt >= t.inactivityMs) return 'inactivity';
  const stage = p.stage === 'header' ? t.header : t.body;
  if (!stage || stage.initialMs === 0) return undefined;
  let deadline = p.startedAt + stage.initialMs + (stage.minRate > 0 ? (p.bytes * 1000) / stage.minRate : 0);
  if (stage.maxMs > stage.initialMs) deadline = Math.min(deadline, p.startedAt + stage.maxMs);
  else if (stage.minRate === 0) deadline = p.startedAt + stage.initialMs;
  return now >= deadline ? 'reqtimeout' : undefined;
}
