/**
 * Apache's config line reader (`ap_varbuf_cfg_getline` → `ap_cfg_getline_core`, then
 * `cfg_trim_line`, server/util.c), as a pure function over the file's text.
 *
 * The text is expected in latin1 form (one char per byte), so byte-level rules such as the
 * 8190-character limit and the BOM behave as they do in Apache.
 */

/** Where one piece of a logical line came from, for mapping columns back to physical lines. */
export interface LineSegment {
  /** Offset in the (untrimmed) logical line where this physical piece starts. */
  logicalStart: number;
  /** 1-based physical line number. */
  line: number;
}

/** One logical line: physical lines joined at `\` + newline, then trimmed. */
export interface LogicalLine {
  /** The trimmed text, as Apache hands it to the directive builder. */
  text: string;
  /** 1-based number of the first physical line. */
  line: number;
  /** 1-based number of the last physical line (differs with continuations). */
  endLine: number;
  /** Offset of `text` inside the untrimmed joined line. */
  trimOffset: number;
  segments: LineSegment[];
}

/** A line Apache refuses to read. */
export interface LineTooLong {
  /** Physical line number Apache reports ("Error reading … at line N"). */
  line: number;
}

/**
 * Line limits: `.htaccess` files get Apache's HUGE_STRING_LEN (8192) buffer, main config 16 MiB.
 * Measured against Apache 2.4 (fixtures/htaccess/line-*): a line of 8191 characters before its
 * newline (a CR counts) is read, 8192 is "Line too long"; a last line without newline may
 * have 8192. The manual's "8190" is two short.
 */
export const HTACCESS_MAX_LINE = 8191;
export const SERVER_CONFIG_MAX_LINE = 16 * 1024 * 1024 - 2;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** Maps an offset inside `LogicalLine.text` to a physical line and 1-based column. */
export function positionOf(l: LogicalLine, textOffset: number): { line: number; column: number } {
  const off = textOffset + l.trimOffset;
  let seg = l.segments[0]!;
  for (const s of l.segments) {
    if (s.logicalStart <= off) seg = s;
    else break;
  }
  return { line: seg.line, column: off - seg.logicalStart + 1 };
}

/**
 * Reads every logical line. Stops at the first line that is too long, as Apache does
 * (the rest of the file is never read); that line is returned as `tooLong`.
 */
export function readLogicalLines(text: string, maxLine: number = HTACCESS_MAX_LINE): { lines: LogicalLine[]; tooLong?: LineTooLong } {
  const steps = readLogicalLinesSteps(text, maxLine);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/** Lines read between two pauses of `readLogicalLinesSteps`. */
const READ_SLICE = 1024;

/** `readLogicalLines` in slices of about READ_SLICE lines (same result), for huge files. */
export function* readLogicalLinesSteps(text: string, maxLine: number = HTACCESS_MAX_LINE): Generator<void, { lines: LogicalLine[]; tooLong?: LineTooLong }> {
  const lines: LogicalLine[] = [];
  let pos = 0;
  let lineNo = 0;
  const n = text.length;
  while (pos < n) {
    if (lines.length % READ_SLICE === READ_SLICE - 1) yield;
    let joined = '';
    const segments: LineSegment[] = [];
    const firstLine = lineNo + 1;
    let reachedEof = false;
    for (;;) {
      if (pos >= n) {
        reachedEof = true;
        break;
      }
      lineNo++;
      const lf = text.indexOf('\n', pos);
      const end = lf === -1 ? n : lf;
      let piece = text.slice(pos, end);
      const hasLf = lf !== -1;
      pos = hasLf ? lf + 1 : n;
      // Apache measures the line with strlen(): a NUL byte ends it, and what follows the
      // NUL (the newline included) no longer counts, so no continuation either.
      const nul = piece.indexOf('\0');
      const cutAtNul = nul !== -1;
      if (cutAtNul) piece = piece.slice(0, nul);
      if (joined.length + piece.length > maxLine + (hasLf ? 0 : 1)) {
        return { lines, tooLong: { line: lineNo } };
      }
      segments.push({ logicalStart: joined.length, line: lineNo });
      if (!cutAtNul && hasLf) {
        // `[^\\]\\[\r]\n` is a continuation: drop the backslash (and CR) and read on.
        let body = piece;
        const crlf = body.endsWith('\r');
        const core = crlf ? body.slice(0, -1) : body;
        if (core.endsWith('\\') && joined.length + core.length > 0) {
          joined += core.slice(0, -1);
          continue;
        }
        body = piece;
        joined += body;
      } else {
        joined += piece;
      }
      break;
    }
    if (reachedEof && segments.length === 0) break;
    let start = 0;
    let stop = joined.length;
    while (start < stop && isSpace(joined.charCodeAt(start))) start++;
    while (stop > start && isSpace(joined.charCodeAt(stop - 1))) stop--;
    lines.push({
      text: joined.slice(start, stop),
      line: firstLine,
      endLine: lineNo,
      trimOffset: start,
      segments,
    });
  }
  return { lines };
}
