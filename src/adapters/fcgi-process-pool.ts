/**
 * The FastCGI process manager's mechanism: spawns applications with a listening Unix socket as
 * fd 0 (FCGI_LISTENSOCK_FILENO), hands processes to requests, kills them. Every decision comes
 * from engine/fcgi-spawn-policy.ts. Each application runs in its own process group.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BoundedLineSplitter } from '../grammar/log-lines.js';
import { holdWhileErrorLogBehind } from '../vocabulary/error-log-backlog.js';
import { FcgiConnection } from './fcgi-client.js';
import { FcgiMuxConnection, queryCapacity } from './fcgi-mux-client.js';
import { fastSpawn, launchWithBytes, pipeSocket, reapLater } from './fast-spawn.js';
import { ProcessTable } from './process-table.js';
import type { ProcessGroups } from './process-groups.js';
import { decideAcquire, decideAfterRequest, decideSweep, scoreAfter, spawnWaitMs, type FcgiLimits, type ProcRecord, type SpawnScore } from '../engine/fcgi-spawn-policy.js';

/** What to run for one process class. */
export interface FcgiApp {
  /** mod_fcgid's class: script inode/device and command line. */
  classKey: string;
  program: string;
  args: string[];
  cwd: string;
  /** The process environment (PATH + FcgidInitialEnv). */
  env: Record<string, string>;
  /** For logs: the script path. */
  label: string;
  /** Checked before a process is spawned (not per request): a reason it cannot run, if any. */
  preflight?: () => Error | undefined;
  /** The script's modification time now (µs): processes started before a change run old code. */
  version?: string;
  /** FcgidInitialEnv the class was built from (identity only: a changed config is a new class object). */
  initialEnv?: ReadonlyMap<string, string>;
  /** The class's own limits (FcgidCmdOptions); the pool's otherwise. */
  limits?: FcgiLimits;
  /** `HtsandboxFcgidMultiplex On`: ask with FCGI_GET_VALUES and share one connection if it multiplexes. */
  multiplex?: boolean;
  /** How long FCGI_GET_VALUES may take (FcgidIOTimeout). */
  ioTimeoutMs?: number;
}

/** A process handed to one request. */
export interface FcgiLease {
  pid: number;
  socketPath: string;
  /** The process's kept connection, or a new one (a broken one is replaced). */
  connection(fresh?: boolean): FcgiConnection;
  /** The process's multiplexed connection, when it multiplexes (requests share it). */
  readonly mux?: FcgiMuxConnection | undefined;
  /** Give it back; `ok` false retires it (any communication error kills the process, as mod_fcgid). */
  release(ok: boolean): void;
  /** How the process ended, once it has (for explanations). */
  exited(): Promise<{ code: number; output: string }>;
}

export type PoolLog = (level: 'error' | 'warn' | 'info', message: string, fields?: Record<string, unknown>) => void;

/** Why a request got no process: EXEC (cannot run), SPAWN (spawn failed), NO_SLOT (503). */
export type AcquireError = Error & { code?: 'EXEC' | 'SPAWN' | 'NO_SLOT' };

/** Called once with a process, or with why there is none. */
export type AcquireCallback = (err: AcquireError | null, lease?: FcgiLease) => void;

const fast = fastSpawn;

interface Entry {
  rec: ProcRecord;
  pid: number;
  socketPath: string;
  conn?: FcgiConnection;
  /** Set once FCGI_GET_VALUES said the application multiplexes. */
  mux?: FcgiMuxConnection;
  /** Retire after the current request (its script changed, --reload-on-change). */
  retireWhenDone?: boolean;
  /** Why the process is being ended (mod_fcgid's exit reasons), for the log and the dashboard. */
  exitReason?: string;
  /** The script version the process started with. */
  version: string | undefined;
  /** The process in traces: its program's name (the script, or a wrapper such as php-cgi) and pid. */
  peer: string;
  exit: Promise<{ code: number; output: string }>;
}

/** One request's hold on a process (a class, not closures: one is made per request). */
class Lease implements FcgiLease {
  private done = false;
  readonly pid: number;
  readonly socketPath: string;
  readonly mux: FcgiMuxConnection | undefined;

