/** CGI processes are accounted for: timeouts and client aborts leave nothing behind, no fd leaks. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

let base: string;
let server: RunningServer;
const MARK = `htsandbox-lifecycle-${process.pid}`;

const script = (name: string, body: string): void => {
  writeFileSync(join(base, 'site', name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(base, 'site', name), 0o755);
};

function processesWithMark(): string[] {
  try {
    return execFileSync('pgrep', ['-f', MARK]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Children of this process that exited but were not reaped. */
function zombieChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-cgi-life-'));
  mkdirSync(join(base, 'site'));
  script('fast.cgi', 'printf "Content-Type: text/plain\\r\\n\\r\\nfast\\n"');
  // A child of the script too, to check the whole process group goes.
  script('slow.cgi', `sh -c 'sleep 30 # ${MARK}' & sleep 30 # ${MARK}\nprintf "Content-Type: text/plain\\r\\n\\r\\nlate\\n"`);
  writeFileSync(join(base, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nTimeout 2\n`);
  server = await serveInProcess(join(base, 'site'), { config: join(base, 'host.conf') });
});

afterAll(async () => {
  await server.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('CGI lifecycle', () => {
  it('Timeout: a silent script gets 504 and its whole process group is killed', async () => {
    const r = await get(server.port, '/slow.cgi');
    expect(r.status).toBe(504);
    await sleep(300);
    expect(processesWithMark()).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  }, 20_000);

  it('a client that disconnects takes the script with it', async () => {
    await new Promise<void>((res) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/slow.cgi' });
      req.on('error', () => res());
      req.end();
      setTimeout(() => {
        req.destroy();
        res();
      }, 400);
    });
    await sleep(500);
    expect(processesWithMark()).toEqual([]);
  }, 20_000);

  it('200 concurrent requests all complete, with no file descriptor left open', async () => {
    await get(server.port, '/fast.cgi');
    const before = readdirSync('/proc/self/fd').length;
    const results = await Promise.all(Array.from({ length: 200 }, () => get(server.port, '/fast.cgi')));
    expect(results.every((r) => r.status === 200 && r.body.toString() === 'fast\n')).toBe(true);
    await sleep(300);
    const after = readdirSync('/proc/self/fd').length;
    expect(after).toBeLessThanOrEqual(before + 2);
    expect(zombieChildren()).toEqual([]);
  }, 60_000);
});

describe('spawning mechanism', () => {
  it('uses the posix_spawn addon when it is built (always in CI)', async () => {
    const { SPAWN_MECHANISM } = await import('../src/adapters/cgi-process.js');
    const { existsSync } = await import('node:fs');
    const built = existsSync(join(import.meta.dirname, '../build/Release/fast_spawn.node'));
    if (process.env.HTSANDBOX_REQUIRE_PEERS === '1') expect(built).toBe(true);
    expect(SPAWN_MECHANISM).toBe(built ? 'posix_spawn' : 'child_process');
  });
});
