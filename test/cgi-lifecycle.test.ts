/** CGI processes are accounted for: timeouts and client aborts leave nothing behind, no fd leaks. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

let base: string;
let server: RunningServer;
const MARK = `htsandbox-lifecycle-${process.pid}`;
const LINGER = `htsandbox-linger-${process.pid}`;

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

/** Whether `pid` has exited (or is a zombie) within `ms`. */
async function gone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    let state: string | undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    } catch {
      state = undefined;
    }
    if (state === undefined || state === 'Z') return true;
    if (Date.now() >= end) return false;
    await sleep(50);
  }
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-cgi-life-'));
  mkdirSync(join(base, 'site'));
  script('fast.cgi', 'printf "Content-Type: text/plain\\r\\n\\r\\nfast\\n"');
  // A child of the script too, to check the whole process group goes.
  script('slow.cgi', `sh -c 'sleep 30 # ${MARK}' & sleep 30 # ${MARK}\nprintf "Content-Type: text/plain\\r\\n\\r\\nlate\\n"`);
  // Scripts that go on after closing stdin, stdout and stderr (Apache's response ends there: its
  // script's stdin and stdout are one socket), checked against Apache 2.4.71: the script gets
  // SIGTERM at once, SIGKILL after 3 s (AH01259) when it ignores SIGTERM.
  script('linger.cgi', `sh -c 'sleep 30 # ${LINGER}' </dev/null >/dev/null 2>&1 &\nprintf "Content-Type: text/plain\r\n\r\n$$\n"\nexec sleep 30 <&- >&- 2>&-`);
  script('stubborn.cgi', `trap '' TERM\nprintf "Content-Type: text/plain\r\n\r\n$$\n"\nexec <&- >&- 2>&-\nsleep 8`);
  // Cleans up on SIGTERM (mod_cgid's first signal), then exits.
  script('tidy.cgi', `trap 'echo cleaned > "${'$'}{0%/*}/../tidy.out"; exit 0' TERM\nsleep 30 &\nwait`);
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

  it('a script that timed out gets SIGTERM first, so it can clean up', async () => {
    const r = await get(server.port, '/tidy.cgi');
    expect(r.status).toBe(504);
    let cleaned = '';
    for (let i = 0; i < 20 && !cleaned; i++) {
      await sleep(100);
      try {
        cleaned = readFileSync(join(base, 'tidy.out'), 'latin1');
      } catch {
        /* not yet */
      }
    }
    expect(cleaned).toBe('cleaned\n');
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

  it('the end of a request ends the script itself (SIGTERM), not what it started in the background', async () => {
    const r = await get(server.port, '/linger.cgi');
    const pid = Number(r.body.toString());
    expect(await gone(pid, 1500)).toBe(true);
    // As on the host, its background child lives on (until the server stops).
    expect(execFileSync('pgrep', ['-f', LINGER]).toString().trim().split('\n').length).toBeGreaterThan(0);
  }, 20_000);

  it('a script that ignores SIGTERM gets SIGKILL 3 s after the end of its request', async () => {
    const r = await get(server.port, '/stubborn.cgi');
    const pid = Number(r.body.toString());
    await sleep(1500);
    expect(await gone(pid, 0)).toBe(false);
    expect(await gone(pid, 3000)).toBe(true);
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
    const built = existsSync(join(import.meta.dirname, '../build/Release/fast_spawn.node'));
    if (process.env.HTSANDBOX_REQUIRE_PEERS === '1') expect(built).toBe(true);
    expect(SPAWN_MECHANISM).toBe(built ? 'posix_spawn' : 'child_process');
  });

  it('a spawn that runs out of file descriptors midway leaves none of its pipes open', () => {
    const helper = join(import.meta.dirname, '../build/Release/fast_spawn.node');
    if (!existsSync(helper)) {
      expect(process.env.HTSANDBOX_REQUIRE_PEERS).not.toBe('1');
      return;
    }
    // Three fds free: the stdin pipe is made, the stdout pipe fails with EMFILE.
    const probe = `
      const fs = require('fs');
      const fast = require(${JSON.stringify(helper)});
      const before = fs.readdirSync('/proc/self/fd').length;
      const fillers = [];
      try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {}
      for (let i = 0; i < 3; i++) fs.closeSync(fillers.pop());
      let threw = 0;
      for (let i = 0; i < 5; i++) { try { fast.spawn('/bin/true', ['/bin/true'], [], '/'); } catch { threw++; } }
      for (const f of fillers) fs.closeSync(f);
      console.log(JSON.stringify({ threw, leaked: fs.readdirSync('/proc/self/fd').length - before }));`;
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n 64 && exec "$0" -e "$1"', process.execPath, probe]).toString();
    expect(JSON.parse(out)).toEqual({ threw: 5, leaked: 0 });
  });
});

describe('a script that cannot be started', () => {
  it('ends its output at once and reports the error, whichever mechanism spawned it', async () => {
    const { spawnCgi } = await import('../src/adapters/cgi-process.js');
    const child = spawnCgi({ program: join(base, 'site', 'no-such-script.cgi'), args: [], cwd: base, env: {} });
    const error = new Promise<Error>((resolve) => child.onError(resolve));
    const ended = new Promise<void>((resolve) => child.stdout.once('end', resolve));
    child.stdout.resume();
    child.stderr.resume();
    child.stdin.on('error', () => undefined);
    child.stdin.end('a body nobody reads');
    const outcome = await Promise.race([ended.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('still open'), 2000))]);
    expect(outcome).toBe('ended');
    expect((await error).message).toMatch(/no such file/i);
  });
});
