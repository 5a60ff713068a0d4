/** mod_fcgid's process-manager policy (pure): selection, spawn throttling, the periodic scan. */
import { describe, expect, it } from 'vitest';
import { decideAcquire, decideSweep, DEFAULT_FCGI_LIMITS, scoreAfter, spawnWaitMs, type ProcRecord } from '../src/engine/fcgi-spawn-policy.js';

const rec = (id: number, state: ProcRecord['state'], lastActiveAt: number, classKey = 'a', startedAt = 0): ProcRecord => ({
  id,
  classKey,
  state,
  requests: 0,
  startedAt,
  lastActiveAt,
});
const limits = { ...DEFAULT_FCGI_LIMITS, maxPerClass: 2 };

describe('FastCGI spawn policy', () => {
  it('reuses the most recently idle process of the class, else spawns, else waits', () => {
    expect(decideAcquire([rec(1, 'idle', 10), rec(2, 'idle', 30), rec(3, 'idle', 50, 'b')], 'a', limits)).toEqual({ action: 'use', id: 2 });
    expect(decideAcquire([rec(1, 'busy', 10)], 'a', limits)).toEqual({ action: 'spawn' });
    expect(decideAcquire([rec(1, 'busy', 10), rec(2, 'busy', 10)], 'a', limits)).toEqual({ action: 'wait' });
    // A dying process does not count against the class.
    expect(decideAcquire([rec(1, 'busy', 10), rec(2, 'dying', 10)], 'a', limits)).toEqual({ action: 'spawn' });
    expect(decideAcquire([rec(1, 'busy', 10)], 'a', { ...limits, maxProcesses: 1 })).toEqual({ action: 'wait' });
    // A throttled class waits for its score, not for a process.
    expect(decideAcquire([], 'a', limits, 1500)).toEqual({ action: 'wait', retryInMs: 1500 });
  });

  it('spawn score: +1 per spawn, +2 per exit, -1 per whole second; over the limit a spawn waits', () => {
    let s = scoreAfter('spawn', undefined, 10_000, limits);
    expect(s).toEqual({ score: 1, atSec: 10 });
    s = scoreAfter('exit', s, 10_400, limits);
    expect(s).toEqual({ score: 3, atSec: 10 });
    for (let i = 0; i < 3; i++) s = scoreAfter('exit', scoreAfter('spawn', s, 10_500, limits), 10_600, limits);
    expect(s.score).toBe(12);
    expect(spawnWaitMs(undefined, 10_600, limits)).toBe(0);
    // 12 at second 10 falls below 10 at second 13: 2 400 ms from 10.6 s.
    expect(spawnWaitMs(s, 10_600, limits)).toBe(2400);
    expect(spawnWaitMs(s, 13_000, limits)).toBe(0);
    // mod_fcgid adds first, then takes off the elapsed seconds, then floors at 0.
    expect(scoreAfter('spawn', s, 30_000, limits)).toEqual({ score: 0, atSec: 30 });
    expect(spawnWaitMs({ score: 50, atSec: 0 }, 0, { ...limits, timeScore: 0 })).toBe(Number.POSITIVE_INFINITY);
  });

  it('the scan retires idle processes past the idle timeout above the class minimum, and hung busy ones', () => {
    const l = { ...limits, idleTimeoutMs: 1000, minPerClass: 1, lifetimeMs: 0, busyTimeoutMs: 5000 };
    const table = [rec(1, 'idle', 0), rec(2, 'idle', 100), rec(3, 'busy', 0), rec(4, 'busy', 9000)];
    // The busy process 4 keeps the class at its minimum of 1.
    expect(decideSweep(table, 9500, l)).toEqual([
      { id: 3, reason: 'busy timeout' },
      { id: 1, reason: 'idle timeout' },
      { id: 2, reason: 'idle timeout' },
    ]);
    expect(decideSweep([rec(1, 'idle', 0), rec(2, 'idle', 100)], 9500, l)).toEqual([{ id: 1, reason: 'idle timeout' }]);
    expect(decideSweep(table, 9500, { ...l, busyTimeoutMs: 0, idleTimeoutMs: 0 })).toEqual([]);
    expect(decideSweep([rec(1, 'idle', 9000, 'a', 0), rec(2, 'idle', 9000)], 9500, { ...l, lifetimeMs: 5000, minPerClass: 0 })).toEqual([
      { id: 1, reason: 'lifetime expired' },
      { id: 2, reason: 'lifetime expired' },
    ]);
  });
});