  constructor(
    private readonly e: Entry,
    private readonly onRelease: (ok: boolean) => void,
  ) {
    this.pid = e.pid;
    this.socketPath = e.socketPath;
    this.mux = e.mux;
  }

  connection(fresh = false): FcgiConnection {
    const e = this.e;
    if (fresh || !e.conn || !e.conn.idle) {
      e.conn?.close();
      e.conn = new FcgiConnection(e.socketPath, e.peer);
    }
    return e.conn;
  }

  release(ok: boolean): void {
    if (this.done) return;
    this.done = true;
    this.onRelease(ok);
  }

  exited(): Promise<{ code: number; output: string }> {
    return this.e.exit;
  }
}

/** A request waiting for a process of its class, until `deadline` (ms since the epoch). */
interface Waiter {
  done: AcquireCallback;
  deadline: number;
  label: string;
}

/**
 * One class's waiting requests, first come first served, and one timer for the oldest one's
 * deadline: a timer per waiting request was set and cleared on every request once a class is
 * saturated (16 connections on 4 processes), measurable in the benchmark.
 */
interface WaitQueue {
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

/** The pool of FastCGI processes of one server. */
export class FcgiProcessPool {
  private readonly entries = new Map<number, Entry>();
  /** The records of `entries`, kept as an array for the policy (no copy per request). */
  private records: ProcRecord[] = [];
  private readonly queues = new Map<string, WaitQueue>();
  /** Spawn scores by class (mod_fcgid's throttling); kept after a class's last process ends. */
  private readonly scores = new Map<string, SpawnScore>();
  /** Per class: a wake-up planned for when its spawn score allows a spawn again. */
  private readonly throttleTimers = new Map<string, NodeJS.Timeout>();
  /** Per class: the script version whose staleness was last checked. */
  private readonly checkedVersions = new Map<string, string>();
  private nextId = 1;
  private counter = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly busyScanTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly limits: FcgiLimits,
    private readonly socketDir: string,
    private readonly log: PoolLog,
    /** Replace processes whose script changed (`--reload-on-change`). */
    private readonly reloadOnChange = false,
    /** The server's process groups: each application's is recorded there until it is empty. */
    private readonly groups?: ProcessGroups,
  ) {
    // mod_fcgid's process manager scans its idle list every FcgidIdleScanInterval and its busy
    // list every FcgidBusyScanInterval: an idle process outlives its timeout by up to a scan.
    this.sweepTimer = setInterval(() => this.sweep('idle'), Math.max(1000, limits.idleScanIntervalMs));
    this.sweepTimer.unref();
    this.busyScanTimer = setInterval(() => this.sweep('busy'), Math.max(1000, limits.busyScanIntervalMs));
    this.busyScanTimer.unref();
  }

  private readonly warnedVersions = new Map<string, string>();

  /**
   * A script replaced by a new file (an editor that writes a copy, `sed -i`, a deploy) is a new
   * class to mod_fcgid (its inode changed): new requests get new processes while the old file's
   * keep running, with the old code, until their idle timeout (on the host, on every server of
   * its balancer that ran them). The host says nothing; htsandbox says so, as for an edit in place.
   */
  private checkReplaced(app: FcgiApp): void {
    const old = [...this.entries.values()].filter((e) => e.rec.classKey !== app.classKey && e.rec.state !== 'dying' && this.apps.get(e.rec.classKey)?.label === app.label);
    if (old.length === 0) return;
    if (this.reloadOnChange) {
      for (const e of old) {
        if (e.rec.state === 'idle') this.retire(e, 'script replaced, --reload-on-change');
        else e.retireWhenDone = true;
      }
      this.log('warn', `${app.label} was replaced by a new file; ending ${old.length} process${old.length === 1 ? '' : 'es'} of the old one (--reload-on-change)`);
      return;
    }
    this.log(
      'warn',
      `${app.label.split('/').pop()} was replaced by a new file (new inode); new requests start new processes, while ${old.length} process${old.length === 1 ? '' : 'es'} of the old file (pid ${old.map((e) => e.pid).join(', ')}) keep running the old code until their idle timeout, as on the host. Use --reload-on-change, or make the app exit when its file changes.`,
      { pid: old[0]!.pid, app: app.label },
    );
  }

