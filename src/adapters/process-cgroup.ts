/**
 * A cgroup v2 of the server's own, where one is writable (root, a cgroup2 mount): the CLI moves
 * itself into `<its cgroup>/htsandbox-<pid>-<start>` at start, so every process it starts, and
 * every process those start, is in it — even one that calls setsid, which a process group or
 * the subreaper (once the server is gone) cannot hold. At shutdown what is still in it (but the
 * server) is killed; after a SIGKILL of the server, the next start kills what is in the cgroups
 * of servers that are gone (the name carries the pid and start time, so a live server's cgroup
 * is never touched) and removes them. Where no cgroup is writable nothing changes.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { procInfo } from './process-groups.js';

const PREFIX = 'htsandbox-';

/** The cgroup v2 directory this process is in, or undefined (no cgroup2 mount, v1 only). */
function currentCgroupDir(): string | undefined {
  try {
    const mount = readFileSync('/proc/self/mountinfo', 'latin1')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
    const own = readFileSync('/proc/self/cgroup', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
    if (!mount || own === undefined) return undefined;
    return join(mount, own);
  } catch {
    return undefined;
  }
}

let serverCgroup: string | undefined;

/** Moves this process into a cgroup of its own; returns why not, or undefined when it did. */
export function enterServerCgroup(): string | undefined {
  const parent = currentCgroupDir();
  if (!parent) return 'no cgroup v2 hierarchy is mounted';
  const start = procInfo(process.pid)?.start;
  const dir = join(parent, `${PREFIX}${process.pid}-${start}`);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
  } catch (err) {
    try {
      rmdirSync(dir);
    } catch {
      /* never made */
    }
    return `cannot make a cgroup under ${parent}: ${(err as Error).message}`;
  }
  serverCgroup = dir;
  return undefined;
}

function members(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killAll(pids: number[]): number[] {
  const killed: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone, or not ours */
    }
  }
  return killed;
}

/**
 * At shutdown, after the process groups were ended: kills what is still in the server's cgroup
 * (a process that left its group and session), then, where allowed (root), moves the server back
 * and removes the cgroup. Returns the pids killed.
 */
export async function endServerCgroup(): Promise<number[]> {
  const dir = serverCgroup;
  if (!dir) return [];
  const killed = killAll(members(dir));
  for (let i = 0; i < 50 && members(dir).some((p) => p !== process.pid); i++) await new Promise((r) => setTimeout(r, 20));
  try {
    writeFileSync(join(dirname(dir), 'cgroup.procs'), String(process.pid));
    rmdirSync(dir);
    serverCgroup = undefined;
  } catch {
    /* not root any more (User): the next start removes it */
  }
  return killed;
}

/** Kills what is left in the cgroups of servers that are gone, and removes those cgroups. */
export function reapLeftoverCgroups(): number[] {
  const parent = currentCgroupDir();
  if (!parent) return [];
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(PREFIX));
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const name of names) {
    const m = /^htsandbox-(\d+)-(\d+)$/.exec(name);
    if (!m) continue;
    if (String(procInfo(Number(m[1]))?.start) === m[2]) continue; // its server is alive
    const dir = join(parent, name);
    const inside = members(dir);
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
      killed.push(...inside);
    } catch {
      killed.push(...killAll(inside)); // a kernel before 5.14 has no cgroup.kill
    }
    // Killed processes leave the cgroup once they are gone; then it can be removed. (Start-up
    // is synchronous: wait in 20 ms steps, 1 s at most.)
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 50 && members(dir).length; i++) Atomics.wait(pause, 0, 0, 20);
    try {
      rmdirSync(dir);
    } catch {
      /* still populated, or not ours */
    }
  }
  return killed;
}
