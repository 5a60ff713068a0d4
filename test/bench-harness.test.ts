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

/**
 * Runs scripts/bench.mjs with `args`; `onOutput` sees the output so far and may signal the
 * harness. Resolves with its exit code, output and the run directory it announced.
 */
function runBench(args: string[], onOutput?: (out: string, signal: (sig: NodeJS.Signals) => void) => void): Promise<{ code: number | null; output: string; runDir: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts', 'bench.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HTSANDBOX_REQUIRE_PEERS: '1' },
    });
    let out = '';
    const take = (c: Buffer): void => {
      out += c.toString();
      onOutput?.(out, (sig) => child.kill(sig));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (c) => resolve({ code: c, output: out, runDir: /bench: working in (\S+)/.exec(out)?.[1] ?? '' }));
  });
}

describe.runIf(runs)('npm run bench -- --smoke', () => {
  it('starts every server, gets the right body from each endpoint, and leaves nothing running', async () => {
    const jsonFile = join(work, 'smoke.json');
    const { code, output } = await runBench(['--smoke', '--json', jsonFile]);
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

  it('stops what already runs when interrupted while servers start (Ctrl-C)', async () => {
    let sent = false;
    const { code, output, runDir } = await runBench(['--smoke'], (out, signal) => {
      // Apache is up, the other servers are being started.
      if (!sent && out.includes('bench: apache up')) {
        sent = true;
        signal('SIGINT');
      }
    });
    expect(sent, output).toBe(true);
    expect(code, output).toBe(130);
    expect(runDir).not.toBe('');
    expect(processesOfSite(runDir)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
  }, 150_000);

  it('fails, and still stops the others, when a server does not start', async () => {
    const notBuilt = mkdtempSync(join(work, 'not-built-'));
    // A build's serve arguments reach its serve: an unknown one stops it from starting.
    const { code, output, runDir } = await runBench(['--smoke', '--servers', 'apache', '--build', `broken=${notBuilt}`, '--build', `badarg=${PROJECT_ROOT} --no-such-option`]);
    expect(code, output).toBe(1);
    expect(output).toMatch(/broken did not start: .*is not built/);
    expect(output).toMatch(/badarg did not start/);
    expect(output).toMatch(/bench: apache up/);
    expect(processesOfSite(runDir)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
  }, 150_000);
});
