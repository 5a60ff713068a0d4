/**
 * Incremental parser of a CGI script's response headers, as Apache's
 * `ap_scan_script_header_err_core_ex` reads them (util_script.c): lines end at `\n`, every
 * `\r` is dropped, a line longer than 8190 bytes counts as the end of output, headers end at
 * the first empty line. Apache handles each line as a C string, so a NUL ends it: `X-A: a\0b`
 * is `X-A: a`, and a line that starts with NUL is empty (the end of the header block). Pure:
 * feed it chunks of any size; FastCGI's STDOUT shares it.
 */
import { APACHE_REASONS } from './error-pages.js';

/** Apache's maximum header line (MAX_STRING_LEN - 2). */
const MAX_LINE = 8190;
/** The first window of a script's output read as text: most heads fit in it whole. */
const SMALL_WINDOW = 512;

export interface CgiHeaders {
  /** Header lines as [name, value], in order, value with leading whitespace skipped. */
  fields: [string, string][];
}

export type CgiParseEvent =
  | { kind: 'more' }
  | { kind: 'headers'; headers: CgiHeaders /** Body bytes that came with the last chunk. */; rest: Buffer }
  | { kind: 'error'; error: CgiHeaderError };

export type CgiHeaderError =
  | { type: 'no-headers' } // "End of script output before headers"
  | { type: 'premature' } // "Premature end of script headers"
  | { type: 'bad-header'; line: string }; // "malformed header from script … Bad header: …"

/** Every CR of a line dropped, as Apache does; the usual line has one, at its end. */
function withoutCarriageReturns(line: string): string {
  const cr = line.indexOf('\r');
  if (cr === -1) return line;
  return cr === line.length - 1 ? line.slice(0, cr) : line.replace(/\r/g, '');
}

export class CgiHeaderParser {
  private buffered: Buffer[] = [];
  private bufferedLength = 0;
  private readonly fields: [string, string][] = [];
  private done = false;

  /**
   * `foldContinuations`: mod_fcgid's getsfunc_fcgid_BRIGADE joins a line that starts with a
   * space or tab to the field before it (RFC 2616 4.2 folding), where util_script.c's own
   * line reader (mod_cgid) calls it a bad header. Apache sends the fold as it came; a client
   * reads it as one space, which is how it is kept here (Node cannot send a fold).
   */
  constructor(private readonly opts: { foldContinuations?: boolean } = {}) {}

  /** The fields read so far (Apache has already applied them when a later line is bad). */
  get fieldsSoFar(): readonly [string, string][] {
    return this.fields;
  }

  /** Feeds output; returns `headers` once the blank line is seen, or an error. */
  push(chunk: Buffer): CgiParseEvent {
    if (this.done) return { kind: 'more' };
    this.buffered.push(chunk);
    this.bufferedLength += chunk.length;
    const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedLength);
    // Lines are read from the bytes as latin1 text (one character per byte: offsets agree), a
    // window at a time: one conversion and string searches in place of two Buffer searches and
    // a conversion per line. The usual head fits in the first, small window; a line that does
    // not is read again in a window that holds any line Apache accepts.
    let start = 0;
    let window = SMALL_WINDOW;
    while (start < data.length) {
      const end = Math.min(data.length, start + window);
      const text = data.toString('latin1', start, end);
      let pos = 0;
      for (;;) {
        const nl = text.indexOf('\n', pos);
        if (nl === -1) break;
        // The line as a C string: it ends at its first NUL.
        let line = text.slice(pos, nl);
        pos = nl + 1;
        const nul = line.indexOf('\0');
        if (nul !== -1) line = line.slice(0, nul);
        line = withoutCarriageReturns(line);
        if (line === '') {
          this.done = true;
          return { kind: 'headers', headers: { fields: this.fields }, rest: data.subarray(start + pos) };
        }
        if (this.opts.foldContinuations && this.fields.length > 0 && (line[0] === ' ' || line[0] === '\t')) {
          const last = this.fields[this.fields.length - 1]!;
          last[1] = `${last[1]} ${line.replace(/^[ \t]+/, '')}`;
          continue;
        }
        const colon = line.indexOf(':');
        if (colon === -1) {
          this.done = true;
          return { kind: 'error', error: { type: 'bad-header', line: line.slice(0, 30) } };
        }
        let v = colon + 1;
        while (v < line.length && (line.charCodeAt(v) === 0x20 || line.charCodeAt(v) === 0x09)) v++;
        this.fields.push([line.slice(0, colon), line.slice(v)]);
      }
      start += pos;
      if (end === data.length) break;
      if (pos === 0) {
        // No line end in a whole window: a line longer than Apache reads (MAX_LINE).
        if (window > MAX_LINE) return this.tooLong();
        window = MAX_LINE + 1;
      }
    }
    if (data.length - start > MAX_LINE) return this.tooLong();
    this.buffered = data.length > start ? [Buffer.from(data.subarray(start))] : [];
    this.bufferedLength = data.length - start;
    return { kind: 'more' };
  }

  /** A line longer than MAX_LINE: util_script.c takes it as the end of the script's output. */
  private tooLong(): CgiParseEvent {
    this.done = true;
    return { kind: 'error', error: this.fields.length ? { type: 'premature' } : { type: 'no-headers' } };
  }

  /** The script's output ended: before the blank line that is an error. */
  end(): CgiParseEvent {
    if (this.done) return { kind: 'more' };
    this.done = true;
    return { kind: 'error', error: this.fields.length ? { type: 'premature' } : { type: 'no-headers' } };
  }
}

