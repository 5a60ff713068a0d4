import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GROUPS_LOG, ProcessGroups, procInfo, recordedGroups } from '../src/adapters/process-groups.js';

describe('the groups log (what the next server ends after a SIGKILL)', () => {
  it('replays records and removals; the last record of a pgid wins; torn or foreign lines are skipped', () => {
    const log = ['+100 5 7', '+200 6 7', '-100', '+300 8 9', '+300 10 9', 'garbage', '+400 1', '-2', '+500 3'].join('\n');
    expect([...recordedGroups(log)]).toEqual([
      [200, { start: 6, sid: 7 }],
      [300, { start: 10, sid: 9 }],
    ]);
    expect(recordedGroups('').size).toBe(0);
  });

  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is appended per group and rewritten with the live records only once it grew long', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-groups-'));
    dirs.push(parent);
    const dir = join(parent, 'g');
    const groups = new ProcessGroups(dir);
    // An adopted orphan's group (the member's facts given): an id above pid_max, never a real group.
    const own = 999_999_999;
    groups.add(own, { pid: own, state: 'S', ppid: process.pid, pgid: own, sid: 1, start: 1 });
    expect([...recordedGroups(readFileSync(join(dir, GROUPS_LOG), 'latin1')).keys()]).toEqual([own]);
    // Many groups recorded and forgotten (as the sweep does for empty ones) keep the log bounded.
    const forget = (groups as unknown as { forget(pgid: number): void }).forget.bind(groups);
    const log = (groups as unknown as { log(line: string): void }).log.bind(groups);
    for (let i = 0; i < 5000; i++) {
      log(`+${1_000_000 + i} 1 1\n`);
      log(`-${1_000_000 + i}\n`);
    }
    forget(1_000_000); // unknown now: no line
    expect(groups.logLength).toBeLessThan(4200);
    const replayed = recordedGroups(readFileSync(join(dir, GROUPS_LOG), 'latin1'));
    expect([...replayed.keys()]).toEqual([own]);
    expect(await groups.endAll(0)).toBe(0);
    expect(groups.size).toBe(0);
  });

  it("reads a process's state, parent, group, session and start time past a command name with spaces and parentheses", async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-procinfo-'));
    dirs.push(parent);
    // The kernel's command name is the file's name (15 bytes at most): ") 1 2 (x" would shift a
    // parser that counted fields from the first ')'.
    const program = join(parent, ') 1 2 (x');
    copyFileSync('/bin/sleep', program);
    const child = spawn(program, ['5'], { stdio: 'ignore', detached: true });
    try {
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      const pid = child.pid!;
      // Until exec is done the name is still node's: wait for the new one.
      for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') 1 2 (x)'); i++) await new Promise((r) => setTimeout(r, 10));
      const info = procInfo(pid);
      const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') 1 2 (x) ')[1]!.split(' ');
      expect(info).toEqual({ pid, state: fields[0], ppid: process.pid, pgid: pid, sid: pid, start: Number(fields[19]) });
      expect(info!.start).toBeGreaterThan(0);
      expect(procInfo(process.pid)?.pid).toBe(process.pid);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
