/**
 * The native helper (native/fast-spawn.c, built by `npm install` through node-gyp): posix_spawn
 * with its own process group and default signals, explicit reaping, listening Unix sockets for
 * FastCGI apps. Undefined when it was not built; callers then fall back to child_process.
 */
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { utf8Text } from './byte-paths.js';

export interface FastSpawn {
  /**
   * [pid, stdinFd (-1 with fd0), stdoutFd, stderrFd]. fd0: -1 for a pipe. limits: flat
   * [resource, soft, hard] triples (-1: unlimited), set in the child before exec (fork path).
   */
  spawn(program: string, argv: string[], envp: string[], cwd: string, fd0?: number, limits?: number[]): [number, number, number, number];
  /**
   * True when spawn writes each environment string as bytes (one per UTF-16 unit; UTF-8 only
   * for a string with a unit above 0xFF). Missing in a helper built before: it wrote UTF-8.
   */
  envBytes?: boolean;
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
  /**
   * Has the event loop poll the queue: each time it holds events it is drained and counts[0]
   * goes up (counts[1] becomes 1 if the queue cannot be read any more). 0, or -errno. A helper
   * built before this existed has no such function.
   */
  inotifyPollInLoop?(fd: number, counts: Int32Array): number;
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

/** A byte above 0x7f in a byte string (request and configuration text are kept as latin1). */
const HIGH_BYTE = /[\x80-\xff]/;
/** A unit above 0xFF: the string is text, not bytes (written as UTF-8 by every path). */
const WIDE = /[^\x00-\xff]/;
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRINTF_PLAIN = /[A-Za-z0-9 ,./:=_+@-]/;

/** A byte string as a printf format that prints exactly its bytes (ASCII only: argv is UTF-8 too). */
function printfFormat(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '%') out += '%%';
    else if (PRINTF_PLAIN.test(ch)) out += ch;
    else out += `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** How to start a program: what to exec, its arguments, its environment, where. */
export interface Launch {
  program: string;
  args: string[];
  env: Record<string, string>;
  /** The directory it starts in. */
  cwd: string;
}

/**
 * Apache hands a script the bytes of its variables (a decoded `%E9` in PATH_INFO is the byte
 * 0xE9; apr_proc_create's execve takes them as they are), and execs its path and changes to its
 * directory with their bytes. Paths here are byte strings (byte-paths.ts); the native helper's
 * paths and arguments, and everything Node's child_process takes, are text written as UTF-8. A
 * path whose bytes are UTF-8 is handed over as that text. Environment values go out as bytes
 * when `envBytes` (the native helper says it writes them so); otherwise, and for a path that is
 * not UTF-8 (a Latin-1 name), /bin/sh sets them from printf's octal escapes, changes directory
 * and execs the program (same pid, same process group). dash adds its own PWD: the program gets
 * the one it was given, or none. A launch needing none of this is returned as it is.
 */
export function launchWithBytes(launch: Launch, envBytes: boolean): Launch {
  const { env } = launch;
  let moved: string[] | undefined;
  if (!envBytes) {
    for (const k in env) {
      const v = env[k]!;
      if (HIGH_BYTE.test(v) && !WIDE.test(v) && SHELL_NAME.test(k)) (moved ??= []).push(k);
    }
  }
  const cwd = utf8Text(launch.cwd);
  const words = [launch.program, ...launch.args];
  const texts = words.map(utf8Text);
  if (!moved && cwd !== undefined && texts.every((t) => t !== undefined)) {
    if (cwd === launch.cwd && texts.every((t, i) => t === words[i])) return launch;
    return { program: texts[0]!, args: texts.slice(1) as string[], env, cwd };
  }
  let script = '';
  // Directory first: the environment's PWD is set after dash's cd has set its own.
  if (cwd === undefined) script += `_hts_d=$(printf '${printfFormat(launch.cwd)}x'); cd "\${_hts_d%x}" || exit 127; `;
  moved ??= [];
  if ('PWD' in env && !moved.includes('PWD')) moved.push('PWD');
  const rest = { ...env };
  for (const k of moved) {
    delete rest[k];
    // $(…) drops trailing newlines: a final 'x' keeps them, and is taken off after.
    script += `${k}=$(printf '${printfFormat(env[k]!)}x'); export ${k}="\${${k}%x}"; `;
  }
  if (!('PWD' in env)) script += 'unset PWD; ';
  // Words that are text go to sh as arguments; the others are made from their bytes.
  const positional: string[] = [];
  const exec = words.map((word, i) => {
    const text = texts[i];
    if (text !== undefined) {
      positional.push(text);
      return `"\${${positional.length}}"`;
    }
    script += `_hts_w${i}=$(printf '${printfFormat(word)}x'); `;
    return `"\${_hts_w${i}%x}"`;
  });
  script += `exec ${exec.join(' ')}`;
  return { program: '/bin/sh', args: ['-c', script, 'sh', ...positional], env: rest, cwd: cwd ?? '/' };
}

/**
 * A net.Socket on one end of a pipe the helper made (the child's stdin, stdout or stderr).
 * The options already hold every field Node's Socket constructor sets, with the values it
 * forces: Node 20 copies them with a spread and then adds allowHalfOpen, emitClose, autoDestroy
 * and decodeStrings, and a copy given new fields gets a new hidden class on every call, so each
 * option the stream constructors read after it missed V8's inline caches (three sockets per CGI
 * request). With the fields present the copy keeps one class (docs/performance.md, session 15).
 */
export function pipeSocket(fd: number, direction: 'read' | 'write'): Socket {
  return new Socket({
    fd,
    readable: direction === 'read',
    writable: direction === 'write',
    allowHalfOpen: false,
    emitClose: false,
    autoDestroy: true,
    decodeStrings: false,
  } as ConstructorParameters<typeof Socket>[0]);
}