/** Apache's log text for a header error (module cgid/cgi/fcgid decides the tag). */
export function cgiHeaderErrorMessage(e: CgiHeaderError, scriptBasename: string): string {
  switch (e.type) {
    case 'no-headers':
      return `End of script output before headers: ${scriptBasename}`;
    case 'premature':
      return `Premature end of script headers: ${scriptBasename}`;
    case 'bad-header':
      return `malformed header from script '${scriptBasename}': Bad header: ${e.line}`;
  }
}

/** The catalog code of a script's header-block failure: none at all (HT501), or a refused line (HT500). */
export function cgiHeaderErrorCode(e: CgiHeaderError): 'HT500' | 'HT501' {
  return e.type === 'bad-header' ? 'HT500' : 'HT501';
}

// --- What the core output filter lets out (http_filters.c, check_headers and validate_status_line) ---

/** RFC 7230 tchar: what a field name may hold (check_header's ap_scan_http_token, strict mode). */
const NOT_TOKEN = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** Not field-content (ap_scan_http_field_content): anything but HTAB, SP, VCHAR and obs-text. */
const NOT_FIELD_CONTENT = /[^\t\x20-\x7e\x80-\xff]/;

/** A script's field that Apache's core output filter refuses (AH02428/AH02429/AH02430), or undefined. */
export function invalidResponseField(name: string, value: string): string | undefined {
  if (name === '') return 'AH02428: Empty response header name, aborting request';
  if (NOT_TOKEN.test(name)) return `AH02429: Response header name '${escapeLogText(name)}' contains invalid characters, aborting request`;
  if (NOT_FIELD_CONTENT.test(value)) return `AH02430: Response header '${escapeLogText(name)}' value of '${escapeLogText(value)}' contains invalid characters, aborting request`;
  return undefined;
}

/** Control and 8-bit bytes as `\xNN`, as ap_log_rerror escapes its arguments. */
export function escapeLogText(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\xff\\"]/g, (ch) => {
    if (ch === '\\') return '\\\\';
    if (ch === '"') return '\\"';
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** C's atoi: leading white space, a sign, digits (0 when there are none). */
export function cAtoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(s);
  if (!m) return 0;
  const n = Number(m[2]!.slice(0, 16));
  return m[1] === '-' ? -n : n;
}

export interface ScriptStatus {
  /** r->status as the script set it (atoi of the field): what the request's logic sees. */
  code: number;
  /** The status line that goes out. */
  sent: number;
  reason: string;
  /** Apache logs "Invalid status line from script" (the code is outside 100–599). */
  invalid: boolean;
  /**
   * A code Node's writeHead refuses (below 100 in a well-formed line): the server writes this
   * status line itself (Apache sends `HTTP/1.1 099 Low` as the script gave it).
   */
  unsendable?: string;
}

/**
 * A script's `Status:` field as the client sees it. util_script.c sets r->status to atoi(value)
 * and keeps the value as r->status_line; the HTTP header filter keeps that line only when it is
 * three digits then a space (or nothing) and holds no control byte (validate_status_line), and
 * otherwise sends ap_get_status_line(r->status): the standard phrase, or 500 for a code it does
 * not know (`Status: abc`, `Status: 99999`). A bare `Status: 299` goes out as `299 `.
 */
export function scriptStatus(value: string): ScriptStatus {
  const code = cAtoi(value);
  const invalid = !(code >= 100 && code < 600);
  if (/^\d{3}(?: |$)/.test(value) && !/[\x00-\x1f\x7f]/.test(value)) {
    if (code < 100) return { code, sent: code, reason: value.slice(4), invalid, unsendable: value.slice(0, 3) };
    return { code, sent: code, reason: value.slice(4), invalid };
  }
  const known = APACHE_REASONS[code];
  return known !== undefined ? { code, sent: code, reason: known, invalid } : { code, sent: 500, reason: 'Internal Server Error', invalid };
}
