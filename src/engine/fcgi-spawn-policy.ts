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
  /** FcgidBusyTimeout in ms (default 300 s): a process busy with one request this long is killed. */
  busyTimeoutMs: number;
  /** FcgidIdleScanInterval / FcgidBusyScanInterval in ms (default 120 s): how often each scan runs. */
  idleScanIntervalMs: number;
  busyScanIntervalMs: number;
  /** Spawn throttling (FcgidSpawnScore 1, FcgidTerminationScore 2, FcgidTimeScore 1, FcgidSpawnScoreUpLimit 10). */
  spawnScore: number;
  terminationScore: number;
  timeScore: number;
  spawnScoreUpLimit: number;
  /**
   * `HtsandboxFcgidSleepQuirk On`: a request that finds every process busy sleeps 1 s between
   * tries, as mod_fcgid's handle_request does, instead of being handed the next one that frees.
   */
  sleepQuirk: boolean;
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
  busyTimeoutMs: 300_000,
  idleScanIntervalMs: 120_000,
  busyScanIntervalMs: 120_000,
  spawnScore: 1,
  terminationScore: 2,
  timeScore: 1,
  spawnScoreUpLimit: 10,
  sleepQuirk: false,
};

export type ProcState = 'idle' | 'busy' | 'dying';

export interface ProcRecord {
  id: number;
  classKey: string;
  state: ProcState;
  /** Requests it is serving now (more than 1 only for a multiplexing application). */
  inflight?: number;
  /** Requests it takes at once: 1, or FCGI_MAX_REQS of a multiplexing application. */
  capacity?: number;
  requests: number;
  startedAt: number;
  lastActiveAt: number;
}

export type AcquireDecision = { action: 'use'; id: number } | { action: 'spawn' } | { action: 'wait'; retryInMs?: number };

/**
 * A request for `classKey` arrives: reuse the most recently idle process (mod_fcgid's idle list
 * is LIFO), else spawn if the limits and the class's spawn score allow, else wait — for a process
 * that frees up, or (`retryInMs`) until the score has decayed enough to spawn.
 */
export function decideAcquire(table: readonly ProcRecord[], classKey: string, limits: FcgiLimits, spawnWaitMs = 0): AcquireDecision {
  let best: ProcRecord | undefined;
  let shared: ProcRecord | undefined;
  let mine = 0;
  let alive = 0;
  for (const p of table) {
    if (p.state === 'dying') continue;
    alive++;
    if (p.classKey !== classKey) continue;
    mine++;
    if (p.state === 'idle' && (!best || p.lastActiveAt > best.lastActiveAt)) best = p;
    // A multiplexing process with room takes another request before a new process is started.
    else if (p.state === 'busy' && (p.inflight ?? 1) < (p.capacity ?? 1) && (!shared || (p.inflight ?? 1) < (shared.inflight ?? 1))) shared = p;
  }
  if (best) return { action: 'use', id: best.id };
  if (shared) return { action: 'use', id: shared.id };
  if (mine < limits.maxPerClass && alive < limits.maxProcesses) return spawnWaitMs <= 0 ? { action: 'spawn' } : { action: 'wait', retryInMs: spawnWaitMs };
  return { action: 'wait' };
}

/** A class's spawn score (mod_fcgid's fcgid_stat_node): it only ever changes at whole seconds. */
export interface SpawnScore {
  score: number;
  /** The second (epoch) it was last brought up to date. */
  atSec: number;
}

/** `register_life_death`: add the event's score, then take off FcgidTimeScore per elapsed second. */
export function scoreAfter(event: 'spawn' | 'exit', s: SpawnScore | undefined, nowMs: number, limits: FcgiLimits): SpawnScore {
  const sec = Math.floor(nowMs / 1000);
  const base = s ?? { score: 0, atSec: sec };
  const added = base.score + (event === 'spawn' ? limits.spawnScore : limits.terminationScore);
  return { score: Math.max(0, added - limits.timeScore * (sec - base.atSec)), atSec: sec };
}

/**
 * `is_spawn_allowed`'s score test: 0 when a spawn may happen now, else the milliseconds until
 * the decayed score drops below FcgidSpawnScoreUpLimit (Infinity if it never decays).
 * A class never spawned before is always allowed.
 */
export function spawnWaitMs(s: SpawnScore | undefined, nowMs: number, limits: FcgiLimits): number {
  if (!s) return 0;
  const sec = Math.floor(nowMs / 1000);
  const score = Math.max(0, s.score - limits.timeScore * (sec - s.atSec));
  if (score < limits.spawnScoreUpLimit) return 0;
  if (limits.timeScore <= 0) return Number.POSITIVE_INFINITY;
  const seconds = Math.ceil((score - limits.spawnScoreUpLimit + 1) / limits.timeScore);
  return (sec + seconds) * 1000 - nowMs;
}

/** After a request: back to idle, or retire (any I/O error, or the request limit reached). */
export function decideAfterRequest(p: ProcRecord, ok: boolean, limits: FcgiLimits): 'idle' | 'retire' {
  if (!ok) return 'retire';
  if (limits.maxRequestsPerProcess > 0 && p.requests >= limits.maxRequestsPerProcess) return 'retire';
  return 'idle';
}

/** Why the periodic scan retires a process (mod_fcgid's diewhy). */
export type SweepReason = 'idle timeout' | 'lifetime expired' | 'busy timeout';