  /**
   * mod_fcgid never notices an edited script: its processes keep the code they started with.
   * htsandbox says so (once per change), or with reloadOnChange retires them gracefully.
   */
  private checkStale(app: FcgiApp): void {
    if (app.version === undefined || this.checkedVersions.get(app.classKey) === app.version) return;
    this.checkedVersions.set(app.classKey, app.version);
    const stale = [...this.entries.values()].filter((e) => e.rec.classKey === app.classKey && e.rec.state !== 'dying' && e.version !== app.version);
    if (stale.length === 0) return;
    if (this.reloadOnChange) {
      for (const e of stale) {
        if (e.rec.state === 'idle') this.retire(e, 'stale code, --reload-on-change');
        else e.retireWhenDone = true;
      }
      this.log('warn', `${app.label} changed on disk; replacing ${stale.length} process${stale.length === 1 ? '' : 'es'} (--reload-on-change)`);
      return;
    }
    if (this.warnedVersions.get(app.classKey) === app.version) return;
    this.warnedVersions.set(app.classKey, app.version);
    this.log(
      'warn',
      `${app.label.split('/').pop()} changed on disk; ${stale.length} process${stale.length === 1 ? '' : 'es'} still run${stale.length === 1 ? 's' : ''} the old code, as ${stale.length === 1 ? 'it' : 'they'} would on the host (mod_fcgid never reloads). Use --reload-on-change, or make the app exit when its file changes.`,
    );
  }

  /** Every process with what mod_fcgid's status section shows, and whether it runs old code. */
  status(): {
    label: string;
    program: string;
    cmdline: string;
    classKey: string;
    pid: number;
    state: ProcRecord['state'];
    requests: number;
    startedAt: number;
    lastActiveAt: number;
    stale: boolean;
  }[] {
    return [...this.entries.values()].map((e) => {
      const app = this.apps.get(e.rec.classKey);
      const current = app?.version;
      return {
        label: app?.label ?? e.rec.classKey,
        program: app?.program ?? e.rec.classKey,
        cmdline: app ? [app.program, ...app.args].join(' ') : e.rec.classKey,
        classKey: e.rec.classKey,
        pid: e.pid,
        state: e.rec.state,
        requests: e.rec.requests,
        startedAt: e.rec.startedAt,
        lastActiveAt: e.rec.lastActiveAt,
        stale: current !== undefined && e.version !== current,
      };
    });
  }

  /**
   * Hands the request a process: an idle one, a new one, or the next that frees up (at once, not
   * after mod_fcgid's 1 s sleeps); NO_SLOT after as long as mod_fcgid would try. Synchronous when
   * a process is idle.
   */
  acquire(app: FcgiApp, done: AcquireCallback, quirkTries = 0): void {
    if (!this.apps.has(app.classKey)) this.checkReplaced(app);
    this.apps.set(app.classKey, app);
    this.checkStale(app);
    const limits = app.limits ?? this.limits;
    const decision = decideAcquire(this.records, app.classKey, limits, spawnWaitMs(this.scores.get(app.classKey), Date.now(), limits));
    if (decision.action === 'use') {
      done(null, this.lease(this.entries.get(decision.id)!));
      return;
    }
    if (decision.action === 'spawn') {
      const problem = app.preflight?.();
      if (problem) {
        done(problem as AcquireError);
        return;
      }
      let entry: Entry;
      try {
        entry = this.spawn(app);
      } catch (err) {
        done(Object.assign(new Error(`can't run ${app.label}: ${(err as Error).message}`), { code: 'SPAWN' as const }));
        return;
      }
      if (!app.multiplex) {
        done(null, this.lease(entry));
        return;
      }
      // A new process is asked what it takes before its first request; until it answers it is
      // taken (busy) with no request of its own.
      entry.rec.inflight = 1;
      queryCapacity(
        entry.socketPath,
        app.ioTimeoutMs ?? this.limits.ioTimeoutMs,
        (cap) => {
          entry.rec.inflight = 0;
          entry.rec.capacity = cap.maxRequests;
          if (cap.multiplexes) entry.mux = new FcgiMuxConnection(entry.socketPath, entry.peer);
          this.log(
            'info',
            `mod_fcgid: ${app.label}(${entry.pid}) ${cap.multiplexes ? `multiplexes up to ${cap.maxRequests} requests on one connection` : 'does not multiplex'} (FCGI_GET_VALUES)`,
          );
          done(null, this.lease(entry));
          // Room for more: the class's waiters may share it at once.
          for (let room = cap.maxRequests - 1; room > 0 && this.handToWaiter(app.classKey, entry); room--);
        },
        entry.peer,
      );
      return;
    }
    if (this.limits.sleepQuirk && decision.retryInMs === undefined) {
      // mod_fcgid's way, for teaching: try again after a 1 s sleep, up to its ~64 tries.
      if (quirkTries >= Math.ceil(this.limits.busyWaitMs / 1000)) {
        done(Object.assign(new Error(`can't apply process slot for ${app.label}`), { code: 'NO_SLOT' as const }));
        return;
      }
      setTimeout(() => this.acquire(app, done, quirkTries + 1), 1000);
      return;
    }
    this.enqueue(app.classKey, { done, deadline: Date.now() + this.limits.busyWaitMs, label: app.label });
    if (decision.retryInMs !== undefined) this.planThrottledSpawn(app.classKey, decision.retryInMs);
  }

