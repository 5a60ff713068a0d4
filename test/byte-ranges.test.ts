/** byterange_filter.c's ap_set_byterange and the filter's limits, on a 10-byte body. */
import { describe, expect, it } from 'vitest';
import { parseByteRanges, withinRangeLimits } from '../src/grammar/byte-ranges.js';

describe('parseByteRanges', () => {
  it('reads single, open and suffix ranges, clamped to the body', () => {
    expect(parseByteRanges('bytes=2-4', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 2, end: 4 }], overlaps: 0, reversals: 0 });
    expect(parseByteRanges('bytes=7-', 10)).toMatchObject({ ranges: [{ start: 7, end: 9 }] });
    expect(parseByteRanges('bytes=-3', 10)).toMatchObject({ ranges: [{ start: 7, end: 9 }] });
    expect(parseByteRanges('bytes=5-100', 10)).toMatchObject({ ranges: [{ start: 5, end: 9 }] });
  });
  it('merges a range into the one before when they overlap or touch, counting it', () => {
    expect(parseByteRanges('bytes=0-0,1-1,2-2', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 2 }], overlaps: 2, reversals: 0 });
    expect(parseByteRanges('bytes=4-5,2-4', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 2, end: 5 }], overlaps: 1, reversals: 1 });
    expect(parseByteRanges('bytes=0-1,5-6', 10)).toMatchObject({
      ranges: [
        { start: 0, end: 1 },
        { start: 5, end: 6 },
      ],
    });
  });
  it('ignores a field with a bad range, a sum over the length, or no bytes= unit', () => {
    expect(parseByteRanges('bytes=5-2', 10)).toEqual({ kind: 'ignore' });
    expect(parseByteRanges('bytes=a-2', 10)).toEqual({ kind: 'ignore' });
    expect(parseByteRanges('items=0-1', 10)).toEqual({ kind: 'ignore' });
    expect(parseByteRanges('bytes=0-5,7-9,1-1,8-9,0-3', 10)).toEqual({ kind: 'ignore' });
  });
  it('is 416 only when every range starts past the end', () => {
    expect(parseByteRanges('bytes=10-12', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseByteRanges('bytes=10-12,1-2', 10)).toMatchObject({ kind: 'ranges', ranges: [{ start: 1, end: 2 }] });
  });
  it('"0-" asks for everything, whatever else is listed', () => {
    expect(parseByteRanges('bytes=3-4,0-,7-8', 10)).toMatchObject({ ranges: [{ start: 0, end: 9 }] });
  });
  it('200 repeated small ranges pass MaxRangeOverlaps: the filter sends the whole body', () => {
    const field = `bytes=${Array.from({ length: 40 }, () => '0-0,1-1,2-2,3-3,4-4').join(',')}`;
    const r = parseByteRanges(field, 10);
    expect(r).toMatchObject({ kind: 'ranges', ranges: [{ start: 0, end: 4 }] });
    expect(withinRangeLimits(r as Extract<typeof r, { kind: 'ranges' }>)).toBe(false);
  });
});
