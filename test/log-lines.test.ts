import { describe, expect, it } from 'vitest';
import { BoundedLineSplitter, capLogLine, MAX_LOGGED_LINE } from '../src/grammar/log-lines.js';
import { addLogLine, type RequestRecord } from '../src/server/request-journal.js';

const split = (chunks: string[], max?: number): string[] => {
  const s = new BoundedLineSplitter(max);
  const out: string[] = [];
  for (const c of chunks) s.push(Buffer.from(c, 'latin1'), (l) => out.push(l));
  s.end((l) => out.push(l));
  return out;
};

describe('script output lines for the error log', () => {
  it('splits at newlines at every chunk boundary, the last line without newline included', () => {
    const text = 'one\ntwo\n\nthree';
    for (let i = 0; i <= text.length; i++) expect(split([text.slice(0, i), text.slice(i)])).toEqual(['one', 'two', '', 'three']);
    expect(split([...text])).toEqual(['one', 'two', '', 'three']);
  });

  it("cuts a line at Apache's MAX_STRING_LEN and says how much was left out, holding no more", () => {
    const long = 'x'.repeat(MAX_LOGGED_LINE + 100);
    expect(capLogLine(long)).toBe(`${'x'.repeat(MAX_LOGGED_LINE)}… (100 bytes more)`);
    expect(capLogLine('short')).toBe('short');
    // A megabyte without a newline, in 64 KiB chunks: one cut line, then the next line intact.
    const chunks = Array.from({ length: 16 }, () => 'y'.repeat(65536));
    expect(split([...chunks, '\nnext'])).toEqual([`${'y'.repeat(MAX_LOGGED_LINE)}… (${16 * 65536 - MAX_LOGGED_LINE} bytes more)`, 'next']);
    expect(split(['abcdef\n'], 4)).toEqual(['abcd… (2 bytes more)']);
  });

  it("keeps a bounded part of a request's error-log lines in the dashboard's record", () => {
    const rec: RequestRecord = { id: 1, time: 0, method: 'GET', url: '/', status: 0, handler: '', server: 1, log: [], rawHeaders: [] };
    for (let i = 0; i < 10_000; i++) addLogLine(rec, `line ${i} ${'e'.repeat(5000)}`);
    expect(rec.log.length).toBe(51);
    expect(rec.log[0]).toMatch(/^line 0 e+… \(\d+ bytes more\)$/);
    expect(rec.log[0]!.length).toBeLessThan(2100);
    expect(rec.log[50]).toBe('… 9950 more lines: see the error log');
  });
});
