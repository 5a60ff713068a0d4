/** mod_proxy handler names for FastCGI backends, balancers, and the handler warnings of `check`. */
import { describe, expect, it } from 'vitest';
import { parseProxyHandler, proxyBalancers } from '../src/grammar/proxy-target.js';
import { parseConfig } from '../src/grammar/parser.js';
import { NO_HOST_FACTS } from '../src/grammar/conditions.js';
import { lookupDirective } from '../src/grammar/directive-registry.js';

describe('proxy: handler names', () => {
  it('reads TCP, unix-socket and balancer targets as mod_proxy does', () => {
    expect(parseProxyHandler('proxy:fcgi://127.0.0.1:9000')).toEqual({
      kind: 'fcgi',
      endpoint: { kind: 'tcp', host: '127.0.0.1', port: 9000 },
      scriptFilenamePrefix: 'proxy:fcgi://127.0.0.1:9000',
    });
    // 8000 is fcgi's default port: it is not repeated in SCRIPT_FILENAME; a path is kept, so a
    // trailing slash doubles the one the file name starts with (as on Apache 2.4.71).
    expect(parseProxyHandler('proxy:fcgi://backend/')).toMatchObject({ endpoint: { kind: 'tcp', host: 'backend', port: 8000 }, scriptFilenamePrefix: 'proxy:fcgi://backend/' });
    expect(parseProxyHandler('proxy:fcgi://[::1]:9000')).toMatchObject({ endpoint: { host: '::1', port: 9000 }, scriptFilenamePrefix: 'proxy:fcgi://[::1]:9000' });
    expect(parseProxyHandler('proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost')).toEqual({
      kind: 'fcgi',
      endpoint: { kind: 'unix', path: '/run/php/php8.2-fpm.sock' },
      scriptFilenamePrefix: 'proxy:fcgi://localhost',
    });
    expect(parseProxyHandler('proxy:balancer://Pool1')).toEqual({ kind: 'balancer', name: 'pool1' });
    expect(parseProxyHandler('proxy:http://example.com/')).toEqual({ kind: 'other', scheme: 'http' });
    expect(parseProxyHandler('proxy:unix:/run/x.sock')).toHaveProperty('error');
    expect(parseProxyHandler('proxy:fcgi://:9000')).toHaveProperty('error');
    expect(parseProxyHandler('cgi-script')).toBeUndefined();
  });

  it('collects balancer members from <Proxy balancer://…> sections', () => {
    const conf =
      '<Proxy "balancer://php">\nBalancerMember "fcgi://127.0.0.1:9000"\nBalancerMember "unix:/run/a.sock|fcgi://localhost"\nBalancerMember http://x/\n</Proxy>\nBalancerMember balancer://other fcgi://10.0.0.1:9001\n';
    const { nodes } = parseConfig(conf, { file: 'host.conf', kind: 'server', host: NO_HOST_FACTS });
    const { balancers, errors } = proxyBalancers(nodes);
    expect([...balancers.keys()]).toEqual(['php', 'other']);
    expect(balancers.get('php')!.map((m) => m.endpoint)).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 9000 },
      { kind: 'unix', path: '/run/a.sock' },
    ]);
    expect(balancers.get('other')![0]!.endpoint).toEqual({ kind: 'tcp', host: '10.0.0.1', port: 9001 });
    expect(errors).toEqual([{ file: 'host.conf', line: 4, message: 'BalancerMember http://x/: htsandbox runs fcgi:// members only' }]);
  });

  it('check warns about handlers the host has no module for', () => {
    const run = (name: string, words: string[], modules: string[]) =>
      lookupDirective(name)!.compile!({ words, rawArgs: words.join(' '), kind: 'htaccess', overrideOpts: 0, hasModule: (m) => modules.includes(m) }).findings[0];
    expect(run('sethandler', ['proxy:fcgi://127.0.0.1:9000'], ['fcgid'])).toMatchObject({ code: 'HT203', message: expect.stringContaining('mod_proxy and mod_proxy_fcgi') });
    expect(run('sethandler', ['proxy:fcgi://127.0.0.1:9000'], ['proxy', 'proxy_fcgi'])).toBeUndefined();
    expect(run('sethandler', ['proxy:balancer://x'], ['proxy', 'proxy_fcgi'])).toMatchObject({ code: 'HT203', message: expect.stringContaining('mod_proxy_balancer') });
    expect(run('addhandler', ['application/x-httpd-php', '.php'], ['fcgid'])).toMatchObject({ code: 'HT203', message: expect.stringContaining('mod_php') });
    expect(run('addhandler', ['fcgid-script', '.fcgi'], ['fcgid'])).toBeUndefined();
    expect(run('sethandler', ['None'], [])).toBeUndefined();
    expect(run('sethandler', ['my-handler'], ['fcgid'])).toMatchObject({ code: 'HT203', message: expect.stringContaining('no module provides') });
    expect(run('sethandler', ['proxy:unix:/x.sock'], ['proxy', 'proxy_fcgi'])).toMatchObject({ code: 'HT207' });
  });
});