  private enqueue(classKey: string, w: Waiter): void {
    let q = this.queues.get(classKey);
    if (!q) this.queues.set(classKey, (q = { waiters: [], timer: undefined }));
    q.waiters.push(w);
    if (!q.timer) this.armExpiry(q, w.deadline - Date.now());
  }

  /** Ends with 503 every waiter whose deadline has passed, then waits for the next one's. */
  private armExpiry(q: WaitQueue, inMs: number): void {
    q.timer = setTimeout(
      () => {
        q.timer = undefined;
        const now = Date.now();
        while (q.waiters.length > 0 && q.waiters[0]!.deadline <= now) {
          const w = q.waiters.shift()!;
          w.done(Object.assign(new Error(`can't apply process slot for ${w.label}`), { code: 'NO_SLOT' as const }));
        }
        if (q.waiters.length > 0) this.armExpiry(q, q.waiters[0]!.deadline - now);
      },
      Math.max(0, inMs),
    );
  }

  /** Gives `e` to the class's oldest waiting request; false when none waits. */
  private handToWaiter(classKey: string, e: Entry): boolean {
    const w = this.queues.get(classKey)?.waiters.shift();
    if (!w) return false;
    w.done(null, this.lease(e));
    return true;
  }

  private hasWaiters(classKey: string): boolean {
    return (this.queues.get(classKey)?.waiters.length ?? 0) > 0;
  }

  /** The class may spawn again once its score has decayed: wake a waiter then. */
  private planThrottledSpawn(classKey: string, inMs: number): void {
    if (this.throttleTimers.has(classKey) || !Number.isFinite(inMs)) return;
    this.log(
      'warn',
      `mod_fcgid: ${this.apps.get(classKey)?.label ?? classKey} spawn score over FcgidSpawnScoreUpLimit (it keeps exiting); next spawn in ${Math.ceil(inMs / 1000)} s`,
    );
    const t = setTimeout(() => {
      this.throttleTimers.delete(classKey);
      this.wakeClass(classKey);
    }, inMs + 5);
    t.unref();
    this.throttleTimers.set(classKey, t);
  }

  private lease(e: Entry): FcgiLease {
    e.rec.state = 'busy';
    e.rec.inflight = (e.rec.inflight ?? 0) + 1;
    e.rec.lastActiveAt = Date.now();
    if (e.mux && !e.mux.alive) e.mux = new FcgiMuxConnection(e.socketPath, e.peer);
    return new Lease(e, (ok) => this.released(e, ok));
  }

  /** A class's limits: its FcgidCmdOptions, else the server's. */
  private limitsOf(classKey: string): FcgiLimits {
    return this.apps.get(classKey)?.limits ?? this.limits;
  }

