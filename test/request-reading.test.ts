import { describe, expect, it } from 'vitest';
import { checkRequestHead, DEFAULT_REQUEST_LIMITS, overflowStatus, parseRequestReadTimeout, readExpired, REQTIMEOUT_DEFAULTS } from '../src/engine/request-reading.js';

describe('request size limits (LimitRequestLine, LimitRequestFieldSize, LimitRequestFields)', () => {
  const L = DEFAULT_REQUEST_LIMITS;
  it('reads a line of limit + 1 bytes and refuses limit + 2 with 414', () => {
    expect(checkRequestHead({ requestLineLength: 8191, fields: [] }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 8192, fields: [] }, L)?.status).toBe(414);
  });
  it('refuses a field line over limit + 1 bytes with its note', () => {
    const field = (n: number): [string, string] => ['X-Long', 'x'.repeat(n - 'X-Long: '.length)];
    expect(checkRequestHead({ requestLineLength: 10, fields: [field(8191)] }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 10, fields: [field(8192)] }, L)).toMatchObject({ status: 400, errorNotes: 'Size of a request header field exceeds server limit.' });
  });
  it('counts fields up to LimitRequestFields, 0 meaning none', () => {
    const fields = Array.from({ length: 101 }, (_, i): [string, string] => [`X-${i}`, 'v']);
    expect(checkRequestHead({ requestLineLength: 10, fields: fields.slice(0, 100) }, L)).toBeUndefined();
    expect(checkRequestHead({ requestLineLength: 10, fields }, L)?.errorNotes).toBe("The number of request header fields exceeds this server's limit.");
    expect(checkRequestHead({ requestLineLength: 10, fields }, { ...L, fields: 0 })).toBeUndefined();
  });
  it('tells an overflowing request line from an overflowing field', () => {
    expect(overflowStatus(`GET /${'x'.repeat(9000)}`, L)).toBe(414);
    expect(overflowStatus(`GET / HTTP/1.1\r\nX: ${'x'.repeat(9000)}`, L)).toBe(400);
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
