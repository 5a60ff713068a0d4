/**
 * Nothing a server or its scripts start outlives it: after SIGTERM, and after SIGKILL plus a
 * restart, no process remains — CGI scripts that fork children (`sleep &`, a double fork), a hung
 * CGI, FastCGI applications and their children. The real CLI (dist/, built by `tsc`) runs once
 * with the native helper and once with Node's spawn (HTSANDBOX_NODE_SPAWN=1). Every process a
 * test script starts carries an environment mark, found through /proc/PID/environ.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { perlFcgiMissing, REQUIRE_PEERS } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const ROOT = join(import.meta.dirname, '..');
const nativeBuilt = existsSync(join(ROOT, 'build/Release/fast_spawn.node'));
if (!nativeBuilt) {
  if (REQUIRE_PEERS) throw new Error('process-cleanup: the native helper is not built (npm install)');
  process.stderr.write('[skip] process-cleanup with the native helper: build/Release/fast_spawn.node missing (npm install)\n');
}
const perlFcgi = perlFcgiMissing() === undefined;
if (!perlFcgi) {
  if (REQUIRE_PEERS) throw new Error(`process-cleanup: ${perlFcgiMissing()}`);
  process.stderr.write(`[skip] process-cleanup FastCGI parts: ${perlFcgiMissing()}\n`);
}

// As root, where cgroup v2 is mounted, the CLI holds everything in a cgroup of its own: then even
// a daemon in its own session is ended without the native helper's subreaper.
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const cgroupV2 = isRoot && readFileSync('/proc/self/mountinfo', 'latin1').includes(' - cgroup2 ');
if (!cgroupV2) process.stderr.write('[skip] process-cleanup of setsid daemons without the native helper: needs root and a cgroup v2 mount\n');

const MARK = `HTSANDBOX_CLEANUP_MARK=${process.pid}`;
let base: string;

/** Pids of live (not zombie) processes whose environment carries `mark` (or, with `prefix`, starts with it). */
function marked(mark: string, prefix = false): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const env = readFileSync(`/proc/${n}/environ`, 'latin1').split('\0');
      if (!env.some((e) => (prefix ? e.startsWith(mark) : e === mark))) continue;
      const stat = readFileSync(`/proc/${n}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') out.push(Number(n));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** Zombie children of `pid` (exited, never reaped). */
function zombieChildrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'latin1').split(' ').filter(Boolean)) {
      try {
        const stat = readFileSync(`/proc/${c}/stat`, 'latin1');
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') out.push(Number(c));
      } catch {
        /* reaped meanwhile */
      }
    }
  }
  return out;
}

/** Starts a request that will not finish by itself; resolves when its connection ends. */
function hangingRequest(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Connection: 'close' } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(`ended ${res.statusCode}`));
      res.on('error', () => resolve(`cut ${res.statusCode}`));
    });
    req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
    req.end();
  });
}

function makeSite(dir: string, mark: string, detach: boolean): void {
  mkdirSync(dir);
  const script = (name: string, body: string): void => {
    writeFileSync(join(dir, name), `#!/bin/sh\nexport ${mark}\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  // A background child, a double-forked grandchild, an orphan that exits soon (must be reaped)
  // and, where the subreaper or a cgroup can hold it, a daemon in a session of its own.
  script(
    'fork.cgi',
    [
      'sleep 300 </dev/null >/dev/null 2>&1 &',
      '( sleep 301 </dev/null >/dev/null 2>&1 & ) ',
      '( sleep 0.2 </dev/null >/dev/null 2>&1 & )',
      detach ? "setsid sh -c 'sleep 302' </dev/null >/dev/null 2>&1 &" : ':',
      "printf 'Content-Type: text/plain\\n\\nforked\\n'",
    ].join('\n'),
  );
  script('hang.cgi', "printf 'Content-Type: text/plain\\n\\nstarted\\n'\nsleep 303");
  writeFileSync(join(dir, '.htaccess'), 'Options +ExecCGI\nAddHandler cgi-script .cgi\n');
  // A FastCGI application that starts a child of its own.
  writeFileSync(
    join(dir, 'app.fcgi'),
    `#!/usr/bin/perl\nuse FCGI;\nif (fork() == 0) { exec('sleep', '304'); }\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\nfcgi\\n"; }\n`,
  );
  chmodSync(join(dir, 'app.fcgi'), 0o755);
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-cleanup-'));
});
afterAll(() => {
  // A failed test must not leave its processes behind either.
  for (const pid of marked(MARK, true)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(base, { recursive: true, force: true });
});

const modes = [
  { name: 'native helper', env: {}, run: nativeBuilt, detach: true, subreaper: true },
  { name: "Node's spawn (HTSANDBOX_NODE_SPAWN=1)", env: { HTSANDBOX_NODE_SPAWN: '1' }, run: true, detach: cgroupV2, subreaper: false },
];

for (const mode of modes) {
  describe.runIf(mode.run)(`every process ends with the server (${mode.name})`, () => {
    let n = 0;
    const setup = async (): Promise<{ server: ServeChild; env: NodeJS.ProcessEnv; site: string; conf: string; mark: string; hung: Promise<string> }> => {
      const dir = join(base, `${mode.subreaper ? 'native' : 'node'}-${n++}`);
      mkdirSync(dir);
      const privateTmp = join(dir, 'tmp');
      mkdirSync(privateTmp);
      const mark = `${MARK}-${dir.split('/').pop()}`;
      const site = join(dir, 'site');
      makeSite(site, mark, mode.detach);
      const conf = join(dir, 'host.conf');
      // The application gets the mark in its environment from the server (FcgidInitialEnv).
      writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\nFcgidInitialEnv ${mark.replace('=', ' ')}\n`);
      const env = { ...process.env, TMPDIR: privateTmp, ...mode.env };
      const server = await spawnServe([site, '--port', '0', '--config', conf], env);
      expect((await get(server.port, '/fork.cgi')).body.toString()).toBe('forked\n');
      const hung = hangingRequest(server.port, '/hang.cgi');
      if (perlFcgi) expect((await get(server.port, '/app.fcgi')).body.toString()).toBe('fcgi\n');
      // fork.cgi: 2 sleeps (+ the detached sh and its sleep); hang.cgi: sh and sleep; app.fcgi: perl and sleep.
      const expected = 2 + (mode.detach ? 2 : 0) + 2 + (perlFcgi ? 2 : 0);
      expect(await until(() => marked(mark).length >= expected, 5000)).toBe(true);
      return { server, env, site, conf, mark, hung };
    };

    it('SIGTERM: the hung request gets the grace period, then nothing is left', async () => {
      const { server, mark, hung } = await setup();
      // The sleep 0.2 orphan has exited by now: as a subreaper we must have reaped it.
      await new Promise((r) => setTimeout(r, 1500));
      if (mode.subreaper) expect(zombieChildrenOf(server.child.pid!)).toEqual([]);
      const t0 = Date.now();
      expect(await server.stop()).toBe(0);
      // SHUTDOWN_GRACE_MS (5 s) for the hung request, then SIGTERM and at most 2 s to SIGKILL.
      expect(Date.now() - t0).toBeLessThan(9000);
      expect(Date.now() - t0).toBeGreaterThan(4000);
      expect(await hung).toMatch(/^(cut|error|ended) /);
      expect(await until(() => marked(mark).length === 0, 3000)).toBe(true);
    }, 30_000);

    it('SIGKILL, then a restart: the next server ends what the first one left', async () => {
      const { server, env, site, conf, mark } = await setup();
      server.child.kill('SIGKILL');
      await new Promise((r) => server.child.once('exit', r));
      // As with any killed parent, the children live on...
      expect(marked(mark).length).toBeGreaterThan(0);
      // ...until the next server starts.
      const second = await spawnServe([site, '--port', '0', '--config', conf], env);
      expect(await until(() => marked(mark).length === 0, 5000)).toBe(true);
      // The log goes out asynchronously (stderr), after the "serving" line (stdout) may have come.
      expect(await until(() => /ended \d+ process\(es\)/.test(second.log()), 3000)).toBe(true);
      expect(await second.stop()).toBe(0);
    }, 30_000);
  });
}
