import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FcgiProcessPool, type AcquireError, type FcgiApp, type FcgiLease } from '../src/adapters/fcgi-process-pool.js';
import { DEFAULT_FCGI_LIMITS } from '../src/engine/fcgi-spawn-policy.js';
import { isAlive } from './helpers/processes.js';

// The pool's waiting line, without any FastCGI traffic: a lease is only a claim on a process,
// so `sleep` stands in for an application.
const app: FcgiApp = { classKey: 'sleep', program: '/bin/sleep', args: ['30'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, label: '/bin/sleep' };

type Outcome = { lease: FcgiLease } | { error: AcquireError };
const acquire = (pool: FcgiProcessPool): Promise<Outcome> => new Promise((resolve) => pool.acquire(app, (error, lease) => resolve(error ? { error } : { lease: lease! })));

let pool: FcgiProcessPool | undefined;
let dir: string | undefined;
afterEach(async () => {
  await pool?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('FcgiProcessPool waiting line', () => {
  it('hands a freed process to the oldest waiting request at once, and gives 503 (NO_SLOT) to those still waiting at the deadline', async () => {
    dir = mkdtempSync(join(tmpdir(), 'htsandbox-pool-'));
    pool = new FcgiProcessPool({ ...DEFAULT_FCGI_LIMITS, maxPerClass: 1, busyWaitMs: 400 }, join(dir, 'sockets'), () => undefined);
    const first = await acquire(pool);
    if (!('lease' in first)) throw first.error;
    const order: string[] = [];
    let second: Outcome | undefined;
    pool.acquire(app, (error, lease) => {
      order.push('second');
      second = error ? { error } : { lease: lease! };
    });
    const third = acquire(pool).then((o) => (order.push('third'), o));
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual([]);
    // Handed over within release() itself, not after a sleep as mod_fcgid would.
    first.lease.release(true);
    const got = second;
    if (!got || !('lease' in got)) throw got?.error ?? new Error('the waiting request was not handed the freed process');
    expect(got.lease.pid).toBe(first.lease.pid);
    // The third keeps waiting (the second holds the only process) until its deadline.
    const late = await third;
    expect('error' in late && late.error.code).toBe('NO_SLOT');
    expect(order).toEqual(['second', 'third']);
    got.lease.release(true);
    const pid = got.lease.pid;
    await pool.shutdown();
    pool = undefined;
    expect(isAlive(pid)).toBe(false);
  });
});
