/**
 * Every process group a server starts (one per CGI request, one per FastCGI application), kept
 * so that nothing a script starts outlives the server:
 * - each group is recorded in the server's state directory (unless the server's own cgroup holds
 *   everything: groupsHeldByCgroup), in the append-only `groups.log`
 *   (`+<pgid> <start> <sid>` when recorded, `-<pgid>` when forgotten; the leader's start time in
 *   clock ticks and its session), so that after a SIGKILL of the server the next one ends what
 *   is left (reapLeftovers), matching pgid, session and start time so that a group id the kernel
 *   has since handed out again is never killed. One line written on a kept descriptor per event:
 *   a file per group (open, write, close, then unlink) cost a CGI request five system calls;
 * - a record goes once nobody is left in the group (a script's `sleep 300 &` keeps it); as a
 *   subreaper, that is learnt for every group whose leader went in the last 50 ms in one look
 *   at our children (whatever a leader leaves running becomes our child when it exits), not with
 *   a kill(-pgid, 0) per group, which throws (an exception per CGI request) when it is empty;
 * - at shutdown every member of every group, and every descendant of theirs, gets SIGTERM, then
 *   SIGKILL;
 * - with the native helper, the CLI makes the server a child subreaper (prctl
 *   PR_SET_CHILD_SUBREAPER): orphans (double-forked daemons, even ones that called setsid) become
 *   our children instead of init's, are reaped here (no zombies) and are recorded and ended too.
 * Without the native helper there is no subreaper: a process that leaves its process group
 * (setsid, setpgid) escapes, unless the server's cgroup holds it (process-cgroup.ts: root and
 * cgroup v2 only); one that stays in its group is still found and ended.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fastSpawn } from './fast-spawn.js';

/** What /proc/PID/stat says about one process. */
export interface ProcInfo {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Start time in clock ticks since boot (field 22). */
  start: number;
}

/** One buffer for the small /proc files read below (a stat line is well under 1 KiB). */
const procBuffer = Buffer.allocUnsafe(4096);

/**
 * A small /proc file's text in one read. readFileSync sees a size of 0 there and reads into a
 * 64 KiB buffer until EOF: about 90 µs for a child's /proc/PID/stat against 14 µs here, and
 * every CGI request reads one (ProcessGroups.add). Throws as readFileSync when it is gone.
 */
export function readProcFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, procBuffer, 0, procBuffer.length, null);
    // A full buffer may have more behind it (a long children list): read the rest the slow way.
    return n < procBuffer.length ? procBuffer.toString('latin1', 0, n) : procBuffer.toString('latin1', 0, n) + readFileSync(fd, 'latin1');
  } finally {
    closeSync(fd);
  }
}

/** /proc/PID/stat, or undefined when the pid does not exist. */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readProcFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  // Fields 3–6 and 22 are taken where they lie, not split into some fifty strings: every CGI
  // request reads one (ProcessGroups.add).
  let at = stat.lastIndexOf(')') + 2;
  const field = (): string => {
    const end = stat.indexOf(' ', at);
    const text = end === -1 ? stat.slice(at) : stat.slice(at, end);
    at = end === -1 ? stat.length : end + 1;
    return text;
  };
  const skip = (n: number): void => {
    for (let i = 0; i < n && at < stat.length; i++) {
      const end = stat.indexOf(' ', at);
      at = end === -1 ? stat.length : end + 1;
    }
  };
  const state = field() || '?';
  const ppid = Number(field());
  const pgid = Number(field());
  const sid = Number(field());
  skip(15);
  return { pid, state, ppid, pgid, sid, start: Number(field()) };
}

/** Every process visible in /proc. */
export function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (n.charCodeAt(0) < 48 || n.charCodeAt(0) > 57) continue;
    const info = procInfo(Number(n));
    if (info) out.push(info);
  }
  return out;
}

/**
 * A spawned group's start and session before they are read (ProcessGroups.add): matches no
 * process's start, so a pending group is signalled through its members, never as -pgid
 * (tryKill), and its members are all that have its pgid (groupMembers: the pgid cannot be
 * another group's while the record lives, as its leader or a member still holds it, and a
 * group lies within one session).
 */
const START_PENDING = -1;

