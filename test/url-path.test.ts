import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeRequestPath } from '../src/grammar/url-path.js';

describe('request path normalisation (ap_normalize_path, then ap_unescape_url)', () => {
  it.each([
    ['/a/b.fcgi', '/a/b.fcgi'],
    ['/a/../b', '/b'],
    ['/a//b/', '/a/b/'],
    ['/a/./', '/a/'],
    ['/a/.', '/a/'],
    ['/%61%2e%2e/x', '/a../x'],
    ['/a%20b', '/a b'],
  ])('%s → %s', (raw, uri) => {
    expect(normalizeRequestPath(raw)).toEqual({ ok: true, uri });
  });

  it('refuses a climb above the root, a bad escape, an encoded slash', () => {
    expect(normalizeRequestPath('/../x')).toMatchObject({ ok: false, status: 400 });
    expect(normalizeRequestPath('/%zz')).toMatchObject({ ok: false, status: 400 });
    expect(normalizeRequestPath('/a%2Fb')).toMatchObject({ ok: false, status: 404 });
    expect(normalizeRequestPath('x')).toMatchObject({ ok: false, status: 400 });
  });

  it('gives the same answer when a letter is sent escaped (the plain path takes a shortcut)', () => {
    const segment = fc.constantFrom('a', 'ab', '.', '..', '', 'x.fcgi', 'b%20c');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), (segments) => {
        const raw = `/${segments.join('/')}`;
        const verdict = (r: ReturnType<typeof normalizeRequestPath>) => (r.ok ? r.uri : r.status);
        expect(verdict(normalizeRequestPath(raw.replace(/a/g, '%61')))).toEqual(verdict(normalizeRequestPath(raw)));
      }),
      { numRuns: 2000 },
    );
  });
});
