/**
 * `npm run bench -- --smoke`: the benchmark harness starts every server (Apache + mod_fcgid,
 * htsandbox, nginx + spawn-fcgi + fcgiwrap, lighttpd), checks every endpoint's body on each,
 * and stops them all, leaving no process and no directory behind. No timing is asserted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processesOfSite } from './helpers/leftovers.js';
import { apacheMissing, peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
function peersMissing(): string | undefined {
  const missing = ['nginx', 'lighttpd', 'spawn-fcgi', 'gcc'].filter((c) => !onPath(c));
  if (!existsSync('/usr/sbin/fcgiwrap')) missing.push('fcgiwrap');
  if (!existsSync('/usr/include/fcgi_stdio.h')) missing.push('libfcgi-dev');
  return missing.length ? `${missing.join(', ')} not installed (see .ci/run for the apt packages)` : undefined;
}
const runs = peerAvailable('Apache + mod_fcgid', apacheMissing()) && peerAvailable('Perl FCGI', perlFcgiMissing()) && peerAvailable('bench peers', peersMissing());

interface Recorded {
  pid: number;
  start: number;
  cmd: string;
}
interface SmokeReport {
  runDir: string;
  servers: { name: string; up: boolean; processes: Recorded[] }[];
  broken: string[];
  leftovers: Recorded[];
}

/** The stat start time of `pid` if it is running, else undefined. */
function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

const work = mkdtempSync(join(tmpdir(), 'htsandbox-bench-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.runIf(runs)('npm run bench -- --smoke', () => {
  it('starts every server, gets the right body from each endpoint, and leaves nothing running', async () => {
    const jsonFile = join(work, 'smoke.json');
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts', 'bench.mjs'), '--smoke', '--json', jsonFile], {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HTSANDBOX_REQUIRE_PEERS: '1' },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.on('close', (c) => resolve({ code: c, output: out }));
    });
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as SmokeReport;
    expect(report.servers.map((s) => [s.name, s.up])).toEqual([
      ['apache', true],
      ['htsandbox', true],
      ['nginx', true],
      ['lighttpd', true],
    ]);
    expect(report.broken).toEqual([]);
    expect(report.leftovers).toEqual([]);

    // The accounting saw what each server started: the FastCGI applications (started by
    // mod_fcgid, htsandbox, spawn-fcgi, lighttpd) and nginx's fcgiwrap workers.
    const cmds = (name: string): string[] => report.servers.find((s) => s.name === name)!.processes.map((p) => p.cmd);
    for (const name of ['apache', 'htsandbox', 'nginx', 'lighttpd']) {
      expect(
        cmds(name).some((c) => c.includes('hello-perl.fcgi')),
        `${name}: ${cmds(name).join('\n')}`,
      ).toBe(true);
    }
    expect(cmds('nginx').filter((c) => c.includes('fcgiwrap')).length, cmds('nginx').join('\n')).toBeGreaterThanOrEqual(2);

    // Nothing it started still runs (same pid AND same start time: pids get reused), nothing
    // names its directory, and the directory is gone.
    const alive = report.servers.flatMap((s) => s.processes).filter((p) => startTime(p.pid) === p.start);
    expect(alive).toEqual([]);
    expect(processesOfSite(report.runDir)).toEqual([]);
    expect(existsSync(report.runDir)).toBe(false);
  }, 150_000);
});
