/**
 * Spawning mechanism for CGI scripts: one process per request, in its own process group, with
 * exactly the environment given (nothing of ours leaks in). Policy (what to run, with which
 * environment, what a failure means) lives with the callers.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { fastSpawn, launchWithBytes, pipeSocket, reapLater } from './fast-spawn.js';
import { osPath } from './byte-paths.js';
import { tagWithRunningRequest } from './request-owner.js';
import { aprErrorText } from './os-errors.js';
import { type ProcessGroups, readProcFile } from './process-groups.js';
import { RLIMIT_OF, resolveRLimit, type RLimitDirectives, type RLimitValue } from '../engine/resource-limits.js';

export interface CgiSpawnOptions {
  /** Program to exec (the script itself, or an interpreter such as php-cgi). */
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** RLimitCPU / RLimitMEM / RLimitNPROC for this child (mod_cgid's; set before exec). */
  limits?: readonly ChildLimit[];
  /** The server's process groups: the script's group is recorded there until it is empty. */
  groups?: ProcessGroups;
}

/** One rlimit for a child, resolved against the server's own limits. */
export interface ChildLimit {
  which: keyof RLimitDirectives;
  value: RLimitValue;
}

/** Linux's RLIMIT_* numbers (asm-generic/resource.h). */
const RESOURCE_NUMBER: Readonly<Record<keyof RLimitDirectives, number>> = { cpu: 0, nproc: 6, mem: 9 };
/** The row of /proc/self/limits for each, and prlimit(1)'s option. */
const LIMITS_ROW: Readonly<Record<keyof RLimitDirectives, string>> = { cpu: 'Max cpu time', nproc: 'Max processes', mem: 'Max address space' };
const PRLIMIT_OPTION: Readonly<Record<keyof RLimitDirectives, string>> = { cpu: '--cpu', nproc: '--nproc', mem: '--as' };

/** prlimit(1) (util-linux), the wrapper that sets limits when the native helper is not built. */
const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));

/** Whether limits can be applied on this path (the native helper, or prlimit(1) without it). */
export const LIMITS_SUPPORTED = fastSpawn !== undefined || PRLIMIT !== undefined;

/** The server's own limits (getrlimit), from /proc/self/limits. */
function ownLimit(which: keyof RLimitDirectives): RLimitValue {
  const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  try {
    const line = readProcFile('/proc/self/limits')
      .split('\n')
      .find((l) => l.startsWith(LIMITS_ROW[which]));
    const cols = line?.slice(26).trim().split(/\s+/) ?? [];
    return { soft: parse(cols[0]), hard: parse(cols[1]) };
  } catch {
    return { soft: Infinity, hard: Infinity };
  }
}

/**
 * The limits a CGI child gets from the request's RLimit* directives, as ap_unixd_set_rlimit
 * makes them from the server's own (see engine/resource-limits.ts), and AH02174 warnings.
 */
export function childLimits(d: RLimitDirectives): { limits: ChildLimit[]; warnings: string[] } {
  const limits: ChildLimit[] = [];
  const warnings: string[] = [];
  // Asked only when a limit is set (a system call per CGI request otherwise).
  let root: boolean | undefined;
  const names = { cpu: 'RLimitCPU', mem: 'RLimitMEM', nproc: 'RLimitNPROC' } as const;
  for (const which of Object.keys(RLIMIT_OF) as (keyof RLimitDirectives)[]) {
    const words = d[which];
    if (!words) continue;
    root ??= typeof process.geteuid === 'function' && process.geteuid() === 0;
    const r = resolveRLimit(names[which], words, ownLimit(which), root);
    limits.push({ which, value: r.value });
    if (r.warning) warnings.push(r.warning);
  }
  if (limits.length && !LIMITS_SUPPORTED) {
    warnings.push(
      'RLimitCPU/RLimitMEM/RLimitNPROC not applied: the native helper is not in use and prlimit(1) was not found (install util-linux, or build the helper with npm install)',
    );
  }
  return { limits, warnings };
}

const rlimValue = (n: number): string => (n === Infinity ? 'unlimited' : String(n));

/** Why a script cannot be exec'd, found before spawning (Apache's execve would fail). */
export interface ExecProblem {
  errno: 'EACCES' | 'ENOEXEC' | 'ENOENT';
  /** Apache's log text for the failed exec. */
  message: string;
  /** Plain words: what is wrong and how to fix it. */
  explain: string;
}

/**
 * The Scripts host's patched suexec runs `.php` (case-sensitive) as `php-cgi -f FILE`, with
 * PHPRC set to the script's directory, and needs no execute bit for it.
 */
