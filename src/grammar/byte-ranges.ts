/**
 * A `Range: bytes=…` field as byterange_filter.c's ap_set_byterange reads it: each range is
 * merged with the one before when they overlap or touch, and the merges (overlaps) and the
 * steps back (reversals) are counted, for the filter's MaxRangeOverlaps / MaxRangeReversals.
 * Pure.
 */

/** ap_set_byterange's answer: ignore the field, 416, or the merged ranges and the counts. */
export type ByteRanges = { kind: 'ignore' } | { kind: 'unsatisfiable' } | { kind: 'ranges'; ranges: { start: number; end: number }[]; overlaps: number; reversals: number };

/** Core's defaults (AP_DEFAULT_MAX_RANGES, _OVERLAPS, _REVERSALS). */
export const MAX_RANGES = 200;
export const MAX_RANGE_OVERLAPS = 20;
export const MAX_RANGE_REVERSALS = 20;

/** apr_strtoff base 10 with nothing left over: leading blanks and a sign are allowed. */
function offset(text: string): number | undefined {
  return /^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(text) ? Number.parseInt(text.trim(), 10) : undefined;
}

export function parseByteRanges(field: string, length: number): ByteRanges {
  if (!/^bytes=/i.test(field)) return { kind: 'ignore' };
  const ranges: { start: number; end: number }[] = [];
  let overlaps = 0;
  let reversals = 0;
  let unsatisfiable = false;
  let inMerge = false;
  let ostart = 0;
  let oend = 0;
  let sum = 0;
  for (const cur of field.slice(6).split(',')) {
    if (cur === '') break; // ap_getword's empty word ends the list
    const dash = cur.indexOf('-');
    if (dash === -1) return { kind: 'ignore' };
    let start: number;
    let end: number;
    if (dash === 0) {
      const n = offset(cur.slice(1));
      if (n === undefined || n < 1) return { kind: 'ignore' };
      start = length - n;
      end = length - 1;
    } else {
      const s = offset(cur.slice(0, dash));
      if (s === undefined) return { kind: 'ignore' };
      start = s;
      if (dash < cur.length - 1) {
        const e = offset(cur.slice(dash + 1));
        if (e === undefined || start > e) return { kind: 'ignore' };
        end = e;
      } else {
        end = length - 1;
        // "0-": the whole body as one range, whatever else was asked.
        if (start === 0) {
          ranges.length = 0;
          sum = 0;
          inMerge = true;
          ostart = 0;
          oend = end;
          break;
        }
      }
    }
    if (start < 0) start = 0;
    if (start >= length) {
      unsatisfiable = true;
      continue;
    }
    if (end >= length) end = length - 1;
    if (!inMerge) {
      ostart = start;
      oend = end;
      inMerge = true;
      continue;
    }
    inMerge = start >= ostart && end <= oend;
    if (start < ostart && end >= ostart - 1) {
      ostart = start;
      reversals++;
      inMerge = true;
    }
    if (end >= oend && start <= oend + 1) {
      oend = end;
      inMerge = true;
    }
    if (inMerge) {
      overlaps++;
      continue;
    }
    ranges.push({ start: ostart, end: oend });
    sum += oend - ostart + 1;
    inMerge = true;
    ostart = start;
    oend = end;
  }
  if (inMerge) {
    ranges.push({ start: ostart, end: oend });
    sum += oend - ostart + 1;
  } else if (ranges.length === 0 && unsatisfiable) return { kind: 'unsatisfiable' };
  // "Sum of ranges larger than file, ignoring."
  if (sum > length) return { kind: 'ignore' };
  if (ranges.length === 0) return { kind: 'ignore' };
  return { kind: 'ranges', ranges, overlaps, reversals };
}

/** ap_byterange_filter: too many ranges, merges or steps back and the whole body goes out (200). */
export function withinRangeLimits(r: Extract<ByteRanges, { kind: 'ranges' }>): boolean {
  return r.ranges.length <= MAX_RANGES && r.overlaps <= MAX_RANGE_OVERLAPS && r.reversals <= MAX_RANGE_REVERSALS;
}

/**
 * byterange_filter's answer to several ranges: a multipart/byteranges body, each part headed by
 * the file's type (none when it has none) and its Content-range, the last boundary closed with
 * "--". `parts`: each merged range with its bytes. Pure: the boundary is the caller's (Apache's
 * is 16 random hex digits).
 */
export function multipartByteranges(
  parts: readonly { start: number; end: number; data: Buffer }[],
  size: number,
  contentType: string | undefined,
  boundary: string,
): { contentType: string; body: Buffer } {
  const typeLine = contentType ? `\r\nContent-type: ${contentType}` : '';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`\r\n--${boundary}${typeLine}\r\nContent-range: bytes ${p.start}-${p.end}/${size}\r\n\r\n`, 'latin1'), p.data);
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
  return { contentType: `multipart/byteranges; boundary=${boundary}`, body: Buffer.concat(chunks) };
}
