/**
 * A server that is SIGKILLed leaves its FastCGI applications running; the next server to start
 * ends them, after checking each pid's start time (a reused pid is never killed).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, spawnServe } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';
import { processStartTime, reapLeftovers, STATE_DIR_PREFIX } from '../src/adapters/process-table.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const base = mkdtempSync(join(tmpdir(), 'htsandbox-orphans-'));
const MARK = `fcgi-orphan-${process.pid}`;
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Waits (a loaded machine takes a moment to end a killed process) until none runs, or 3 s. */
async function noneRunning(): Promise<number[]> {
  for (let i = 0; i < 30 && running().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return running();
}

function running(): number[] {
  try {
    return execFileSync('pgrep', ['-f', MARK]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('state directories of servers that are gone', () => {
  it('never kills a process whose pid was reused (start time differs) and removes the directory', () => {
    const parent = mkdtempSync(join(base, 'tmp-'));
    const bystander = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const dir = join(parent, `${STATE_DIR_PREFIX}999999-1`);
    mkdirSync(dir);
    // The server that wrote this is gone (no such pid); its "application" is now someone else.
    writeFileSync(join(dir, 'server.pid'), '999999 12345\n');
    writeFileSync(join(dir, `${bystander.pid}.app`), `${Number(processStartTime(bystander.pid!)) + 1}\n`);
    expect(reapLeftovers(parent)).toEqual([]);
    expect(processStartTime(bystander.pid!)).toBeDefined();
    expect(existsSync(dir)).toBe(false);
    bystander.kill('SIGKILL');
  });

  it('ends the groups its groups.log still records (not the ones it forgot, not a reused id)', async () => {
    const parent = mkdtempSync(join(base, 'tmp-'));
    // Each in a process group of its own, as a script is.
    const left = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const forgotten = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const reused = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const stat = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    const line = (pid: number, startShift = 0) => `+${pid} ${Number(stat(pid)[19]) + startShift} ${stat(pid)[3]}`;
    const dir = join(parent, `${STATE_DIR_PREFIX}999996-1`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'server.pid'), '999996 12345\n');
    // The last line is torn, as by a SIGKILL in the middle of a write.
    writeFileSync(join(dir, 'groups.log'), `${line(left.pid!)}\n${line(forgotten.pid!)}\n${line(reused.pid!, 1)}\n-${forgotten.pid}\n+12`);
    const exited = new Promise((r) => left.once('exit', r));
    expect(reapLeftovers(parent)).toEqual([left.pid]);
    await exited;
    expect(processStartTime(forgotten.pid!)).toBeDefined();
    expect(processStartTime(reused.pid!)).toBeDefined();
    expect(existsSync(dir)).toBe(false);
    forgotten.kill('SIGKILL');
    reused.kill('SIGKILL');
  });

  it('removes an unclaimed directory only once it has stayed empty for a minute', () => {
    const parent = mkdtempSync(join(base, 'tmp-'));
    const old = join(parent, `${STATE_DIR_PREFIX}999998-1`);
    const fresh = join(parent, `${STATE_DIR_PREFIX}999997-1`);
    mkdirSync(old);
    mkdirSync(fresh);
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    utimesSync(old, twoMinutesAgo, twoMinutesAgo);
    expect(reapLeftovers(parent)).toEqual([]);
    expect(existsSync(old)).toBe(false);
    // A server may be between creating its directory and claiming it.
    expect(existsSync(fresh)).toBe(true);
  });

  it('leaves the directory of a live server alone', () => {
    const parent = mkdtempSync(join(base, 'tmp-'));
    const dir = join(parent, `${STATE_DIR_PREFIX}${process.pid}-1`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'server.pid'), `${process.pid} ${processStartTime(process.pid)}\n`);
    expect(reapLeftovers(parent)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  });
});

describe.runIf(havePerlFcgi)('applications of a SIGKILLed server', () => {
  it('are ended by the next server that starts', async () => {
    const privateTmp = mkdtempSync(join(base, 'tmp-'));
    const site = join(base, 'site');
    mkdirSync(site);
    const app = join(site, `${MARK}.fcgi`);
    writeFileSync(app, `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\npid=$$\\n"; }\n`);
    chmodSync(app, 0o755);
    const conf = join(base, 'host.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\n`);
    const env = { ...process.env, TMPDIR: privateTmp };
    const first = await spawnServe([site, '--port', '0', '--config', conf], env);
    expect((await get(first.port, `/${MARK}.fcgi`)).status).toBe(200);
    expect(running().length).toBe(1);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    expect(running().length).toBe(1); // orphaned, as with any killed parent
    const second = await spawnServe([site, '--port', '0', '--config', conf], env);
    expect(await noneRunning()).toEqual([]);
    // The log goes out asynchronously (stderr), after the "serving" line (stdout) may have come.
    for (let i = 0; i < 30 && !/ended \d+ process/.test(second.log()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(second.log()).toMatch(/ended 1 process\(es\)/);
    // Only the live server's directory remains (created when its first application starts).
    expect(readdirSync(privateTmp).filter((n) => n.startsWith(STATE_DIR_PREFIX))).toEqual([]);
    expect((await get(second.port, `/${MARK}.fcgi`)).status).toBe(200);
    expect(await second.stop()).toBe(0);
    expect(await noneRunning()).toEqual([]);
  });
});
