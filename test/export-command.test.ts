/**
 * `htsandbox export`: the configuration it writes is accepted by Debian's real Apache, and the
 * starter site's suite passes against that Apache as it passes against htsandbox.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { apacheMissing, APACHE_BIN, peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { freePort, PROJECT_ROOT } from './helpers/private-apache.js';

const haveApache = peerAvailable('Apache 2.4 + mod_fcgid', apacheMissing());
const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: PROJECT_ROOT }).then((code) => ({
    code,
    out,
    err,
  }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('htsandbox export', () => {
  it("leaves out the host's own modules and names the site's lines that need them", async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-export-'));
    dirs.push(parent);
    const site = join(parent, 'site');
    cpSync(STARTER_SITE, site, { recursive: true });
    writeFileSync(join(site, 'private/.htaccess'), 'AuthType SSLCert\nAuthSSLCertVar SSL_CLIENT_S_DN_Email\nRequire afsgroup system:friends\n');
    const r = await run(['export', site, '--to', join(parent, 'out')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('mod_auth_sslcert, mod_authz_afsgroup, mod_auth_optional');
    expect(r.out).toMatch(/private\/\.htaccess:2: AuthSSLCertVar SSL_CLIENT_S_DN_Email \(mod_auth_sslcert\)/);
    expect(r.out).toMatch(/private\/\.htaccess:3: Require afsgroup \(mod_authz_afsgroup\)/);
    const conf = readFileSync(join(parent, 'out/httpd.conf'), 'utf8');
    expect(conf).toContain('# LoadModule auth_sslcert_module');
    expect(conf).toContain(`Define HTSANDBOX_SITE_ROOT "${site}"`);
    expect(existsSync(join(parent, 'out/Dockerfile'))).toBe(true);
    expect(existsSync(join(parent, 'out/mime.types'))).toBe(true);
    const again = await run(['export', site, '--to', join(parent, 'out')]);
    expect(again.code).toBe(2);
  });

  it.runIf(haveApache)("writes configurations Debian's Apache accepts (apache2 -t), for both profiles", async () => {
    for (const profile of ['scripts', 'apache']) {
      const out = mkdtempSync(join(tmpdir(), 'htsandbox-export-'));
      dirs.push(out);
      rmSync(out, { recursive: true });
      expect((await run(['export', 'fixtures/example-site', '--profile', profile, '--to', out])).code).toBe(0);
      const t = spawnSync(APACHE_BIN, ['-t', '-f', join(out, 'httpd.conf')], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
      expect(`${t.stdout}${t.stderr}`.trim(), profile).toMatch(/Syntax OK$/);
      expect(t.status).toBe(0);
    }
  });

  it.runIf(haveApache && havePerlFcgi)(
    'serves the starter site on real Apache, where the suite passes as on htsandbox',
    async () => {
      const parent = mkdtempSync(join(tmpdir(), 'htsandbox-export-'));
      dirs.push(parent);
      execFileSync('chmod', ['755', parent]);
      const site = join(parent, 'site');
      cpSync(STARTER_SITE, site, { recursive: true });
      const out = join(parent, 'apache');
      const port = await freePort();
      expect((await run(['export', site, '--to', out, '--port', String(port)])).code).toBe(0);
      if (isRoot) {
        execFileSync('chown', ['-R', 'www-data:www-data', site]);
        chownSync(join(out, 'run', 'fcgid'), 33, 33);
      }
      const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
      const started = spawnSync(APACHE_BIN, ['-f', join(out, 'httpd.conf'), '-k', 'start'], { encoding: 'utf8', env });
      expect(started.status, `${started.stderr}`).toBe(0);
      const pidFile = join(out, 'run', 'httpd.pid');
      try {
        for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
        const r = await run(['test', '--suite', 'fixtures/suites/example-site.yaml', '--against', `http://127.0.0.1:${port}/`]);
        expect(r.out, readFileSync(join(out, 'run', 'error.log'), 'utf8')).toMatch(/^14 passed, 0 failed$/m);
        expect(r.code).toBe(0);
      } finally {
        spawnSync(APACHE_BIN, ['-f', join(out, 'httpd.conf'), '-k', 'stop'], { env });
        for (let i = 0; i < 100 && existsSync(pidFile); i++) await sleep(50);
      }
    },
    60_000,
  );
});
