/**
 * The CLI installed from a packed tarball into a fresh prefix (`npm pack`, `npm install -g`)
 * serves a site outside the clone. It installs the dependencies from the registry or npm's
 * cache (about 15 s): it runs in CI (HTSANDBOX_REQUIRE_PEERS=1) or with
 * HTSANDBOX_PACKAGE_TEST=1, and says so when skipped.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get } from './helpers/serve-in-process.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';
import { peerAvailable, perlFcgiMissing, REQUIRE_PEERS } from './helpers/peers.js';

const wanted = REQUIRE_PEERS || process.env.HTSANDBOX_PACKAGE_TEST === '1';
if (!wanted) process.stderr.write('[skip] package install: needs the npm registry or cache; set HTSANDBOX_PACKAGE_TEST=1 (CI runs it)\n');
const havePerlFcgi = wanted && peerAvailable('Perl FCGI', perlFcgiMissing());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.runIf(wanted && havePerlFcgi)('the packed CLI', () => {
  it('installs from its tarball into a fresh prefix and serves a site from anywhere', async () => {
    const work = mkdtempSync(join(tmpdir(), 'htsandbox-pack-'));
    dirs.push(work);
    const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    execFileSync('npm', ['pack', '--pack-destination', work], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    const prefix = join(work, 'prefix');
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', join(work, tarball)], { cwd: work, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const bin = join(prefix, 'bin', 'htsandbox');
    expect(execFileSync(bin, ['--version'], { cwd: work, encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const site = join(work, 'mysite');
    execFileSync(bin, ['init', site], { cwd: work, stdio: 'ignore' });
    const child = spawn(bin, ['serve', site, '--port', '0'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /:(\d+)\/\n/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      expect((await get(port, '/')).status).toBe(200);
      expect((await get(port, '/old-page.html')).status).toBe(301);
      expect((await get(port, '/counter.fcgi')).body.toString()).toMatch(/answered 1 request/);
    } finally {
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    }
  }, 600_000);
});
