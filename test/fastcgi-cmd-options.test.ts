/**
 * FcgidCmdOptions: a command's own limits and initial environment, with mod_fcgid's rule that
 * options left out take the built-in defaults (not the server's settings) and InitialEnv
 * replaces FcgidInitialEnv; a command that does not exist stops the server, as Apache does.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const base = mkdtempSync(join(tmpdir(), 'htsandbox-cmdopts-'));
const site = join(base, 'site');
let server: ServeChild;

// The process's own environment is read before the loop: Perl FCGI's Accept replaces %ENV
// with each request's variables.
const APP = `#!/usr/bin/perl
use FCGI;
my ($foo, $baz) = ($ENV{FOO} // '-', $ENV{BAZ} // '-');
my $r = FCGI::Request();
while ($r->Accept() >= 0) {
  select(undef, undef, undef, 0.3) if ($ENV{QUERY_STRING} // '') eq 'slow';
  print "Content-Type: text/plain\\r\\n\\r\\npid=$$ foo=$foo baz=$baz\\n";
}
`;

beforeAll(async () => {
  if (!havePerlFcgi) return;
  for (const dir of ['opts', 'one', 'plain']) {
    mkdirSync(join(site, dir), { recursive: true });
    writeFileSync(join(site, dir, 'app.fcgi'), APP);
    chmodSync(join(site, dir, 'app.fcgi'), 0o755);
  }
  writeFileSync(
    join(base, 'host.conf'),
    [
      `Include "${PROFILES_DIR}/apache.conf"`,
      'FcgidInitialEnv BAZ global',
      `FcgidCmdOptions ${site}/opts/app.fcgi MaxRequestsPerProcess 2 InitialEnv FOO=bar IOTimeout 7`,
      `FcgidCmdOptions ${site}/one/app.fcgi MaxProcesses 1`,
      '',
    ].join('\n'),
  );
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
});

afterAll(async () => {
  await server?.stop();
  rmSync(base, { recursive: true, force: true });
});

const answer = async (path: string): Promise<string> => (await get(server.port, path)).body.toString().trim();

describe.runIf(havePerlFcgi)('FcgidCmdOptions', () => {
  it("a command's MaxRequestsPerProcess and InitialEnv (which replaces FcgidInitialEnv)", async () => {
    const a = [await answer('/opts/app.fcgi'), await answer('/opts/app.fcgi'), await answer('/opts/app.fcgi')];
    for (const x of a) expect(x).toMatch(/ foo=bar baz=-$/);
    const pids = a.map((x) => x.split(' ')[0]);
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).not.toBe(pids[1]);
  }, 30_000);

  it('MaxProcesses: concurrent requests of that command share its one process', async () => {
    const a = await Promise.all([0, 1, 2].map(() => answer('/one/app.fcgi?slow')));
    expect(new Set(a.map((x) => x.split(' ')[0])).size).toBe(1);
    // Its InitialEnv is empty: the options replace the server's FcgidInitialEnv.
    expect(a[0]).toMatch(/ foo=- baz=-$/);
  }, 30_000);

  it("other commands keep the server's settings", async () => {
    const a = [await answer('/plain/app.fcgi'), await answer('/plain/app.fcgi'), await answer('/plain/app.fcgi')];
    expect(new Set(a.map((x) => x.split(' ')[0])).size).toBe(1);
    expect(a[0]).toMatch(/ foo=- baz=global$/);
  }, 30_000);

  it("a command that does not exist stops the server with Apache's message", async () => {
    const conf = join(base, 'bad.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\nFcgidCmdOptions /no/such/app.fcgi MaxProcesses 2\n`);
    await expect(spawnServe([site, '--port', '0', '--config', conf])).rejects.toThrow(/Command \/no\/such\/app\.fcgi cannot be accessed: \(2\)No such file or directory/);
  }, 30_000);
});
