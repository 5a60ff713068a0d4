/**
 * 10,000 requests at 32 connections while 1 % of them crash their process: every answer is a
 * 200 or a clean 500, the server stays up, and nothing is left after shutdown.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const base = mkdtempSync(join(tmpdir(), 'htsandbox-soak-'));
const MARK = `fcgi-soak-${process.pid}`;
let running: ServeChild | undefined;
afterAll(async () => {
  // A failed or timed-out test must not leave its server (and applications) behind.
  if (running && running.child.exitCode === null && running.child.signalCode === null) await running.stop();
  rmSync(base, { recursive: true, force: true });
});

const APP = `#!/usr/bin/env python3
import socket, struct, sys
listener = socket.socket(fileno=0)
def record(t, body):
    return struct.pack('>BBHHBB', 1, t, 1, len(body), 0, 0) + body
while True:
    conn, _ = listener.accept()
    while True:
        data = b''
        # read until the empty STDIN record (type 5, length 0) of one request
        while b'\\x01\\x05\\x00\\x01\\x00\\x00' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        if not data:
            break
        if b'crash=1' in data:
            sys.exit(1)
        conn.sendall(record(6, b'Content-Type: text/plain\\r\\n\\r\\nok\\n') + record(6, b'') + record(3, b'\\x00' * 8))
    conn.close()
`;

describe('FastCGI soak', () => {
  it('10,000 requests, 1 % crashing: only 200s and clean 500s; no orphans', async () => {
    const site = join(base, MARK);
    mkdirSync(site);
    writeFileSync(join(site, 'app.fcgi'), APP);
    chmodSync(join(site, 'app.fcgi'), 0o755);
    // mod_fcgid's spawn throttling would slow a class that crashes this often to one spawn every
    // few seconds (tested in fastcgi-throttle.test.ts); here the crashes themselves are the point.
    writeFileSync(join(base, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nFcgidSpawnScoreUpLimit 1000000\n`);
    const server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
    running = server;
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const counts = new Map<number, number>();
    let next = 0;
    const one = (i: number): Promise<void> =>
      new Promise((res) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: `/app.fcgi?crash=${i % 100 === 7 ? 1 : 0}`, agent }, (r) => {
          r.resume();
          r.on('end', () => {
            counts.set(r.statusCode ?? 0, (counts.get(r.statusCode ?? 0) ?? 0) + 1);
            res();
          });
        });
        req.on('error', () => {
          counts.set(0, (counts.get(0) ?? 0) + 1);
          res();
        });
        req.end();
      });
    const worker = async (): Promise<void> => {
      while (next < 10_000) await one(next++);
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    agent.destroy();
    const ok = counts.get(200) ?? 0;
    const failed = counts.get(500) ?? 0;
    expect(ok + failed).toBe(10_000);
    expect(failed).toBeGreaterThanOrEqual(100);
    expect(failed).toBeLessThan(300);
    expect(await server.stop()).toBe(0);
    // Every failure was logged as the host logs it.
    const logged = server
      .log()
      .split('\n')
      .filter((l) => /(End of script output|Premature end of script) (before )?headers/.test(l)).length;
    expect(logged).toBe(failed);
    await new Promise((r) => setTimeout(r, 300));
    let left: string[] = [];
    try {
      left = execFileSync('pgrep', ['-f', MARK]).toString().trim().split('\n').filter(Boolean);
    } catch {
      left = [];
    }
    expect(left).toEqual([]);
  }, 120_000);
});
