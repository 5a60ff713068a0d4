/**
 * Incremental parser of a CGI script's response headers, as Apache's
 * `ap_scan_script_header_err_core_ex` reads them (util_script.c): lines end at `\n`, every
 * `\r` is dropped, a line longer than 8190 bytes counts as the end of output, headers end at
 * the first empty line. Pure: feed it chunks of any size; FastCGI's STDOUT shares it.
 */

/** Apache's maximum header line (MAX_STRING_LEN - 2). */
const MAX_LINE = 8190;

export interface CgiHeaders {
  /** Header lines as [name, value], in order, value with leading whitespace skipped. */
  fields: [string, string][];
}

export type CgiParseEvent =
  | { kind: 'more' }
  | { kind: 'headers'; headers: CgiHeaders; /** Body bytes that came with the last chunk. */ rest: Buffer }
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

  /** Feeds output; returns `headers` once the blank line is seen, or an error. */
  push(chunk: Buffer): CgiParseEvent {
    if (this.done) return { kind: 'more' };
    this.buffered.push(chunk);
    this.bufferedLength += chunk.length;
    let data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedLength);
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) break;
      const from = start;
      start = nl + 1;
      if (nl - from > MAX_LINE) {
        this.done = true;
        return { kind: 'error', error: this.fields.length ? { type: 'premature' } : { type: 'no-headers' } };
      }
      const line = withoutCarriageReturns(data.toString('latin1', from, nl));
      if (line === '') {
        this.done = true;
        return { kind: 'headers', headers: { fields: this.fields }, rest: data.subarray(start) };
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
    data = data.subarray(start);
    if (data.length > MAX_LINE) {
      this.done = true;
      return { kind: 'error', error: this.fields.length ? { type: 'premature' } : { type: 'no-headers' } };
    }
    this.buffered = data.length ? [Buffer.from(data)] : [];
    this.bufferedLength = data.length;
    return { kind: 'more' };
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
