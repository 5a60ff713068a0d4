/**
 * The native helper (native/fast-spawn.c, built by `npm install` through node-gyp): posix_spawn
 * with its own process group and default signals, explicit reaping, listening Unix sockets for
 * FastCGI apps. Undefined when it was not built; callers then fall back to child_process.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FastSpawn {
  /**
   * [pid, stdinFd (-1 with fd0), stdoutFd, stderrFd]. fd0: -1 for a pipe. limits: flat
   * [resource, soft, hard] triples (-1: unlimited), set in the child before exec (fork path).
   */
  spawn(program: string, argv: string[], envp: string[], cwd: string, fd0?: number, limits?: number[]): [number, number, number, number];
  /** prctl(PR_SET_CHILD_SUBREAPER): 0, or -errno. Missing in a helper built before it existed. */
  setChildSubreaper?(): number;
  /** Exit status, -1 while running, -2 when not our child. */
  reap(pid: number): number;
  listenUnix(path: string, backlog: number): number;
  closeFd(fd: number): void;
  /** 1 when fd is readable or at EOF, 0 on timeout, -errno on error. */
  pollIn(fd: number, timeoutMs: number): number;
  /** A non-blocking inotify fd, or -errno. */
  inotifyInit(): number;
  /** Watches a directory's entries and itself; a watch descriptor, or -errno. */
  inotifyWatch(fd: number, path: string): number;
  /** Reads every queued event: how many (0: none), -1 on overflow or error. */
  inotifyDrain(fd: number): number;
}

function load(): FastSpawn | undefined {
  // Read once at start-up: forces Node's own spawn, to compare the two (docs/performance.md).
  if (process.env.HTSANDBOX_NODE_SPAWN === '1') return undefined;
  try {
    const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
    return createRequire(import.meta.url)(join(root, 'build/Release/fast_spawn.node')) as FastSpawn;
  } catch {
    return undefined;
  }
}

export const fastSpawn: FastSpawn | undefined = load();

/** Polls for a child's exit without blocking (libuv's SIGCHLD handler ignores our pids). */
export function reapLater(pid: number, cb: (code: number) => void, delay = 1): void {
  const code = fastSpawn!.reap(pid);
  if (code >= 0 || code === -2) {
    cb(code < 0 ? 0 : code);
    return;
  }
  setTimeout(() => reapLater(pid, cb, Math.min(delay * 2, 200)), delay).unref();
}
