/** The CGI header parser gives the same result for any chunking of the output. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CgiHeaderParser, invalidResponseField, scriptStatus, type CgiParseEvent } from '../src/grammar/cgi-response.js';

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
    expect(event).toMatchObject({
      kind: 'headers',
      headers: {
        fields: [
          ['Content-Type', 'text/plain'],
          ['Status', '404 Nope'],
          ['X-A', 'b'],
        ],
      },
    });
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
    // Long lines, around the parser's text windows and Apache's limit, in any chunking.
    const length = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 505, max: 520 }), fc.integer({ min: 8185, max: 8195 }), fc.constant(9000));
    const line = fc.tuple(length, fc.boolean()).map(([n, cr]) => `X:${'v'.repeat(Math.max(0, n - 2))}`.slice(0, n) + (cr ? '\r' : ''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 5 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 4 }), (lines, ended, cuts) => {
        const b = Buffer.from(`${lines.join('\n')}${ended ? '\n\nbody' : ''}`, 'latin1');
        const expected = model(b);
        expect(parseChunks([b])).toEqual(expected);
        expect(parseChunks(split(b, cuts))).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });
  it("reports Apache's three header errors", () => {
    expect(parseChunks([Buffer.from('')]).event).toEqual({ kind: 'error', error: { type: 'no-headers' } });
    expect(parseChunks([Buffer.from('X-A: b\n')]).event).toEqual({ kind: 'error', error: { type: 'premature' } });
    expect(parseChunks([Buffer.from('Security Alert! The PHP CGI cannot be accessed directly.\n\n')]).event).toEqual({
      kind: 'error',
      error: { type: 'bad-header', line: 'Security Alert! The PHP CGI ca' },
    });
    expect(parseChunks([Buffer.from(`X: ${'a'.repeat(9000)}\n\n`)]).event).toEqual({ kind: 'error', error: { type: 'no-headers' } });
  });
});

describe('what the core output filter lets out of a script answer', () => {
  it('cuts a line at a NUL, as Apache reads lines as C strings; a line starting with NUL ends the block', () => {
    expect(parseChunks([Buffer.from('X-A: a\0b\r\n\r\nok')]).event).toMatchObject({ kind: 'headers', headers: { fields: [['X-A', 'a']] } });
    expect(parseChunks([Buffer.from('X\0A: b\r\n\r\n')]).event).toEqual({ kind: 'error', error: { type: 'bad-header', line: 'X' } });
    const ended = parseChunks([Buffer.from('Content-Type: text/plain\r\n\0junk\r\nnot a header\r\n\r\nok')]);
    expect(ended.event).toMatchObject({ kind: 'headers', headers: { fields: [['Content-Type', 'text/plain']] } });
    expect(ended.body).toBe('not a header\r\n\r\nok');
  });
  it('refuses what check_headers refuses (names that are not tokens, values with control bytes)', () => {
    expect(invalidResponseField('X-A', 'a\tb café')).toBeUndefined();
    expect(invalidResponseField('', 'b')).toMatch(/^AH02428: /);
    expect(invalidResponseField('X A', 'b')).toBe("AH02429: Response header name 'X A' contains invalid characters, aborting request");
    expect(invalidResponseField('X-\xe9', 'b')).toMatch(/^AH02429: Response header name 'X-\\xe9'/);
    expect(invalidResponseField('X-A', 'a\x01b')).toBe("AH02430: Response header 'X-A' value of 'a\\x01b' contains invalid characters, aborting request");
    expect(invalidResponseField('X-A', 'a\x7fb')).toMatch(/^AH02430: /);
  });
  it('gives the status line Apache 2.4.71 sent for each Status field (probed with raw requests)', () => {
    const line = (v: string): string => {
      const s = scriptStatus(v);
      return `${s.sent} ${s.reason}`;
    };
    expect(line('404 Not\x01Here')).toBe('404 Not Found');
    expect(line('404 Not')).toBe('404 Not'); // what is left of "404 Not\0Here"
    expect(line('404 Gone Fishing')).toBe('404 Gone Fishing');
    expect(line('299')).toBe('299 ');
    expect(line('99999')).toBe('500 Internal Server Error');
    expect(line('600 High')).toBe('600 High');
    expect(line('abc')).toBe('500 Internal Server Error');
    expect(line('404')).toBe('404 '); // a bare code keeps an empty phrase
    expect(line('404x')).toBe('404 Not Found');
    expect(line('299x')).toBe('500 Internal Server Error');
    expect(line('418x')).toBe('500 Internal Server Error');
    expect(line('1000 x')).toBe('500 Internal Server Error');
    expect(line('404\ttab')).toBe('404 Not Found');
    expect(line('404 caf\xe9')).toBe('404 caf\xe9');
    expect(line('+404 x')).toBe('404 Not Found');
    expect(line('200 \x01')).toBe('200 OK');
    expect(scriptStatus('99999')).toMatchObject({ code: 99999, invalid: true });
    expect(scriptStatus('600 High')).toMatchObject({ code: 600, invalid: true });
    expect(scriptStatus('-200')).toMatchObject({ code: -200, sent: 500, invalid: true });
    // Apache sends "099 "; Node's writeHead refuses it, so the server writes that line itself.
    expect(scriptStatus('099')).toMatchObject({ code: 99, sent: 99, unsendable: '099' });
    expect(scriptStatus('099 Low')).toMatchObject({ code: 99, reason: 'Low', unsendable: '099' });
  });
});

describe('folded header lines (mod_fcgid getsfunc_fcgid_BRIGADE vs util_script.c)', () => {
  const folded = Buffer.from('Content-Type: text/plain\r\nX-A: a\r\n  folded\r\n\r\nbody');
  it('mod_fcgid joins a line starting with a space to the field before it', () => {
    const ev = new CgiHeaderParser({ foldContinuations: true }).push(folded);
    expect(ev.kind).toBe('headers');
    if (ev.kind === 'headers')
      expect(ev.headers.fields).toEqual([
        ['Content-Type', 'text/plain'],
        ['X-A', 'a folded'],
      ]);
  });
  it('a CGI script (mod_cgid) gets a bad header for it', () => {
    expect(new CgiHeaderParser().push(folded)).toEqual({ kind: 'error', error: { type: 'bad-header', line: '  folded' } });
  });
});