  /** A request is done with its process: the next waiter gets it, or it goes idle, or it is retired. */
  private released(e: Entry, ok: boolean): void {
    e.rec.requests++;
    e.rec.inflight = Math.max(0, (e.rec.inflight ?? 1) - 1);
    e.rec.lastActiveAt = Date.now();
    if (!this.entries.has(e.rec.id) || e.rec.state === 'dying') return;
    if (e.retireWhenDone || decideAfterRequest(e.rec, ok, this.limitsOf(e.rec.classKey)) === 'retire') {
      if (e.rec.inflight === 0 || !ok) {
        this.retire(e, !ok ? 'communication error' : e.retireWhenDone ? 'stale code, --reload-on-change' : 'max requests reached (FcgidMaxRequestsPerProcess)');
        this.wakeClass(e.rec.classKey);
      }
      return;
    }
    if (!this.handToWaiter(e.rec.classKey, e) && e.rec.inflight === 0) e.rec.state = 'idle';
  }

  /** A slot freed up in a class (a process died or retired, or the score decayed): start one for the next waiter. */
  private wakeClass(classKey: string): void {
    if (!this.hasWaiters(classKey) || this.closed) return;
    const app = this.apps.get(classKey);
    if (!app) return;
    const limits = this.limitsOf(classKey);
    const d = decideAcquire(this.records, classKey, limits, spawnWaitMs(this.scores.get(classKey), Date.now(), limits));
    if (d.action === 'use') {
      this.handToWaiter(classKey, this.entries.get(d.id)!);
      return;
    }
    if (d.action !== 'spawn') {
      if (d.retryInMs !== undefined) this.planThrottledSpawn(classKey, d.retryInMs);
      return;
    }
    try {
      this.handToWaiter(classKey, this.spawn(app));
    } catch (err) {
      this.log('error', `mod_fcgid: can't run ${app.label}: ${(err as Error).message}`);
    }
  }

  private readonly apps = new Map<string, FcgiApp>();
  /** The state directory's process table, once the first application starts. */
  private table: ProcessTable | undefined;

