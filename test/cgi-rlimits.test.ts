/**
 * RLimitCPU / RLimitMEM / RLimitNPROC reach CGI children as mod_cgid sets them (setrlimit in the
 * child before exec; RLimitMEM is RLIMIT_AS): with the native helper (fork, setrlimit, exec) and
 * with Node's spawn (HTSANDBOX_NODE_SPAWN=1: prlimit(1) wraps the script). RLIMIT_NPROC does
 * nothing for root, so as root the server runs as `User www-data` for that part.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { apacheMissing, peerAvailable, REQUIRE_PEERS } from './helpers/peers.js';
import { PROFILES_DIR, startPrivateApache, type PrivateApache } from './helpers/private-apache.js';
import { atol, resolveRLimit } from '../src/engine/resource-limits.js';

const ROOT = join(import.meta.dirname, '..');
const nativeBuilt = existsSync(join(ROOT, 'build/Release/fast_spawn.node'));
const prlimitFound = ['/usr/bin/prlimit', '/bin/prlimit'].some((p) => existsSync(p));
const missing = (what: string): void => {
  if (REQUIRE_PEERS) throw new Error(`cgi-rlimits: ${what}`);
  process.stderr.write(`[skip] cgi-rlimits: ${what}\n`);
};
if (!nativeBuilt) missing('the native helper is not built (npm install): its path is not tested');
if (!prlimitFound) missing('prlimit(1) not found (apt-get install util-linux): the fallback path is not tested');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let hasWwwData = false;
try {
  execFileSync('id', ['www-data'], { stdio: 'ignore' });
  hasWwwData = true;
} catch {
  hasWwwData = false;
}
if (isRoot && !hasWwwData) missing('running as root without a www-data user: RLimitNPROC (a no-op for root) is not tested');

describe('ap_unixd_set_rlimit (engine)', () => {
  const base = { soft: 8, hard: 100 };
  it('reads numbers as atol: units are not understood, a leading number is taken', () => {
    expect(atol('100M')).toBe(100);
    expect(atol('abc')).toBe(0);
    expect(atol(' 42')).toBe(42);
    expect(atol('-1')).toBe(Infinity);
  });
  it("'max' is the hard limit; as root a 0 leaves a half unchanged", () => {
    expect(resolveRLimit('RLimitCPU', { soft: 'max', hard: undefined }, base, true).value).toEqual({ soft: 100, hard: 100 });
    expect(resolveRLimit('RLimitCPU', { soft: '0', hard: '50' }, base, true).value).toEqual({ soft: 8, hard: 50 });
    expect(resolveRLimit('RLimitCPU', { soft: '5', hard: '200' }, base, true).value).toEqual({ soft: 5, hard: 200 });
  });
  it('not as root: the soft value is taken as given, the hard one may only go down (AH02174)', () => {
    expect(resolveRLimit('RLimitCPU', { soft: '0', hard: undefined }, base, false).value).toEqual({ soft: 0, hard: 100 });
    expect(resolveRLimit('RLimitCPU', { soft: '5', hard: '50' }, base, false).value).toEqual({ soft: 5, hard: 50 });
    const raised = resolveRLimit('RLimitNPROC', { soft: '5', hard: '200' }, base, false);
    expect(raised.value).toEqual({ soft: 5, hard: 100 });
    expect(raised.warning).toBe('AH02174: Must be uid 0 to raise maximum RLimitNPROC');
    // Only the first word knows 'max': a second 'max' is atol'd to 0, which changes nothing.
    expect(resolveRLimit('RLimitMEM', { soft: '5', hard: 'max' }, base, true).value).toEqual({ soft: 5, hard: 100 });
  });
});

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-rlimits-'));
  chmodSync(base, 0o755);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const perlScript = (dir: string, name: string, body: string): void => {
  writeFileSync(join(dir, name), `#!/usr/bin/perl\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
};

function makeSite(site: string): void {
  mkdirSync(site);
  writeFileSync(join(site, '.htaccess'), 'Options +ExecCGI\nAddHandler cgi-script .cgi\n');
  for (const [dir, limit] of [
    ['mem', 'RLimitMEM 67108864'],
    ['nomem', ''],
    ['cpu', 'RLimitCPU 1'],
    ['nproc', 'RLimitNPROC 20'],
    ['nonproc', ''],
    ['units', 'RLimitMEM 100M'],
  ] as const) {
    mkdirSync(join(site, dir));
    writeFileSync(join(site, dir, '.htaccess'), `${limit}\n`);
  }
  // 150 MiB, computed at run time (perl would fold a constant at compile time).
  const alloc = 'my $n = 150 + length($ENV{QUERY_STRING} || "");\nmy $x = "x" x ($n * 1048576);\nprint "Content-Type: text/plain\\n\\nallocated $n MiB\\n";';
  perlScript(join(site, 'mem'), 'alloc.cgi', alloc);
  perlScript(join(site, 'nomem'), 'alloc.cgi', alloc);
  perlScript(join(site, 'cpu'), 'busy.cgi', '1 while 1;');
  // Apache reads "100M" with atol: 100 bytes, in which no program can start.
  writeFileSync(join(site, 'units', 'hello.cgi'), "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n");
  chmodSync(join(site, 'units', 'hello.cgi'), 0o755);
  // Forks 50 children (each waits to be ended), says how many forks succeeded, ends them.
  const forker =
    'my @kids;\nfor (1 .. 50) { my $p = fork(); last unless defined $p; if ($p == 0) { sleep 10; exit 0; } push @kids, $p; }\nkill "KILL", @kids; waitpid($_, 0) for @kids;\nprint "Content-Type: text/plain\\n\\nforked " . scalar(@kids) . "\\n";';
  perlScript(join(site, 'nproc'), 'fork.cgi', forker);
  perlScript(join(site, 'nonproc'), 'fork.cgi', forker);
}

const modes = [
  { name: 'native helper', env: {}, run: nativeBuilt },
  { name: 'prlimit(1) with HTSANDBOX_NODE_SPAWN=1', env: { HTSANDBOX_NODE_SPAWN: '1' }, run: prlimitFound },
];

for (const mode of modes) {
  describe.runIf(mode.run)(`CGI resource limits (${mode.name})`, () => {
    let server: ServeChild;
    beforeAll(async () => {
      const dir = mkdtempSync(join(base, 'mode-'));
      chmodSync(dir, 0o755);
      const site = join(dir, 'site');
      makeSite(site);
      const privateTmp = join(dir, 'tmp');
      mkdirSync(privateTmp);
      chmodSync(privateTmp, 0o1777);
      const asUser = isRoot && hasWwwData;
      if (asUser) execFileSync('chown', ['-R', 'www-data:www-data', site]);
      const conf = join(dir, 'host.conf');
      writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\nTimeout 30\n${asUser ? 'User www-data\nGroup www-data\n' : ''}`);
      server = await spawnServe([site, '--port', '0', '--config', conf], { ...process.env, TMPDIR: privateTmp, ...mode.env });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('RLimitMEM (RLIMIT_AS): a script allocating past it fails; without it the same script runs', async () => {
      const limited = await get(server.port, '/mem/alloc.cgi');
      expect(limited.status).toBe(500);
      // perl's own message, from the script's stderr (it may reach the log after the response).
      for (let i = 0; i < 40 && !/Out of memory/.test(server.log()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(server.log()).toMatch(/Out of memory/);
      const free = await get(server.port, '/nomem/alloc.cgi');
      expect(free.status).toBe(200);
      expect(free.body.toString()).toBe('allocated 150 MiB\n');
      // "100M" is 100 bytes (no units, as Apache's atol): the script cannot even start.
      expect((await get(server.port, '/units/hello.cgi')).status).toBe(500);
    });

    it('RLimitCPU: a busy loop is killed after a second of CPU, long before Timeout', async () => {
      const t0 = Date.now();
      const r = await get(server.port, '/cpu/busy.cgi');
      expect(r.status).toBe(500);
      expect(Date.now() - t0).toBeLessThan(15_000);
    }, 30_000);

    it.runIf(!isRoot || hasWwwData)('RLimitNPROC: forking stops at the limit (counted over the real uid)', async () => {
      const limited = await get(server.port, '/nproc/fork.cgi');
      expect(limited.status).toBe(200);
      const n = Number(/forked (\d+)/.exec(limited.body.toString())?.[1]);
      expect(n).toBeLessThan(20);
      const free = await get(server.port, '/nonproc/fork.cgi');
      expect(free.body.toString()).toBe('forked 50\n');
    });
  });
}

describe.runIf(peerAvailable('Apache for the RLimit comparison', apacheMissing()))('Apache 2.4 + mod_cgid with the same site', () => {
  let apache: PrivateApache;
  beforeAll(async () => {
    const site = join(mkdtempSync(join(base, 'apache-')), 'site');
    makeSite(site);
    apache = await startPrivateApache({ site, extraConfig: 'Timeout 30' });
  }, 60_000);
  afterAll(async () => {
    await apache?.stop();
  });

  it('answers as htsandbox does: 500 past RLimitMEM and RLimitCPU, forks stop at RLimitNPROC', async () => {
    expect((await get(apache.port, '/mem/alloc.cgi')).status).toBe(500);
    expect((await get(apache.port, '/nomem/alloc.cgi')).body.toString()).toBe('allocated 150 MiB\n');
    expect((await get(apache.port, '/units/hello.cgi')).status).toBe(500);
    const t0 = Date.now();
    expect((await get(apache.port, '/cpu/busy.cgi')).status).toBe(500);
    expect(Date.now() - t0).toBeLessThan(15_000);
    if (isRoot && !hasWwwData) return;
    const limited = await get(apache.port, '/nproc/fork.cgi');
    expect(Number(/forked (\d+)/.exec(limited.body.toString())?.[1])).toBeLessThan(20);
    expect((await get(apache.port, '/nonproc/fork.cgi')).body.toString()).toBe('forked 50\n');
  }, 40_000);
});