/** The members of a recorded group: same pgid and session, started no earlier than its leader. */
export function groupMembers(procs: readonly ProcInfo[], pgid: number, start: number, sid: number): ProcInfo[] {
  return procs.filter((p) => p.pgid === pgid && (p.sid === sid || sid === START_PENDING) && p.start >= start);
}

/** `roots` and every process below them (by parent pid). */
export function withDescendants(procs: readonly ProcInfo[], roots: Iterable<number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const out = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (out.has(pid)) continue;
    out.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

let adopting = false;

/**
 * Set once the server runs in a cgroup of its own (process-cgroup.ts). After a SIGKILL the next
 * server kills everything in that cgroup, which holds every group recorded here and whatever
 * left them, so the groups log would only repeat it: it is not written, which spares each CGI
 * request its two appends (and the log's rewrites). The groups are still kept in memory, for
 * the sweep and for shutdown's SIGTERM-then-SIGKILL.
 */
let heldByCgroup = false;

/** The server's cgroup holds every process it starts: the groups log is not needed. */
export function groupsHeldByCgroup(): void {
  heldByCgroup = true;
}

/**
 * Makes this process a child subreaper (native helper only). Returns what was lost when it
 * could not be done, for the log; undefined when orphans now come back to us.
 */
export function adoptOrphans(): string | undefined {
  if (!fastSpawn || typeof fastSpawn.setChildSubreaper !== 'function') {
    return 'the native helper is not in use (not built, or HTSANDBOX_NODE_SPAWN=1): processes a script detaches with setsid cannot be found at shutdown (run npm install to build it)';
  }
  const rc = fastSpawn.setChildSubreaper();
  if (rc < 0) return `prctl(PR_SET_CHILD_SUBREAPER) failed (errno ${-rc}): processes a script detaches with setsid cannot be found at shutdown`;
  adopting = true;
  return undefined;
}

interface GroupRecord {
  start: number;
  sid: number;
  /** Started by us and reaped by its spawner; otherwise an adopted orphan we reap ourselves. */
  spawned: boolean;
}

/** How often empty groups are forgotten and adopted orphans reaped and recorded. */
const SWEEP_MS = 1000;

/** How soon after a leader is reaped our children are looked at (orphans recorded, groups forgotten). */
const ADOPT_DELAY_MS = 50;

/** The groups log's name in the state directory. */
export const GROUPS_LOG = 'groups.log';
/** The log is rewritten with only the live records once it has this many lines more than them. */
const LOG_SLACK_LINES = 4096;

/**
 * The groups a `groups.log` still records (replayed: the last `+` of a pgid not followed by its
 * `-`). A line torn by a crash, or anything not of the two shapes, is skipped.
 */
export function recordedGroups(logText: string): Map<number, { start: number; sid: number }> {
  const out = new Map<number, { start: number; sid: number }>();
  for (const line of logText.split('\n')) {
    const m = /^([+-])(\d+)(?: (\d+) (\d+))?$/.exec(line);
    if (!m) continue;
    const pgid = Number(m[2]);
    if (m[1] === '-') out.delete(pgid);
    else if (m[3] !== undefined && m[4] !== undefined) out.set(pgid, { start: Number(m[3]), sid: Number(m[4]) });
  }
  return out;
}

export class ProcessGroups {
  private readonly groups = new Map<number, GroupRecord>();
  /** Groups whose leader was reaped (with the leader's start), for the next adoption pass. */
  private readonly leaderless = new Map<number, number>();
  private dirReady = false;
  /** The groups log, open for appending (-1: not open yet). */
  private logFd = -1;
  /** Lines in the log. */
  private logLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private closed = false;

  /** `dir`: this server's state directory for groups (created on first use, claimed with server.pid). */
  constructor(private readonly dir: string) {}

  /**
   * Records a group we just started (its leader `pgid` has exec'd), or, with `member`, the group
   * of an orphan we adopted (matched by that member's start time and session).
   */
  add(pgid: number | undefined, member?: ProcInfo): void {
    if (pgid === undefined || pgid <= 1 || this.closed) return;
    if (member === undefined && heldByCgroup) {
      // Read at once, the leader's /proc/PID/stat cost 170 µs of a CGI request (its new image
      // still loading: docs/performance.md, session 11); a turn later it is cheap. Meanwhile no
      // log line waits for it (the cgroup holds the group), and nothing can take its pgid: the
      // leader is our child, unreaped, so the record is only marked as not yet known.
      this.groups.set(pgid, { start: START_PENDING, sid: START_PENDING, spawned: true });
      this.pendingStarts.push(pgid);
      if (!this.startsScheduled) {
        this.startsScheduled = true;
        setImmediate(this.readPendingStarts);
      }
      return this.startSweeping();
    }
    const info = member ?? procInfo(pgid);
    if (!info) return; // gone already: nothing can be left of it that was not in it
    const rec = { start: info.start, sid: info.sid, spawned: member === undefined };
    this.groups.set(pgid, rec);
    if (heldByCgroup) return this.startSweeping();
    try {
      if (!this.dirReady) {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        writeFileSync(join(this.dir, 'server.pid'), `${process.pid} ${procInfo(process.pid)?.start ?? ''}\n`);
        this.dirReady = true;
      }
      this.log(`+${pgid} ${rec.start} ${rec.sid}\n`);
    } catch {
      /* no state directory (tmp full, read-only): ended at shutdown still, not after a SIGKILL */
    }
    this.startSweeping();
  }

  /** Spawned groups whose leader's start is read on the next turn of the loop. */
  private readonly pendingStarts: number[] = [];
  private startsScheduled = false;
  private readonly readPendingStarts = (): void => {
    this.startsScheduled = false;
    for (const pgid of this.pendingStarts) {
      const rec = this.groups.get(pgid);
      if (rec?.start !== START_PENDING) continue;
      const info = procInfo(pgid);
      // Gone already (reaped): leaderGone has dealt with the record, which keeps START_PENDING.
      if (info) {
        rec.start = info.start;
        rec.sid = info.sid;
      }
    }
    this.pendingStarts.length = 0;
  };

  private startSweeping(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** The group's leader was reaped: forget the group now unless something still runs in it. */
  leaderGone(pgid: number | undefined): void {
    const rec = pgid === undefined ? undefined : this.groups.get(pgid);
    if (pgid === undefined || !rec) return;
    // As a subreaper, the adoption pass below tells, for all groups gone meanwhile at once.
    if (adopting) this.leaderless.set(pgid, rec.start);
    else if (!groupAlive(pgid)) this.forget(pgid);
    // Its orphans were re-parented as it exited: record them now rather than at the next sweep,
    // so that a SIGKILL of the server soon after still finds them. One pass serves all the
    // leaders gone in ADOPT_DELAY_MS (a pass reads a /proc file per thread of the server).
    if (adopting && !this.soon) {
      this.soon = setTimeout(() => {
        this.soon = undefined;
        if (!this.closed) this.adoptChildren();
      }, ADOPT_DELAY_MS);
      this.soon.unref();
    }
  }

  /** How many groups are recorded (tests). */
  get size(): number {
    return this.groups.size;
  }

  private forget(pgid: number): void {
    if (!this.groups.delete(pgid)) return;
    try {
      this.log(`-${pgid}\n`);
    } catch {
      /* no log: its record is never read */
    }
  }

  /** Appends a line to the groups log (opened on first use), compacting it when it grew long. */
  private log(line: string): void {
    if (this.logFd < 0) {
      if (!this.dirReady) return;
      this.logFd = openSync(join(this.dir, GROUPS_LOG), 'a', 0o600);
    }
    writeSync(this.logFd, line);
    if (++this.logLines > this.groups.size + LOG_SLACK_LINES) this.compactLog();
  }

  /** Rewrites the log with the live records only (a new file renamed over the old: never torn). */
  private compactLog(): void {
    let text = '';
    for (const [pgid, rec] of this.groups) text += `+${pgid} ${rec.start} ${rec.sid}\n`;
    const fresh = join(this.dir, `${GROUPS_LOG}.new`);
    writeFileSync(fresh, text, { mode: 0o600 });
    renameSync(fresh, join(this.dir, GROUPS_LOG));
    closeSync(this.logFd);
    this.logFd = openSync(join(this.dir, GROUPS_LOG), 'a', 0o600);
    this.logLines = this.groups.size;
  }

  /** How many lines the groups log has (tests). */
  get logLength(): number {
    return this.logLines;
  }

  /** Forgets empty groups; as a subreaper, reaps adopted orphans and records the ones alive. */
  sweep(): void {
    if (adopting && fastSpawn) this.adoptChildren();
    for (const [pgid, rec] of this.groups) {
      if (rec.spawned && procInfo(pgid)?.start === rec.start) continue; // the leader runs
      if (!groupAlive(pgid)) this.forget(pgid);
    }
  }

  /** Our children that we did not spawn are orphans of scripts: reap the dead, record the living. */
  private adoptChildren(): void {
    // Taken before looking: a leader reaped after this is left for the next pass.
    const leaderless = [...this.leaderless];
    this.leaderless.clear();
    let orphans = false;
    for (const pid of childrenOf(process.pid)) {
      const rec = this.groups.get(pid);
      if (rec?.spawned) continue; // its spawner reaps it
      const info = procInfo(pid);
      if (!info) continue;
      if (info.state === 'Z') fastSpawn!.reap(pid);
      else {
        orphans = true;
        if (!this.groups.has(info.pgid)) this.add(info.pgid, info);
      }
    }
    // Whatever a leader left running was re-parented to us as it exited: with no orphan alive
    // below us, its group is empty. With one, the group is asked (it may be below the orphan).
    for (const [pgid, start] of leaderless) {
      if (this.groups.get(pgid)?.start !== start) continue; // forgotten, or a new group of that id
      if (!orphans || !groupAlive(pgid)) this.forget(pgid);
    }
  }

  /**
   * Ends every process of every group and all their descendants (as a subreaper: everything
   * below us): SIGTERM, up to `graceMs` for them to exit, then SIGKILL. Removes the records.
   */
  async endAll(graceMs = 2000): Promise<number> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const targets = (): Set<number> => {
      const procs = allProcesses();
      const roots: number[] = [];
      for (const [pgid, rec] of this.groups) for (const p of groupMembers(procs, pgid, rec.start, rec.sid)) roots.push(p.pid);
      if (adopting) roots.push(...childrenOf(process.pid));
      const all = withDescendants(procs, roots);
      all.delete(process.pid);
      // Zombies are gone already (their parent reaps them, or we do below).
      for (const p of procs) if (all.has(p.pid) && p.state === 'Z') all.delete(p.pid);
      return all;
    };
    const signal = (pids: Set<number>, sig: NodeJS.Signals): void => {
      for (const pgid of this.groups.keys()) tryKill(-pgid, sig, this.groups.get(pgid)!);
      for (const pid of pids) tryKill(pid, sig);
    };
    let left = targets();
    const count = left.size;
    if (left.size) {
      signal(left, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        if (adopting) this.reapAdopted();
        left = targets();
        if (left.size === 0) break;
      }
      if (left.size) {
        signal(left, 'SIGKILL');
        const killDeadline = Date.now() + 1000;
        while (Date.now() < killDeadline && targets().size) await new Promise((r) => setTimeout(r, 10));
      }
    }
    if (adopting) this.reapAdopted();
    for (const pgid of [...this.groups.keys()]) this.forget(pgid);
    if (this.logFd >= 0) {
      closeSync(this.logFd);
      this.logFd = -1;
    }
    if (this.dirReady) rmSync(this.dir, { recursive: true, force: true });
    return count;
  }

  /** Reaps zombie children that no spawner of ours waits for. */
  private reapAdopted(): void {
    for (const pid of childrenOf(process.pid)) {
      if (this.groups.get(pid)?.spawned) continue;
      const info = procInfo(pid);
      if (info?.state === 'Z') fastSpawn!.reap(pid);
    }
  }
}

/** Whether any process is in the group (kill with signal 0). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryKill(pid: number, sig: NodeJS.Signals, group?: GroupRecord): void {
  // A group whose leader is gone is signalled through its members (checked above); signalling
  // -pgid is only safe while its leader is still the process we recorded.
  if (group && procInfo(-pid)?.start !== group.start) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* gone, or not ours */
  }
}

/** The children of `pid` (all its threads'), from /proc/PID/task/TID/children. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readProcFile(`/proc/${pid}/task/${t}/children`).split(' ')) if (c) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}
