/**
 * Host values and the status Apache 2.4.71 (Debian, HttpProtocolOptions Strict by default)
 * gave each, measured with a private instance (oracle/apache/up.sh) on 2026-12-05.
 */
import { describe, expect, it } from 'vitest';
import { checkHostField, serverPortOf } from '../src/engine/host-field.js';

const MEASURED: Record<string, 200 | 400> = {
  'a_b.example': 200,
  'localhost:abc': 400,
  'localhost:': 400,
  'localhost:0': 400,
  'localhost:99999': 400,
  'a:b:c': 400,
  '123': 400,
  'Foo.Example.': 200,
  'a,b': 400,
  '1.2.3': 400,
  'x.1a': 400,
  '[::1]': 200,
  '[::1]:80': 200,
  ':80': 400,
  'a..b': 400,
  'a%b': 400,
  'a@b': 400,
  'a\\b': 400,
  'x.y-': 200,
  '-x': 200,
  'a:80x': 400,
  'evil.example': 200,
  '1.2.3.4': 200,
  '01.2.3.4': 400,
  'a.b.c.d:8080': 200,
  '[zz]': 400,
  _: 200,
  'x._a': 400,
  'x.-a': 400,
  'x._': 400,
  '1.2.3.4.': 200,
  '[::1]x': 400,
  '[::1]:abc': 400,
  '[::1]:': 400,
  'x:65535': 200,
  'x:00080': 200,
  '[::1%eth0]': 400,
  '[::FFFF:1.2.3.4]': 200,
  'a.': 200,
  '1.2.3.256': 200,
  '00': 400,
  '0.0.0.0': 200,
  'a.b.1': 400,
  'a-.b': 200,
  'x.a1': 200,
};

describe('checkHostField (vhost.c fix_hostname, strict)', () => {
  for (const [value, status] of Object.entries(MEASURED)) {
    it(`${JSON.stringify(value)} → ${status}`, () => {
      expect(checkHostField(value).ok ? 200 : 400).toBe(status);
    });
  }
  it('lower-cases the name, drops a trailing dot and keeps the port', () => {
    expect(checkHostField('Foo.Example.:8080')).toEqual({ ok: true, name: 'foo.example', port: 8080 });
  });
});

describe('serverPortOf (ap_get_server_port, UseCanonicalName Off)', () => {
  it("takes the Host field's port, else ServerName's, else the scheme's", () => {
    expect(serverPortOf(8080, 'localhost', false)).toBe(8080);
    expect(serverPortOf(undefined, 'example.org:81', false)).toBe(81);
    expect(serverPortOf(undefined, 'localhost', false)).toBe(80);
    expect(serverPortOf(undefined, 'localhost', true)).toBe(443);
  });
});
