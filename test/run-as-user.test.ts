/**
 * `User`/`Group` as Apache: started as root with `User www-data`, htsandbox reads files with
 * that user's rights, so a file www-data cannot read is 403, as on Apache.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { apacheMissing, peerAvailable, REQUIRE_PEERS } from './helpers/peers.js';
import { PROFILES_DIR, startPrivateApache, type PrivateApache } from './helpers/private-apache.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let hasWwwData = false;
try {
  execFileSync('id', ['www-data'], { stdio: 'ignore' });
  hasWwwData = true;
} catch {
  hasWwwData = false;
}
const runnable = isRoot && hasWwwData;
if (!runnable) {
  const why = isRoot ? 'no www-data user' : 'not running as root';
  if (REQUIRE_PEERS) throw new Error(`run-as-user tests need root and www-data: ${why}`);
  process.stderr.write(`[skip] run-as-user: ${why}\n`);
}

describe.runIf(runnable)('serve as root with User www-data', () => {
  let base: string;
  let server: ServeChild;
  let port = 0;
  let apache: PrivateApache | undefined;
  const live = runnable && peerAvailable('Apache for the run-as-user comparison', apacheMissing());

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'htsandbox-user-'));
    chmodSync(base, 0o755);
    const site = join(base, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'ok.txt'), 'ok\n');
    writeFileSync(join(site, 'unreadable.txt'), 'secret\n');
    mkdirSync(join(site, 'closed'));
    writeFileSync(join(site, 'closed', 'in.txt'), 'in\n');
    execFileSync('chown', ['-R', 'www-data:www-data', site]);
    chmodSync(site, 0o755);
    chmodSync(join(site, 'unreadable.txt'), 0o000);
    chmodSync(join(site, 'closed'), 0o000);
    const conf = join(base, 'host.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\nUser www-data\nGroup www-data\n`);
    server = await spawnServe([site, '--port', '0', '--config', conf]);
    port = server.port;
    if (live) apache = await startPrivateApache({ site, extraConfig: '' });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await apache?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('runs as www-data', () => {
    const user = execFileSync('ps', ['-o', 'user=', '-p', String(server.child.pid)])
      .toString()
      .trim();
    expect(user).toBe('www-data');
  });

  it('a file made unreadable after it was served (and cached) answers 403 on the next request', async () => {
    const file = join(base, 'site', 'ok.txt');
    expect((await get(port, '/ok.txt')).status).toBe(200);
    expect((await get(port, '/ok.txt')).status).toBe(200);
    chmodSync(file, 0o600);
    execFileSync('chown', ['root', file]);
    try {
      expect((await get(port, '/ok.txt')).status).toBe(403);
    } finally {
      execFileSync('chown', ['www-data', file]);
      chmodSync(file, 0o644);
    }
    expect((await get(port, '/ok.txt')).status).toBe(200);
  });

  for (const path of ['/ok.txt', '/unreadable.txt', '/closed/in.txt', '/closed/']) {
    it(`${path} answers as Apache does`, async () => {
      const ours = (await get(port, path)).status;
      const expected = apache ? (await get(apache.port, path)).status : ({ '/ok.txt': 200 }[path] ?? 403);
      expect(ours).toBe(expected);
    });
  }
});