export const runsThroughPhpCgi = (path: string, suexec: boolean): boolean => suexec && path.endsWith('.php');

/**
 * The kernel's verdict on exec'ing `file`, predicted from its mode and first line, because
 * Node's spawn uses execvp, which would run a script without `#!` through /bin/sh where
 * Apache's execve fails.
 */
export function checkExecutable(file: string): ExecProblem | undefined {
  const fail = (errno: ExecProblem['errno'], explain: string): ExecProblem => ({
    errno,
    message: `${aprErrorText(errno, errno)}: AH01241: exec of '${file}' failed`,
    explain,
  });
  let mode: number;
  try {
    mode = statSync(osPath(file)).mode;
  } catch {
    return fail('ENOENT', `${file} does not exist.`);
  }
  if ((mode & 0o111) === 0) {
    return fail('EACCES', `${file} is not executable: run "chmod +x ${file.split('/').pop()}" (the host runs scripts directly, so they need the execute bit).`);
  }
  const head = Buffer.alloc(256);
  let n = 0;
  try {
    const fd = openSync(osPath(file), 'r');
    n = readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
  } catch {
    return fail('EACCES', `${file} cannot be read by the server's user.`);
  }
  const start = head.subarray(0, n);
  if (start[0] === 0x7f && start.subarray(1, 4).toString() === 'ELF') return undefined;
  if (start.subarray(0, 2).toString() !== '#!') {
    return fail('ENOEXEC', `${file} has no "#!" line: start it with the interpreter, e.g. "#!/usr/bin/perl" or "#!/usr/bin/env python3".`);
  }
  const eol = start.indexOf(0x0a);
  const line = start.subarray(2, eol === -1 ? n : eol).toString('latin1');
  if (line.endsWith('\r')) {
    return fail(
      'ENOENT',
      `The "#!" line of ${file} ends in a carriage return (the file was saved with Windows line endings), so the kernel looks for an interpreter named "${line.trim()}\\r": convert it with dos2unix or save it with Unix line endings.`,
    );
  }
  const interpreter = line.trim().split(/\s+/)[0] ?? '';
  try {
    statSync(osPath(interpreter));
  } catch {
    return fail(
      'ENOENT',
      `The interpreter "${interpreter}" named on the "#!" line of ${file} does not exist here: fix the path (try "#!/usr/bin/env ${interpreter.split('/').pop()}").`,
    );
  }
  return undefined;
}

/** A running script: its pipes and a way to learn when it has exited (and was reaped). */
export interface CgiProcess {
  pid: number | undefined;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Called once, with the exit status, after the process is reaped. */
  onExit(cb: (code: number) => void): void;
  /** Called if the program could not be started. */
  onError(cb: (err: Error) => void): void;
  /**
   * The end of the request, as mod_cgid's cleanup_nonchild_process: a script still running gets
   * SIGTERM (itself, not its group: what it started in the background lives on, as on the
   * host), and SIGKILL 3 s later if it is still there (`forced` is called then, for the log).
   */
  endOfRequest(forced: () => void): void;
}

/** mod_cgid gives a script this long after SIGTERM before SIGKILL (dead_yet's 3 s). */
const CGID_KILL_WAIT_MS = 3000;

/** SIGTERM `pid` unless `exited()`, then SIGKILL after 3 s if it still has not exited. */
function cgidCleanup(pid: number, exited: () => boolean, onExit: (cb: () => void) => void, forced: () => void): void {
  if (exited()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    if (exited()) return;
    forced();
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, CGID_KILL_WAIT_MS);
  t.unref();
  onExit(() => clearTimeout(t));
}

const fast = fastSpawn;

/**
 * A script the helper could not start (exec failed, no fds or processes left): its output ends
 * at once, as a child_process spawn's does, so the request is answered as a script that printed
 * nothing (500, "End of script output before headers") instead of waiting for its timeout; what
 * is written to its input is dropped.
 */
function notStarted(err: Error): CgiProcess {
  const errorCbs: ((e: Error) => void)[] = [];
  queueMicrotask(() => errorCbs.forEach((cb) => cb(err)));
  return {
    pid: undefined,
    stdin: new Writable({ write: (_chunk, _encoding, done) => done() }),
    stdout: Readable.from([]),
    stderr: Readable.from([]),
    onExit: () => undefined,
    onError: (cb) => errorCbs.push(cb),
    endOfRequest: () => undefined,
  };
}

/** Which mechanism starts scripts (for logs and docs). */
export const SPAWN_MECHANISM = fast ? 'posix_spawn' : 'child_process';

