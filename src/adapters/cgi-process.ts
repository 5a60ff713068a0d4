/**
 * Spawning mechanism for CGI scripts: one process per request, in its own process group, with
 * exactly the environment given (nothing of ours leaks in). Policy (what to run, with which
 * environment, what a failure means) lives with the callers.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fastSpawn, reapLater } from './fast-spawn.js';
import { aprErrorText } from './os-errors.js';

export interface CgiSpawnOptions {
  /** Program to exec (the script itself, or an interpreter such as php-cgi). */
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

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
    mode = statSync(file).mode;
  } catch {
    return fail('ENOENT', `${file} does not exist.`);
  }
  if ((mode & 0o111) === 0) {
    return fail('EACCES', `${file} is not executable: run "chmod +x ${file.split('/').pop()}" (the host runs scripts directly, so they need the execute bit).`);
  }
  const head = Buffer.alloc(256);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
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
    return fail('ENOENT', `The "#!" line of ${file} ends in a carriage return (the file was saved with Windows line endings), so the kernel looks for an interpreter named "${line.trim()}\\r": convert it with dos2unix or save it with Unix line endings.`);
  }
  const interpreter = line.trim().split(/\s+/)[0] ?? '';
  try {
    statSync(interpreter);
  } catch {
    return fail('ENOENT', `The interpreter "${interpreter}" named on the "#!" line of ${file} does not exist here: fix the path (try "#!/usr/bin/env ${interpreter.split('/').pop()}").`);
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
}

const fast = fastSpawn;

/** Which mechanism starts scripts (for logs and docs). */
export const SPAWN_MECHANISM = fast ? 'posix_spawn' : 'child_process';

/** Starts the process in a new process group (so the whole group can be killed). */
export function spawnCgi(opts: CgiSpawnOptions): CgiProcess {
  if (fast) {
    const envp = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`);
    let started: [number, number, number, number];
    try {
      started = fast.spawn(opts.program, [opts.program, ...opts.args], envp, opts.cwd);
    } catch (err) {
      const failed = new Socket();
      const errorCbs: ((e: Error) => void)[] = [];
      queueMicrotask(() => errorCbs.forEach((cb) => cb(err as Error)));
      return {
        pid: undefined,
        stdin: failed,
        stdout: failed,
        stderr: failed,
        onExit: () => undefined,
        onError: (cb) => errorCbs.push(cb),
      };
    }
    const [pid, inFd, outFd, errFd] = started;
    const stdin = new Socket({ fd: inFd, readable: false, writable: true });
    const stdout = new Socket({ fd: outFd, readable: true, writable: false });
    const stderr = new Socket({ fd: errFd, readable: true, writable: false });
    let ended = 0;
    const exitCbs: ((code: number) => void)[] = [];
    const onEnd = (): void => {
      ended++;
      if (ended === 2) reapLater(pid, (code) => exitCbs.forEach((cb) => cb(code)));
    };
    stdout.once('close', onEnd);
    stderr.once('close', onEnd);
    return { pid, stdin, stdout, stderr, onExit: (cb) => exitCbs.push(cb), onError: () => undefined };
  }
  const child = spawn(opts.program, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: 'pipe' });
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    onExit: (cb) => child.once('exit', (code, signal) => cb(code ?? (signal ? 128 : 0))),
    onError: (cb) => child.once('error', cb),
  };
}

/** Kills a script's whole process group; harmless when it is gone already. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
