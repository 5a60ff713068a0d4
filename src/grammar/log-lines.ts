/**
 * Script output on its way to the error log, cut into bounded lines (pure, no I/O).
 *
 * Apache formats every error-log entry into a MAX_STRING_LEN (8192-byte) buffer
 * (server/log.c, `log_error_core` → `apr_vsnprintf`), and mod_cgi reads a script's stderr with
 * `apr_file_gets` into a HUGE_STRING_LEN (8192) buffer (`log_script_err`): no line of script
 * output reaches its log longer than about 8 KiB. We keep the same bound, and say how much was
 * cut, so that one script writing a megabyte without a newline costs at most 8 KiB of memory.
 */

/** The longest piece of one script line that is logged (Apache's MAX_STRING_LEN). */
export const MAX_LOGGED_LINE = 8192;

/** `line` cut to `max` characters, with a note of how many were left out. */
export function capLogLine(line: string, max = MAX_LOGGED_LINE): string {
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length - max} bytes more)`;
}

/**
 * Splits a stream of bytes into `\n`-ended lines (latin1 text, one character a byte), holding
 * at most `max` characters of a line not yet ended: the rest of a longer line is counted, not
 * kept. It reads the chunk where it is and makes a string of each line only: a string of the
 * whole chunk (64 KiB) would outlive many young-generation collections under a flood of
 * stderr and make V8 grow its young generation.
 */
export class BoundedLineSplitter {
  private rest = '';
  private restCut = 0;

  constructor(private readonly max = MAX_LOGGED_LINE) {}

  /** Feeds a chunk; `line` is called for every line it ends (without its `\n`). */
  push(chunk: Buffer, line: (text: string) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.take(chunk, start, nl);
      line(this.takeLine());
      start = nl + 1;
    }
    this.take(chunk, start, chunk.length);
  }

  /** The stream ended: an unfinished last line is still a line. */
  end(line: (text: string) => void): void {
    if (this.rest || this.restCut) line(this.takeLine());
  }

  private take(chunk: Buffer, from: number, to: number): void {
    const kept = Math.max(0, Math.min(this.max - this.rest.length, to - from));
    if (kept > 0) this.rest += chunk.toString('latin1', from, from + kept);
    this.restCut += to - from - kept;
  }

  private takeLine(): string {
    const line = this.restCut ? `${this.rest}… (${this.restCut} bytes more)` : this.rest;
    this.rest = '';
    this.restCut = 0;
    return line;
  }
}