/** Starts the process in a new process group (so the whole group can be killed). */
export function spawnCgi(opts: CgiSpawnOptions): CgiProcess {
  if (fast) {
    // A helper built before `envBytes` writes UTF-8: the shell sets bytes above 0x7f.
    const run = launchWithBytes(opts, fast.envBytes === true);
    const envp = Object.entries(run.env).map(([k, v]) => `${k}=${v}`);
    let started: [number, number, number, number];
    const limits = (opts.limits ?? []).flatMap((l) => [RESOURCE_NUMBER[l.which], l.value.soft === Infinity ? -1 : l.value.soft, l.value.hard === Infinity ? -1 : l.value.hard]);
    try {
      started = limits.length ? fast.spawn(run.program, [run.program, ...run.args], envp, run.cwd, -1, limits) : fast.spawn(run.program, [run.program, ...run.args], envp, run.cwd);
    } catch (err) {
      return notStarted(err as Error);
    }
    const [pid, inFd, outFd, errFd] = started;
    opts.groups?.add(pid);
    // Tied to the running request: a throw in their callbacks ends its response (request-guard.ts).
    const stdin = tagWithRunningRequest(pipeSocket(inFd, 'write'));
    const stdout = tagWithRunningRequest(pipeSocket(outFd, 'read'));
    const stderr = tagWithRunningRequest(pipeSocket(errFd, 'read'));
    let ended = 0;
    let reaped = false;
    const exitCbs: ((code: number) => void)[] = [];
    const settle = (code: number): void => {
      if (reaped) return;
      reaped = true;
      opts.groups?.leaderGone(pid);
      exitCbs.forEach((cb) => cb(code));
    };
    // Reaped here or by reapLater, whichever comes first (the other then sees -2, ignored).
    const tryReap = (): boolean => {
      if (reaped) return true;
      const code = fast.reap(pid);
      if (code >= 0 || code === -2) settle(code < 0 ? 0 : code);
      return reaped;
    };
    const onEnd = (): void => {
      ended++;
      if (ended === 2 && !reaped) reapLater(pid, settle);
    };
    stdout.once('close', onEnd);
    stderr.once('close', onEnd);
    return {
      pid,
      stdin,
      stdout,
      stderr,
      onExit: (cb) => exitCbs.push(cb),
      onError: () => undefined,
      endOfRequest: (forced) => {
        cgidCleanup(pid, tryReap, (cb) => exitCbs.push(cb), forced);
        // A background child may hold the script's stderr open: reap the script anyway.
        if (!reaped && ended < 2) reapLater(pid, settle);
      },
    };
  }
  // Without the native helper, prlimit(1) sets the limits on itself and execs the script (same
  // pid); without prlimit the script runs unlimited (childLimits says so in the log).
  const wrap = opts.limits?.length && PRLIMIT !== undefined;
  const [program, args] = wrap
    ? [PRLIMIT, [...opts.limits!.map((l) => `${PRLIMIT_OPTION[l.which]}=${rlimValue(l.value.soft)}:${rlimValue(l.value.hard)}`), '--', opts.program, ...opts.args]]
    : [opts.program, opts.args];
  // Node's spawn writes the environment as UTF-8: the shell sets bytes above 0x7f (outside
  // prlimit, so that its command substitutions do not count against RLimitNPROC).
  const launch = launchWithBytes({ program, args, env: opts.env, cwd: opts.cwd }, false);
  const child = spawn(launch.program, launch.args, { cwd: launch.cwd, env: launch.env, detached: true, stdio: 'pipe' });
  opts.groups?.add(child.pid);
  child.once('exit', () => opts.groups?.leaderGone(child.pid));
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    onExit: (cb) => child.once('exit', (code, signal) => cb(code ?? (signal ? 128 : 0))),
    onError: (cb) => child.once('error', cb),
    endOfRequest: (forced) => {
      if (child.pid !== undefined)
        cgidCleanup(
          child.pid,
          () => child.exitCode !== null || child.signalCode !== null,
          (cb) => child.once('exit', cb),
          forced,
        );
    },
  };
}

/**
 * Ends a script's whole process group when its request fails (timeout, client gone, bad
 * headers): SIGTERM first, as mod_cgid's cleanup gives the script a chance to clean up, then
 * SIGKILL 3 s later for whatever is left. Stricter than Apache, which signals only the script
 * (its background children live on there); harmless when the group is gone already.
 */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return; /* already gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, CGID_KILL_WAIT_MS);
  t.unref();
}
