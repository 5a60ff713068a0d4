/**
 * mod_cgid, mod_cgi, mod_userdir, mod_status, mod_reqtimeout, http_core, mod_proxy,
 * mod_proxy_fcgi, mod_so, mod_unixd and mod_version through their module files: their command
 * tables are the registry's rows, and `check` judges their lines as Apache's handlers do
 * (set_script_timeout with ap_timeout_parameter_parse, set_user_dir), in the server
 * configuration and, where the override class forbids them, in `.htaccess`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/adapters/server-config-loader.js';
import { lookupDirective } from '../../src/grammar/directive-registry.js';
import { hostFacts } from '../../src/grammar/host-config.js';
import { parseConfig } from '../../src/grammar/parser.js';
import { parseTimeoutParameter } from '../../src/grammar/timeout-parameter.js';
import { validateNodes } from '../../src/grammar/validate.js';
import { cgiModule } from '../../src/modules/cgi.js';
import { cgidModule } from '../../src/modules/cgid.js';
import { MODULES } from '../../src/modules/index.js';
import { statusModule } from '../../src/modules/status.js';
import { userdirModule } from '../../src/modules/userdir.js';
import { createSiteContext } from '../../src/server/site-context.js';

function check(text: string, kind: 'server' | 'htaccess', modules: readonly string[] = ['core', 'cgid', 'userdir', 'status']) {
  const loaded = new Set(modules);
  const nodes = parseConfig(text, { file: kind === 'server' ? '/etc/apache2/site.conf' : '/site/.htaccess', kind, host: hostFacts(loaded) }).nodes;
  return validateNodes(nodes, { kind, hasModule: (m) => loaded.has(m), override: 0x1f, overrideOpts: 0xffff, overrideList: new Set() }).map((d) => [d.code, d.message]);
}

describe('ap_timeout_parameter_parse', () => {
  it('reads seconds by default, and s, ms, mi (minutes) and h by their first letters', () => {
    expect(parseTimeoutParameter('30')).toBe(30_000);
    expect(parseTimeoutParameter('30', 'ms')).toBe(30);
    expect(parseTimeoutParameter('30s')).toBe(30_000);
    expect(parseTimeoutParameter('30sec')).toBe(30_000);
    expect(parseTimeoutParameter('250ms')).toBe(250);
    expect(parseTimeoutParameter('2min')).toBe(120_000);
    expect(parseTimeoutParameter('1h')).toBe(3_600_000);
    expect(parseTimeoutParameter(' -5')).toBe(-5000);
    // No digits: apr_strtoi64 reads 0 and leaves the text, which must then be a unit.
    expect(parseTimeoutParameter('s')).toBe(0);
    expect(parseTimeoutParameter('')).toBe(0);
  });

  it('refuses any other unit, a lone m, white space without digits and int64 overflow', () => {
    for (const bad of ['10x', '5m', '5mx', 'abc', ' ', '9223372036854775808']) expect(parseTimeoutParameter(bad), bad).toBeUndefined();
    expect(parseTimeoutParameter('9223372036854775807', 'ms')).toBeGreaterThan(0);
  });
});

describe('mod_cgid and mod_cgi through their modules', () => {
  it('are the registry rows: the script-log directives valid with either module loaded', () => {
    expect(lookupDirective('scriptlog')?.modules).toEqual(['cgid', 'cgi']);
    expect(lookupDirective('scriptsock')?.modules).toEqual(['cgid']);
    expect(lookupDirective('cgidscripttimeout')?.modules).toEqual(['cgid']);
    expect(lookupDirective('cgiscripttimeout')?.modules).toEqual(['cgi']);
    for (const d of [...cgidModule.directives, ...cgiModule.directives]) expect(lookupDirective(d.name.toLowerCase())?.emulated, d.name).toBe(false);
    expect(check('ScriptLog /var/log/apache2/cgi.log\n', 'server', ['core', 'cgi'])).toEqual([
      ['HT200', 'ScriptLog is accepted by the host but not emulated by htsandbox; the preview may differ'],
    ]);
  });

  it('refuses a script timeout ap_timeout_parameter_parse cannot read, as set_script_timeout does', () => {
    expect(check('CGIDScriptTimeout 10x\n', 'server')).toEqual([['HT105', 'CGIDScriptTimeout has wrong format']]);
    expect(check('<Directory /srv>\nCGIDScriptTimeout 2mi\n</Directory>\n', 'server').map(([c]) => c)).toEqual(['HT200']);
    expect(check('CGIScriptTimeout 5m\n', 'server', ['core', 'cgi'])).toEqual([['HT105', 'CGIScriptTimeout has wrong format']]);
  });

  it('leaves them out of .htaccess, where their override class is not allowed', () => {
    expect(check('ScriptSock /run/cgid.sock\nCGIDScriptTimeout 10\n', 'htaccess')).toEqual([
      ['HT101', 'ScriptSock not allowed here'],
      ['HT101', 'CGIDScriptTimeout not allowed here'],
    ]);
  });
});

describe('mod_userdir through its module', () => {
  it('refuses UserDir without an argument (set_user_dir), accepts its forms, and hooks translate_name', () => {
    expect(check('UserDir\n', 'server')).toEqual([['HT105', 'UserDir requires an argument.']]);
    expect(check('UserDir ""\n', 'server')).toEqual([['HT105', 'UserDir requires an argument.']]);
    for (const line of ['UserDir public_html', 'UserDir disabled', 'UserDir enabled alice bob']) {
      expect(
        check(`${line}\n`, 'server').map(([c]) => c),
        line,
      ).toEqual(['HT200']);
    }
    expect(check('UserDir public_html\n', 'htaccess')).toEqual([['HT101', 'UserDir not allowed here']]);
    expect(userdirModule.hooks.translate_name).toBe('userDirTarget');
  });
});

describe('mod_reqtimeout through its module', () => {
  it("gives check set_reqtimeouts' refusal in the server configuration, and is server-only", () => {
    const modules = ['core', 'reqtimeout'];
    expect(check('RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500\n', 'server', modules)).toEqual([]);
    expect(check('RequestReadTimeout header=10-20\n', 'server', modules)).toEqual([['HT105', 'RequestReadTimeout: header=10-20: Must set MinRate option if using timeout range']]);
    expect(check('RequestReadTimeout header=10\n', 'htaccess', modules)).toEqual([['HT101', 'RequestReadTimeout not allowed here']]);
    expect(lookupDirective('requestreadtimeout')?.help).toBe('Set various timeout parameters for TLS handshake and/or reading request headers and body');
  });
});

describe('mod_status through its module', () => {
  it('has no directives of its own (ExtendedStatus is core) and is the server-status handler', () => {
    expect(MODULES).toContain(statusModule);
    expect(statusModule.directives).toEqual([]);
    expect(lookupDirective('extendedstatus')?.modules).toEqual(['core']);
    expect(statusModule.hooks.handler).toBe('sendStatusPage');
  });
});

describe('http_core through its module', () => {
  it('refuses a KeepAliveTimeout ap_timeout_parameter_parse cannot read, as set_keep_alive_timeout does', () => {
    const modules = ['core', 'http_core'];
    expect(check('KeepAliveTimeout 10x\n', 'server', modules)).toEqual([['HT105', 'KeepAliveTimeout has wrong format']]);
    expect(check('KeepAliveTimeout 500ms\nKeepAlive On\n', 'server', modules).map(([c]) => c)).toEqual(['HT200']);
    expect(lookupDirective('keepalivetimeout')?.modules).toEqual(['http_core']);
  });

  it('serves with the KeepAliveTimeout its unit says (500ms is half a second, not 500 s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'htsandbox-keepalive-'));
    try {
      const configFile = join(dir, 'host.conf');
      const site = (line: string) => {
        writeFileSync(configFile, `Include "${PROFILES_DIR}/apache.conf"\n${line}\n`);
        const s = createSiteContext({ configFile, siteRoot: dir });
        if ('error' in s) throw new Error(s.error);
        return s.keepAliveTimeoutMs;
      };
      expect(site('KeepAliveTimeout 500ms')).toBe(500);
      expect(site('KeepAliveTimeout 7')).toBe(7000);
      expect(site('')).toBe(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mod_proxy and mod_proxy_fcgi through their modules', () => {
  const modules = ['core', 'proxy', 'proxy_fcgi'];
  it('emulate <Proxy> and BalancerMember only; the rest is accepted and said so', () => {
    expect(lookupDirective('<proxy')?.emulated).toBe(true);
    expect(lookupDirective('balancermember')?.emulated).toBe(true);
    expect(lookupDirective('proxypass')).toMatchObject({ modules: ['proxy'], emulated: false });
    expect(lookupDirective('proxyfcgisetenvif')).toMatchObject({ modules: ['proxy_fcgi'], emulated: false });
  });

  it('refuses what cmd_servertype and cmd_setenv refuse, in .htaccess too (each one `apache2 -t` printed)', () => {
    expect(check('ProxyFCGIBackendType foo\n', 'htaccess', modules)).toEqual([['HT105', "ProxyFCGIBackendType requires one of the following arguments: 'GENERIC', 'FPM'"]]);
    expect(check('ProxyFCGIBackendType fpm\nProxyFCGISetEnvIf "true" X\n', 'htaccess', modules).map(([c]) => c)).toEqual(['HT200', 'HT200']);
    expect(check('ProxyFCGISetEnvIf "1 -eq" X y\n', 'htaccess', modules)).toEqual([['HT105', 'Could not parse expression "1 -eq": syntax error, unexpected $end']]);
    expect(check('ProxyFCGISetEnvIf "true" !X y\n', 'htaccess', modules)).toEqual([
      ['HT105', 'Third argument ("y") is not allowed when using ProxyFCGISetEnvIf\'s unset mode (!X)'],
    ]);
    expect(check('ProxyFCGISetEnvIf "true" !\n', 'htaccess', modules)).toEqual([['HT105', 'ProxyFCGISetEnvIf: "!" is not a valid variable name']]);
  });
});

describe('mod_so, mod_unixd and mod_version through their modules', () => {
  it('keep the rows the configuration reader acts on emulated, the rest accepted and said so', () => {
    for (const [name, module, emulated] of [
      ['loadmodule', 'so', true],
      ['loadfile', 'so', false],
      ['user', 'unixd', true],
      ['group', 'unixd', true],
      ['chrootdir', 'unixd', false],
      ['suexec', 'unixd', false],
      ['<ifversion', 'version', true],
    ] as const) {
      expect(lookupDirective(name), name).toMatchObject({ modules: [module], emulated });
    }
    expect(check('User www-data\nGroup www-data\n<IfVersion >= 2.4>\nSuexec On\n</IfVersion>\n', 'server', ['core', 'unixd', 'version'])).toEqual([
      ['HT200', 'Suexec is accepted by the host but not emulated by htsandbox; the preview may differ'],
    ]);
  });
});
