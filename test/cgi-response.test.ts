/** The CGI header parser gives the same result for any chunking of the output. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CgiHeaderParser, type CgiParseEvent } from '../src/grammar/cgi-response.js';

function parseChunks(chunks: Buffer[]): { event: CgiParseEvent; body: string } {
  const p = new CgiHeaderParser();
  let event: CgiParseEvent = { kind: 'more' };
  let body = '';
  for (const c of chunks) {
    if (event.kind === 'headers') {
      body += c.toString('latin1');
      continue;
    }
    event = p.push(c);
    if (event.kind === 'headers') body += event.rest.toString('latin1');
    if (event.kind === 'error') break;
  }
  if (event.kind === 'more') event = p.end();
  // Where the body starts depends on the chunking; what it is does not.
  if (event.kind === 'headers') event = { ...event, rest: Buffer.alloc(0) };
  return { event, body };
}

const split = (b: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  out.push(b.subarray(prev));
  return out;
};

describe('CgiHeaderParser', () => {
  const sample = Buffer.from('Content-Type: text/plain\r\nStatus: 404 Nope\r\nX-A:  b\r\n\r\nbody\r\nmore');
  it('parses headers and keeps the body bytes', () => {
    const { event, body } = parseChunks([sample]);
    expect(event).toMatchObject({ kind: 'headers', headers: { fields: [['Content-Type', 'text/plain'], ['Status', '404 Nope'], ['X-A', 'b']] } });
    expect(body).toBe('body\r\nmore');
  });
  it('gives the same result at every split point and byte by byte', () => {
    const whole = parseChunks([sample]);
    for (let i = 0; i <= sample.length; i++) {
      expect(parseChunks([sample.subarray(0, i), sample.subarray(i)])).toEqual(whole);
    }
    expect(parseChunks([...sample].map((b) => Buffer.from([b])))).toEqual(whole);
  });
  it('any chunking of random output gives the same result (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const b = Buffer.from(bytes);
        expect(parseChunks(split(b, cuts))).toEqual(parseChunks([b]));
      }),
      { numRuns: 3000 },
    );
  });
  it('reads lines as util_script.c does: every CR dropped, blanks and tabs before a value skipped (property, against a plain model)', () => {
    // The model: the rules written out as plainly as possible (whole output at once).
    const model = (b: Buffer): { event: CgiParseEvent; body: string } => {
      const fields: [string, string][] = [];
      let start = 0;
      for (;;) {
        const nl = b.indexOf(0x0a, start);
        if (nl === -1 || nl - start > 8190) {
          const event: CgiParseEvent = { kind: 'error', error: fields.length ? { type: 'premature' } : { type: 'no-headers' } };
          return { event, body: '' };
        }
        const line = b.toString('latin1', start, nl).split('\r').join('');
        start = nl + 1;
        if (line === '') return { event: { kind: 'headers', headers: { fields }, rest: Buffer.alloc(0) }, body: b.toString('latin1', start) };
        const colon = line.indexOf(':');
        if (colon < 0) return { event: { kind: 'error', error: { type: 'bad-header', line: line.slice(0, 30) } }, body: '' };
        fields.push([line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+/, '')]);
      }
    };
    const byte = fc.constantFrom(...Buffer.from('\r\n: \ta'));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 60 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(parseChunks([b])).toEqual(model(b));
      }),
      { numRuns: 3000 },
    );
  });
  it('reports Apache\'s three header errors', () => {
    expect(parseChunks([Buffer.from('')]).event).toEqual({ kind: 'error', error: { type: 'no-headers' } });
    expect(parseChunks([Buffer.from('X-A: b\n')]).event).toEqual({ kind: 'error', error: { type: 'premature' } });
    expect(parseChunks([Buffer.from('Security Alert! The PHP CGI cannot be accessed directly.\n\n')]).event).toEqual({
      kind: 'error',
      error: { type: 'bad-header', line: 'Security Alert! The PHP CGI ca' },
    });
    expect(parseChunks([Buffer.from(`X: ${'a'.repeat(9000)}\n\n`)]).event).toEqual({ kind: 'error', error: { type: 'no-headers' } });
  });
});
