/**
 * mod_fcgid's process-manager policy as pure functions over a table of process records:
 * when to reuse an idle process, spawn one, wait, or refuse; which ones to retire. The
 * mechanism that spawns, connects and kills lives in adapters/fcgi-process-pool.ts.
 */

/** mod_fcgid's limits (defaults from fcgid_conf.c; the host profile may change them). */
export interface FcgiLimits {
  /** FcgidMaxProcesses (default 1000). */
  maxProcesses: number;
  /** FcgidMaxProcessesPerClass (default 100). */
  maxPerClass: number;
  /** FcgidMinProcessesPerClass (default 3): idle ones kept past the idle timeout. */
  minPerClass: number;
  /** FcgidIdleTimeout in ms (default 300 s). */
  idleTimeoutMs: number;
  /** FcgidProcessLifeTime in ms (default 3600 s): an idle process older than this is retired. */
  lifetimeMs: number;
  /** FcgidMaxRequestsPerProcess (default 0: unlimited). */
  maxRequestsPerProcess: number;
  /** FcgidIOTimeout in ms (default 40 s). */
  ioTimeoutMs: number;
  /** FcgidMaxRequestLen in bytes (default 131072). */
  maxRequestLen: number;
  /** FcgidMaxRequestInMem in bytes (default 65536): the rest of a body is spooled to a file. */
  maxRequestInMem: number;
  /** FcgidOutputBufferSize in bytes (default 65536): output is held until it exceeds this. */
  outputBufferSize: number;
  /** How long a request waits for a process slot before 503 (mod_fcgid: about 64 s). */
  busyWaitMs: number;
}

export const DEFAULT_FCGI_LIMITS: FcgiLimits = {
  maxProcesses: 1000,
  maxPerClass: 100,
  minPerClass: 3,
  idleTimeoutMs: 300_000,
  lifetimeMs: 3_600_000,
  maxRequestsPerProcess: 0,
  ioTimeoutMs: 40_000,
  maxRequestLen: 131_072,
  maxRequestInMem: 65_536,
  outputBufferSize: 65_536,
  busyWaitMs: 64_000,
};

export type ProcState = 'idle' | 'busy' | 'dying';

export interface ProcRecord {
  id: number;
  classKey: string;
  state: ProcState;
  requests: number;
  startedAt: number;
  lastActiveAt: number;
}

export type AcquireDecision = { action: 'use'; id: number } | { action: 'spawn' } | { action: 'wait' };

/** A request for `classKey` arrives: reuse the most recently idle process, else spawn if allowed. */
export function decideAcquire(table: readonly ProcRecord[], classKey: string, limits: FcgiLimits): AcquireDecision {
  const mine = table.filter((p) => p.classKey === classKey && p.state !== 'dying');
  const idle = mine.filter((p) => p.state === 'idle').sort((a, b) => b.lastActiveAt - a.lastActiveAt);
  if (idle[0]) return { action: 'use', id: idle[0].id };
  const alive = table.filter((p) => p.state !== 'dying').length;
  if (mine.length < limits.maxPerClass && alive < limits.maxProcesses) return { action: 'spawn' };
  return { action: 'wait' };
}

/** After a request: back to idle, or retire (any I/O error, or the request limit reached). */
export function decideAfterRequest(p: ProcRecord, ok: boolean, limits: FcgiLimits): 'idle' | 'retire' {
  if (!ok) return 'retire';
  if (limits.maxRequestsPerProcess > 0 && p.requests >= limits.maxRequestsPerProcess) return 'retire';
  return 'idle';
}

/** The periodic scan: idle processes past the idle timeout (keeping the class minimum) or their lifetime. */
export function decideSweep(table: readonly ProcRecord[], now: number, limits: FcgiLimits): number[] {
  const retire: number[] = [];
  const byClass = new Map<string, ProcRecord[]>();
  for (const p of table) {
    if (p.state === 'dying') continue;
    const list = byClass.get(p.classKey) ?? [];
    list.push(p);
    byClass.set(p.classKey, list);
  }
  for (const list of byClass.values()) {
    let alive = list.length;
    for (const p of [...list].sort((a, b) => a.lastActiveAt - b.lastActiveAt)) {
      if (p.state !== 'idle') continue;
      const idleTooLong = now - p.lastActiveAt > limits.idleTimeoutMs && alive > limits.minPerClass;
      const tooOld = now - p.startedAt > limits.lifetimeMs;
      if (idleTooLong || tooOld) {
        retire.push(p.id);
        alive--;
      }
    }
  }
  return retire;
}
