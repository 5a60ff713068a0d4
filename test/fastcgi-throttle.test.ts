/**
 * mod_fcgid's process manager under misbehaving applications: a class that keeps crashing is
 * throttled by its spawn score (a request waits for the score to decay instead of forking a new
 * process at once), and a process busy past FcgidBusyTimeout is killed.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { PROFILES_DIR, PROJECT_ROOT } from './helpers/private-apache.js';
import { isAlive } from './helpers/processes.js';

const base = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-throttle-'));
let server: ServeChild;

const APP = (behaviour: 'crash' | 'trickle' | 'hello'): string => `#!/usr/bin/env python3
import os, socket, struct, sys, time
listener = socket.socket(fileno=0)
def record(t, body):
    return struct.pack('>BBHHBB', 1, t, 1, len(body), 0, 0) + body
conn, _ = listener.accept()
conn.recv(65536)
${
  behaviour === 'crash'
    ? 'sys.exit(1)'
    : behaviour === 'hello'
      ? `conn.sendall(record(6, b'Content-Type: text/plain\\r\\n\\r\\n%d' % os.getpid()) + record(6, b'') + record(3, b'\\x00' * 8))
conn.close()
time.sleep(3600)`
      : `conn.sendall(record(6, b'Content-Type: text/plain\\r\\n\\r\\n'))
while True:
    conn.sendall(record(6, b'.'))
    time.sleep(0.2)`
}
`;

beforeAll(async () => {
  const site = join(base, 'site');
  mkdirSync(site);
  for (const b of ['crash', 'trickle', 'hello'] as const) {
    writeFileSync(join(site, `${b}.fcgi`), APP(b));
    chmodSync(join(site, `${b}.fcgi`), 0o755);
  }
  // Output trickles in under FcgidIOTimeout, so only the busy timeout can stop it.
  writeFileSync(
    join(base, 'host.conf'),
    `Include "${PROFILES_DIR}/apache.conf"\nFcgidSpawnScoreUpLimit 4\nFcgidBusyTimeout 2\nFcgidBusyScanInterval 1\nFcgidIOTimeout 30\nFcgidIdleTimeout 1\nFcgidIdleScanInterval 1\nFcgidMinProcessesPerClass 0\n`,
  );
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
});

afterAll(async () => {
  await server?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('FastCGI process manager limits', () => {
  it('a class that keeps crashing is throttled by its spawn score, then spawns again', async () => {
    // Each crash costs 1 (spawn) + 2 (exit): after two the score is 6, over the limit of 4.
    const throttled = (): string[] =>
      server
        .log()
        .split('\n')
        .filter((l) => l.includes('spawn score over'));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      if (i === 2) expect(throttled(), 'the first two spawns are not throttled').toEqual([]);
      const t0 = Date.now();
      expect((await get(server.port, '/crash.fcgi')).status).toBe(500);
      times.push(Date.now() - t0);
    }
    // The third waits until the score has fallen below 4. The score decays at whole seconds, so
    // the wait depends on where the crashes fell; the log says how many seconds were left.
    for (let i = 0; i < 40 && throttled().length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    const line = throttled()[0];
    expect(line, 'the third spawn is throttled').toBeDefined();
    const seconds = Number(/next spawn in (\d+) s/.exec(line!)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(times[2]).toBeGreaterThanOrEqual((seconds - 1) * 1000);
  }, 30_000);

  it('HtsandboxFcgidSleepQuirk On: a request that finds the class busy sleeps a second, as mod_fcgid does', async () => {
    const qbase = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-quirk-'));
    mkdirSync(join(qbase, 'site'));
    copyFileSync(join(PROJECT_ROOT, 'test/fixtures/mux_app.py'), join(qbase, 'site', 'app.fcgi'));
    chmodSync(join(qbase, 'site', 'app.fcgi'), 0o755);
    writeFileSync(join(qbase, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nFcgidMaxProcessesPerClass 1\nHtsandboxFcgidSleepQuirk On\n`);
    const q = await spawnServe([join(qbase, 'site'), '--port', '0', '--config', join(qbase, 'host.conf')]);
    try {
      expect((await get(q.port, '/app.fcgi')).status).toBe(200);
      const t0 = Date.now();
      const took = await Promise.all(
        [0, 1].map(async (i) => {
          expect((await get(q.port, `/app.fcgi?sleep=0.2&n=${i}`)).status).toBe(200);
          return Date.now() - t0;
        }),
      );
      // Handed over at once the second would end near 0.4 s; mod_fcgid's sleep makes it 1 s or more.
      expect(Math.max(...took)).toBeGreaterThanOrEqual(1000);
    } finally {
      await q.stop();
      rmSync(qbase, { recursive: true, force: true });
    }
  }, 30_000);

  it('an idle process is ended after FcgidIdleTimeout, at the next idle scan', async () => {
    const pid = Number((await get(server.port, '/hello.fcgi')).body.toString());
    expect(pid).toBeGreaterThan(1);
    const alive = (): boolean => isAlive(pid);
    for (let i = 0; i < 80 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  }, 30_000);

  it('a process busy past FcgidBusyTimeout is killed and the request ends with a 500', async () => {
    const r = await get(server.port, '/trickle.fcgi');
    expect(r.status).toBe(500);
    // The error log is written asynchronously.
    for (let i = 0; i < 40 && !/busy for over FcgidBusyTimeout/.test(server.log()); i++) await new Promise((res) => setTimeout(res, 50));
    expect(server.log()).toMatch(/busy for over FcgidBusyTimeout \(2 s\): killed/);
  }, 30_000);
});
