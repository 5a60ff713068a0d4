/** mod_ssl's ssl_var_lookup as htsandbox answers it (engine/ssl-variables.ts), over TLS and not. */
import { describe, expect, it } from 'vitest';
import { sslConnectionVariable, sslLookup } from '../../src/engine/ssl-variables.js';

// mod_rewrite's lookup_variable: the name in any case.
const request = (name: string): string => ({ REQUEST_METHOD: 'GET', 'HTTP:X-PROBE': 'probe', SERVER_SOFTWARE: 'Apache' })[name.toUpperCase()] ?? '';
const tls = new Map([
  ['HTTPS', 'on'],
  ['SSL_PROTOCOL', 'TLSv1.3'],
  ['SSL_VERSION_LIBRARY', 'OpenSSL/3.0.13'],
]);

describe('ssl_var_lookup', () => {
  it('answers HTTPS on or off, the request names, and the SSL_* names over TLS only', () => {
    expect(sslLookup('HTTPS', undefined, request, 'mod_ssl/2.4.62')).toBe('off');
    expect(sslLookup('HTTPS', tls, request, 'mod_ssl/2.4.62')).toBe('on');
    expect(sslLookup('REQUEST_METHOD', undefined, request, 'mod_ssl/2.4.62')).toBe('GET');
    expect(sslLookup('HTTP:X-Probe', undefined, request, 'mod_ssl/2.4.62')).toBe('probe');
    expect(sslLookup('SSL_PROTOCOL', undefined, request, 'mod_ssl/2.4.62')).toBe('');
    expect(sslLookup('SSL_PROTOCOL', tls, request, 'mod_ssl/2.4.62')).toBe('TLSv1.3');
    expect(sslLookup('SSL_VERSION_INTERFACE', undefined, request, 'mod_ssl/2.4.62')).toBe('mod_ssl/2.4.62');
    expect(sslLookup('SERVER_SOFTWARE', undefined, request, 'mod_ssl/2.4.62')).toBe('Apache');
  });

  it('finds names in any case, keeps the case after HTTP: and ENV:, and gives "" for what it does not know', () => {
    expect(sslLookup('https', tls, request, 'mod_ssl/2.4.62')).toBe('on');
    expect(sslLookup('request_method', tls, request, 'mod_ssl/2.4.62')).toBe('GET');
    expect(sslLookup('ssl_protocol', tls, request, 'mod_ssl/2.4.62')).toBe('TLSv1.3');
    expect(sslLookup('http:X-Probe', tls, request, 'mod_ssl/2.4.62')).toBe('probe');
    expect(sslLookup('NOPE', tls, request, 'mod_ssl/2.4.62')).toBe('');
  });

  it("ap_expr's %{SSL_name} reads the connection's record: nothing over plain HTTP", () => {
    expect(sslConnectionVariable('PROTOCOL', tls)).toBe('TLSv1.3');
    expect(sslConnectionVariable('PROTOCOL', undefined)).toBe('');
    expect(sslConnectionVariable('VERSION_LIBRARY', undefined)).toBe('');
  });
});
