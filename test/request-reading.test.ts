import { describe, expect, it } from 'vitest';
import { checkRequestHead, DEFAULT_REQUEST_LIMITS, overflowStatus, readExpired } from '../src/engine/request-reading.js';
import { parseRequestReadTimeout, REQTIMEOUT_DEFAULTS } from '../src/modules/reqtimeout.js';

/** Pairs as a test reads them, laid out flat as Node's rawHeaders (what checkRequestHead takes). */
const flat = (pairs: [string, string][]): string[] => pairs.flat();

describe('request size limits (LimitRequestLine, LimitRequestFieldSize, LimitRequestFields)', () => {
  const L = DEFAULT_REQUEST_LIMITS;
  it('reads a line of limit + 1 bytes and refuses limit + 2 with 414', () => {
    expect(checkRequestHead({ requestLineLength: 8191, fields: [] }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 8192, fields: [] }, L)?.status).toBe(414);
  });
  it('refuses a field line over limit + 1 bytes with its note', () => {
    const field = (n: number): [string, string] => ['X-Long', 'x'.repeat(n - 'X-Long: '.length)];
    expect(checkRequestHead({ requestLineLength: 10, fields: flat([field(8191)]) }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 10, fields: flat([field(8192)]) }, L)).toMatchObject({
      status: 400,
      errorNotes: 'Size of a request header field exceeds server limit.',
    });
  });
  it('counts fields up to LimitRequestFields, 0 meaning none', () => {
    const fields = Array.from({ length: 101 }, (_, i): [string, string] => [`X-${i}`, 'v']);
    expect(checkRequestHead({ requestLineLength: 10, fields: flat(fields.slice(0, 100)) }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 10, fields: flat(fields) }, L)?.errorNotes).toBe("The number of request header fields exceeds this server's limit.");
    expect(checkRequestHead({ requestLineLength: 10, fields: flat(fields) }, { ...L, fields: 0 })).toBeUndefined();
  });
  it('tells an overflowing request line from an overflowing field', () => {
    expect(overflowStatus(`GET /${'x'.repeat(9000)}`, L)).toBe(414);
    expect(overflowStatus(`GET / HTTP/1.1\r\nX: ${'x'.repeat(9000)}`, L)).toBe(400);
  });
});

describe("ap_read_request's Host and Transfer-Encoding checks (HttpProtocolOptions Strict)", () => {
  const L = DEFAULT_REQUEST_LIMITS;
  const head = (httpVersion: string, fields: [string, string][], targetAuthority?: string) =>
    checkRequestHead({ requestLineLength: 10, fields: flat(fields), httpVersion, ...(targetAuthority !== undefined ? { targetAuthority } : {}) }, L)?.status;
  it('needs a non-empty Host from HTTP/1.1 on (AH00569), not before', () => {
    expect(head('1.1', [])).toBe(400);
    expect(head('1.1', [['Host', '']])).toBe(400);
    expect(head('1.0', [])).toBeUndefined();
    expect(head('1.1', [], 'localhost')).toBeUndefined();
  });
  it('takes names, ports and IPv6 literals fix_hostname takes', () => {
    for (const h of ['localhost', 'a_b.example', 'Evil.Example', 'localhost:8080', '[::1]', '[::1]:80', '127.0.0.1']) expect(head('1.1', [['Host', h]]), h).toBeUndefined();
  });
  it('refuses two Host fields, spaces, bad ports, traversal, slashes and numeric names', () => {
    expect(
      head('1.1', [
        ['Host', 'localhost'],
        ['Host', 'evil.example'],
      ]),
    ).toBe(400);
    for (const h of ['local host', 'localhost:99999', 'localhost:0', 'localhost:abc', '../../etc', 'a/b', 'a\\b', '1234', '[::1', '[zz]'])
      expect(head('1.1', [['Host', h]]), h).toBe(400);
    expect(head('1.0', [['Host', 'a/b']])).toBe(400);
    expect(head('1.1', [['Host', 'localhost']], 'a/b')).toBe(400);
  });
  it('refuses an explicit HTTP/0.9 request line', () => {
    expect(head('0.9', [['Host', 'localhost']])).toBe(400);
  });
  it('refuses a Transfer-Encoding not ending in chunked (AH02539)', () => {
    const te = (v: string) =>
      head('1.1', [
        ['Host', 'localhost'],
        ['Transfer-Encoding', v],
      ]);
    expect(te('chunked')).toBeUndefined();
    expect(te('gzip, chunked')).toBeUndefined();
    expect(te('CHUNKED')).toBeUndefined();
    for (const v of ['xchunked', 'chunked, gzip', 'identity']) expect(te(v), v).toBe(400);
  });
});