/**
 * The periodic scan: idle processes past the idle timeout (keeping the class minimum) or their
 * lifetime, and busy ones past FcgidBusyTimeout (a hung request).
 */
export function decideSweep(
  table: readonly ProcRecord[],
  now: number,
  limits: FcgiLimits,
  /** A class's own limits (FcgidCmdOptions); the server's by default. */
  classLimits: (classKey: string) => FcgiLimits = () => limits,
): { id: number; reason: SweepReason }[] {
  const retire: { id: number; reason: SweepReason }[] = [];
  const byClass = new Map<string, ProcRecord[]>();
  for (const p of table) {
    if (p.state === 'dying') continue;
    if (p.state === 'busy' && limits.busyTimeoutMs > 0 && now - p.lastActiveAt > limits.busyTimeoutMs) {
      retire.push({ id: p.id, reason: 'busy timeout' });
      continue;
    }
    const list = byClass.get(p.classKey) ?? [];
    list.push(p);
    byClass.set(p.classKey, list);
  }
  for (const [classKey, list] of byClass) {
    const l = classLimits(classKey);
    let alive = list.length;
    for (const p of [...list].sort((a, b) => a.lastActiveAt - b.lastActiveAt)) {
      if (p.state !== 'idle') continue;
      const idleTooLong = l.idleTimeoutMs > 0 && now - p.lastActiveAt > l.idleTimeoutMs && alive > l.minPerClass;
      const tooOld = l.lifetimeMs > 0 && now - p.startedAt > l.lifetimeMs && alive > l.minPerClass;
      if (idleTooLong || tooOld) {
        retire.push({ id: p.id, reason: idleTooLong ? 'idle timeout' : 'lifetime expired' });
        alive--;
      }
    }
  }
  return retire;
}

/** `FcgidCmdOptions CMD option…`: a command's own limits and process environment. */
export interface FcgidCmdOptions {
  /** The command (a script's path, or a wrapper's argv[0]) the options apply to. */
  command: string;
  /**
   * The class's limits. Options not given take mod_fcgid's built-in defaults, not the server's
   * settings (get_cmd_options); FcgidBusyTimeout and the global limits stay the server's.
   */
  limits: Pick<FcgiLimits, 'idleTimeoutMs' | 'ioTimeoutMs' | 'maxPerClass' | 'lifetimeMs' | 'maxRequestsPerProcess' | 'minPerClass'>;
  /** InitialEnv name=value pairs: the class's whole initial environment besides PATH. */
  initialEnv: Map<string, string>;
}

/** The options `FcgidCmdOptions` takes, by lower-cased name, as mod_fcgid spells them in errors. */
const CMD_OPTION_NAMES: ReadonlyMap<string, string> = new Map(
  ['ConnectTimeout', 'IdleTimeout', 'InitialEnv', 'IOTimeout', 'MaxProcesses', 'MaxProcessLifetime', 'MaxRequestsPerProcess', 'MinProcesses'].map((n) => [n.toLowerCase(), n]),
);

/** Parses `FcgidCmdOptions`'s words (set_cmd_options); the error text is mod_fcgid's. */
export function parseFcgidCmdOptions(words: readonly string[]): FcgidCmdOptions | { error: string } {
  const [command, ...rest] = words;
  if (!command) return { error: 'A command must be specified for FcgidCmdOptions' };
  if (rest.length === 0) return { error: 'At least one option must be specified for FcgidCmdOptions' };
  const d = DEFAULT_FCGI_LIMITS;
  const limits: FcgidCmdOptions['limits'] = {
    idleTimeoutMs: d.idleTimeoutMs,
    ioTimeoutMs: d.ioTimeoutMs,
    maxPerClass: d.maxPerClass,
    lifetimeMs: d.lifetimeMs,
    maxRequestsPerProcess: d.maxRequestsPerProcess,
    minPerClass: d.minPerClass,
  };
  const initialEnv = new Map<string, string>();
  const seconds = (v: string): number => (Number.parseInt(v, 10) || 0) * 1000;
  for (let i = 0; i < rest.length; i++) {
    const option = rest[i]!;
    const value = rest[i + 1];
    const key = option.toLowerCase();
    const name = CMD_OPTION_NAMES.get(key);
    if (name === undefined) return { error: `Invalid option for FcgidCmdOptions: ${option}` };
    if (value === undefined || value === '') return { error: `${name} must have an argument` };
    i++;
    if (key === 'idletimeout') limits.idleTimeoutMs = seconds(value);
    else if (key === 'iotimeout') limits.ioTimeoutMs = seconds(value);
    else if (key === 'maxprocesses') limits.maxPerClass = Number.parseInt(value, 10) || 0;
    else if (key === 'maxprocesslifetime') limits.lifetimeMs = seconds(value);
    else if (key === 'maxrequestsperprocess') limits.maxRequestsPerProcess = Number.parseInt(value, 10) || 0;
    else if (key === 'minprocesses') limits.minPerClass = Number.parseInt(value, 10) || 0;
    else if (key === 'initialenv') {
      const eq = value.indexOf('=');
      initialEnv.set(eq === -1 ? value : value.slice(0, eq), eq === -1 ? '' : value.slice(eq + 1));
    }
    // ConnectTimeout is accepted and, as in mod_fcgid on Unix, has no effect.
  }
  return { command, limits, initialEnv };
}
