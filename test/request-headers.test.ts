import { describe, expect, it } from 'vitest';
import { mergedHeaders } from '../src/server/cgi-handler.js';

const raw = (...pairs: [string, string][]) => ({ rawHeaders: pairs.flat() });

describe('request header fields as scripts see them', () => {
  it('joins a repeated name with ", " at its first place, whatever its case', () => {
    expect(mergedHeaders(raw(['Host', 'h'], ['X-Multi', 'a'], ['Accept', '*/*'], ['x-multi', 'b'], ['X-MULTI', 'c']), false)).toEqual([
      ['Host', 'h'],
      ['X-Multi', 'a, b, c'],
      ['Accept', '*/*'],
    ]);
  });

  it('keeps single fields in order', () => {
    expect(mergedHeaders(raw(['B', '2'], ['A', '1']), false)).toEqual([
      ['B', '2'],
      ['A', '1'],
    ]);
  });

  it('drops the body framing after an internal redirect', () => {
    expect(mergedHeaders(raw(['Content-Length', '5'], ['X', 'y'], ['transfer-encoding', 'chunked']), true)).toEqual([['X', 'y']]);
    expect(mergedHeaders(raw(['Content-Length', '5']), false)).toEqual([['Content-Length', '5']]);
  });

  it('merges the same way in a long header list', () => {
    const pairs: [string, string][] = [];
    for (let i = 0; i < 40; i++) pairs.push([`X-H${i % 20}`, String(i)]);
    const out = mergedHeaders(raw(...pairs), false);
    expect(out).toHaveLength(20);
    expect(out[3]).toEqual(['X-H3', '3, 23']);
  });
});
