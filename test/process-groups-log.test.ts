import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GROUPS_LOG, ProcessGroups, recordedGroups } from '../src/adapters/process-groups.js';

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
});