describe('RequestReadTimeout and Timeout', () => {
  it('parses stages, keeping the defaults of stages not named', () => {
    expect(parseRequestReadTimeout([['header=10']])).toEqual({ header: { initialMs: 10_000, maxMs: 10_000, minRate: 0 }, body: REQTIMEOUT_DEFAULTS.body });
    expect(parseRequestReadTimeout([['header=1-2,MinRate=50', 'body=0']])).toEqual({
      header: { initialMs: 1000, maxMs: 2000, minRate: 50 },
      body: { initialMs: 0, maxMs: 0, minRate: 0 },
    });
    expect(parseRequestReadTimeout([['header=10-20']])).toHaveProperty('error');
    expect(parseRequestReadTimeout([['header=20-10,MinRate=5']])).toHaveProperty('error');
    expect(parseRequestReadTimeout([['bogus=1']])).toHaveProperty('error');
    expect(parseRequestReadTimeout([['header']])).toHaveProperty('error');
  });
  it("refuses a line with set_reqtimeouts' messages (each one `apache2 -t` printed)", () => {
    const error = (...words: string[]) => {
      const r = parseRequestReadTimeout([words]);
      return 'error' in r ? r.error : undefined;
    };
    expect(error('header')).toBe("Invalid RequestReadTimeout parameter. Parameter must be in the form 'key=value'");
    expect(error('header=x')).toBe("RequestReadTimeout: header=x: Value 'x' not numerical");
    expect(error('header=10-20')).toBe('RequestReadTimeout: header=10-20: Must set MinRate option if using timeout range');
    expect(error('header=20-10,MinRate=5')).toBe('RequestReadTimeout: header=20-10,MinRate=5: Maximum timeout must be larger than initial timeout');
    expect(error('header=10,MinRate=0')).toBe('RequestReadTimeout: header=10,MinRate=0: Minimum data rate must be larger than 0');
    expect(error('foo=10')).toBe('RequestReadTimeout: foo=10: Unknown RequestReadTimeout parameter');
    expect(error('header=10,Foo=1')).toBe("RequestReadTimeout: header=10,Foo=1: Cannot parse ',Foo=1'");
    expect(error('header=10', 'header=x')).toBe("RequestReadTimeout: header=x: Value 'x' not numerical");
    expect(error('header=-1')).toBe('RequestReadTimeout: header=-1: Must set MinRate option if using timeout range');
    expect(error('body=-1,MinRate=5')).toBe("RequestReadTimeout: body=-1,MinRate=5: Value '' not numerical");
    expect(parseRequestReadTimeout([['body=+5']])).toMatchObject({ body: { initialMs: 5000 } });
    expect(parseRequestReadTimeout([['handshake=5', 'body=10-20,minrate=100']])).toEqual({
      header: REQTIMEOUT_DEFAULTS.header,
      body: { initialMs: 10_000, maxMs: 20_000, minRate: 100 },
    });
  });
  const t = { inactivityMs: 60_000, ...REQTIMEOUT_DEFAULTS };
  it('extends a stage by one second per MinRate bytes, up to its maximum', () => {
    const p = { stage: 'header' as const, startedAt: 0, bytes: 0, lastByteAt: 0 };
    expect(readExpired({ ...p, lastByteAt: 19_000 }, t, 19_999)).toBeUndefined();
    expect(readExpired({ ...p, lastByteAt: 19_000 }, t, 20_000)).toBe('reqtimeout');
    expect(readExpired({ ...p, bytes: 2500, lastByteAt: 24_000 }, t, 24_999)).toBeUndefined();
    expect(readExpired({ ...p, bytes: 2500, lastByteAt: 24_000 }, t, 25_000)).toBe('reqtimeout');
    expect(readExpired({ ...p, bytes: 1e9, lastByteAt: 39_000 }, t, 40_000)).toBe('reqtimeout');
    // The body stage has no maximum: a client keeping up MinRate goes on.
    expect(readExpired({ ...p, stage: 'body', bytes: 1e9, lastByteAt: 99_000 }, t, 100_000)).toBeUndefined();
  });
  it('without mod_reqtimeout, only Timeout between two reads counts', () => {
    const p = { stage: 'header' as const, startedAt: 0, bytes: 1, lastByteAt: 500_000 };
    expect(readExpired(p, { inactivityMs: 60_000 }, 559_999)).toBeUndefined();
    expect(readExpired(p, { inactivityMs: 60_000 }, 560_000)).toBe('inactivity');
  });
});