  private spawn(app: FcgiApp): Entry {
    this.apps.set(app.classKey, app);
    // Created on first use, by the server's (possibly switched) user, as Apache hands its
    // runtime directories to User.
    if (!this.table) {
      mkdirSync(this.socketDir, { recursive: true, mode: 0o700 });
      this.table = new ProcessTable(this.socketDir);
      this.table.claim();
    }
    const table = this.table;
    const id = this.nextId++;
    const socketPath = join(this.socketDir, `${process.pid}.${this.counter++}`);
    // FcgidInitialEnv values and the program's path are bytes: Node's spawn (and a helper built
    // before `envBytes`) writes UTF-8, so the shell sets those above 0x7f.
    const run = launchWithBytes(app, fast?.envBytes === true);
    const envp = Object.entries(run.env).map(([k, v]) => `${k}=${v}`);
    let pid: number;
    let outputs: Readable[];
    let fallbackServer: Server | undefined;
    let exitResolve: (v: { code: number; output: string }) => void = () => {};
    const exit = new Promise<{ code: number; output: string }>((r) => (exitResolve = r));
    let output = '';
    if (fast) {
      const fd = fast.listenUnix(socketPath, 511);
      try {
        const [p, , outFd, errFd] = fast.spawn(run.program, [run.program, ...run.args], envp, run.cwd, fd);
        pid = p;
        outputs = [pipeSocket(outFd, 'read'), pipeSocket(errFd, 'read')];
      } finally {
        fast.closeFd(fd);
      }
    } else {
      // Fallback: Node's own listener and spawn (forks the server; see docs/performance.md).
      // libuv unlinks a Unix listener's path when the handle closes, and the server must close
      // its copy: bind a temporary name and move the socket to its real name before closing.
      fallbackServer = createServer();
      const boundPath = `${socketPath}.bind`;
      fallbackServer.listen(boundPath);
      const fd = (fallbackServer as unknown as { _handle: { fd: number } })._handle.fd;
      const child = spawn(run.program, run.args, { cwd: run.cwd, env: run.env, detached: true, stdio: [fd, 'pipe', 'pipe'] });
      renameSync(boundPath, socketPath);
      fallbackServer.close();
      pid = child.pid ?? -1;
      outputs = [child.stdout!, child.stderr!];
      child.once('exit', (code, sig) => finishExit(code ?? (sig ? 128 : 0)));
    }
    table.add(pid);
    this.groups?.add(pid);
    const rec: ProcRecord = { id, classKey: app.classKey, state: 'busy', requests: 0, startedAt: Date.now(), lastActiveAt: Date.now() };
    const entry: Entry = { rec, pid, socketPath, exit, version: app.version, peer: `${app.program.slice(app.program.lastIndexOf('/') + 1)}[${pid}]` };
    this.entries.set(id, entry);
    this.records.push(rec);
    this.scores.set(app.classKey, scoreAfter('spawn', this.scores.get(app.classKey), Date.now(), this.limits));
    this.log('info', `mod_fcgid: server ${app.label}(${pid}) started`);
    // mod_fcgid points an application's stdout and stderr at the error log (raw lines, whatever
    // the LogLevel); the fields say which process wrote them.
    let open = outputs.length;
    for (const [n, s] of outputs.entries()) {
      const from = { app: app.label, pid, appOutput: n === 0 ? 'stdout' : 'stderr' };
      const lines = new BoundedLineSplitter();
      const logLine = (line: string): void => this.log('error', line, from);
      s.on('data', (c: Buffer) => {
        output = (output + c.toString('latin1', Math.max(0, c.length - 4096))).slice(-4096);
        lines.push(c, logLine);
        holdWhileErrorLogBehind(s);
      });
      s.on('close', () => {
        lines.end(logLine);
        if (--open === 0 && fast) reapLater(pid, finishExit);
      });
    }
    const finishExit = (code: number): void => {
      const reason = entry.exitReason ?? (this.closed ? 'server shutdown' : code === 0 ? 'the application exited by itself' : 'the application exited by itself (crashed?)');
      this.log('info', `mod_fcgid: process ${app.label}(${pid}) exit(${reason}), return code: ${code}`, { pid, app: app.label });
      this.entries.delete(id);
      this.records = this.records.filter((r) => r !== rec);
      this.scores.set(app.classKey, scoreAfter('exit', this.scores.get(app.classKey), Date.now(), this.limits));
      table.remove(pid);
      this.groups?.leaderGone(pid);
      try {
        unlinkSync(socketPath);
      } catch {
        /* gone */
      }
      exitResolve({ code, output });
      this.wakeClass(app.classKey);
    };
    return entry;
  }

  private retire(e: Entry, reason: string): void {
    if (e.rec.state === 'dying') return;
    e.rec.state = 'dying';
    e.exitReason = reason;
    e.conn?.close();
    e.mux?.close();
    try {
      process.kill(-e.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const t = setTimeout(() => {
      try {
        process.kill(-e.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 3000);
    t.unref();
  }

  private sweep(list: 'idle' | 'busy'): void {
    for (const { id, reason } of decideSweep(this.records, Date.now(), this.limits, (k) => this.limitsOf(k))) {
      const e = this.entries.get(id);
      if (!e || (reason === 'busy timeout') !== (list === 'busy')) continue;
      if (reason === 'busy timeout')
        this.log(
          'warn',
          `mod_fcgid: process ${this.apps.get(e.rec.classKey)?.label ?? e.rec.classKey}(${e.pid}) busy for over FcgidBusyTimeout (${this.limits.busyTimeoutMs / 1000} s): killed`,
        );
      this.retire(e, reason);
    }
  }

  /** Ends every application (SIGTERM, then SIGKILL after 2 s) and removes the sockets. */
  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.busyScanTimer);
    for (const t of this.throttleTimers.values()) clearTimeout(t);
    for (const q of this.queues.values()) clearTimeout(q.timer);
    const all = [...this.entries.values()];
    for (const e of all) {
      e.conn?.close();
      e.mux?.close();
      try {
        process.kill(-e.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    const deadline = new Promise<void>((r) => setTimeout(r, 2000).unref());
    await Promise.race([Promise.all(all.map((e) => e.exit)), deadline]);
    for (const e of this.entries.values()) {
      try {
        process.kill(-e.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.socketDir, { recursive: true, force: true });
  }
}
