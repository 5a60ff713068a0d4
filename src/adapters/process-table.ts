/**
 * Each server's FastCGI state directory keeps a process table: `server.pid` (the server's pid
 * and start time) and one `<pid>.app` file per running application (its start time). When a
 * server dies without shutting down (SIGKILL, a crash), its applications keep running; the
 * next server to start finds the directory of a server that is gone and ends them — checking
 * each pid's start time first, so a pid the kernel has since reused is never killed.
 * The `groups.log` (process-groups.ts: `+<pgid> <start> <sid>` / `-<pgid>` lines; older servers
 * wrote a `<pgid>.group` file each) names every process group a server started, CGI scripts included: whatever still runs in such a group, in the same session and
 * started no earlier than the recorded leader, is ended too, even once the leader is gone.
 */
import { readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allProcesses, GROUPS_LOG, groupMembers, readProcFile, recordedGroups, type ProcInfo } from './process-groups.js';

/** The prefix of every server's state directory under the temporary directory. */
export const STATE_DIR_PREFIX = 'htsandbox-fcgid-';

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); undefined when the pid does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readProcFile(`/proc/${pid}/stat`);
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export class ProcessTable {
  constructor(private readonly dir: string) {}

  /** Marks the directory as this server's (call once it exists). */
  claim(): void {
    writeFileSync(join(this.dir, 'server.pid'), `${process.pid} ${processStartTime(process.pid) ?? ''}\n`);
  }

  add(pid: number): void {
    const start = processStartTime(pid);
    if (start !== undefined) writeFileSync(join(this.dir, `${pid}.app`), `${start}\n`);
  }

  remove(pid: number): void {
    try {
      unlinkSync(join(this.dir, `${pid}.app`));
    } catch {
      /* already gone */
    }
  }
}

/** Whether `pid` still is the process that was recorded with `start`. */
function sameProcess(pid: number, start: string | undefined): boolean {
  return start !== undefined && start !== '' && processStartTime(pid) === start;
}

/**
 * Ends the applications of servers that are gone and removes their state directories.
 * Returns the pids that were ended (each once).
 */
export function reapLeftovers(parent: string): number[] {
  const ended = new Set<number>();
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(STATE_DIR_PREFIX));
  } catch {
    return [];
  }
  for (const name of names) {
    const dir = join(parent, name);
    let owner: string;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(dir);
      if (!st.isDirectory()) continue;
    } catch {
      continue;
    }
    try {
      owner = readFileSync(join(dir, 'server.pid'), 'latin1');
    } catch {
      // Not claimed yet (a server between mkdir and claim), or not ours to read. One that stayed
      // empty for a minute belonged to a server that died right there: remove it.
      try {
        if (Date.now() - st.mtimeMs > 60_000 && readdirSync(dir).length === 0) rmdirSync(dir);
      } catch {
        /* not ours */
      }
      continue;
    }
    const [pidText, start] = owner.trim().split(' ');
    if (sameProcess(Number(pidText), start)) continue; // that server is alive
    let apps: string[] = [];
    let groups: string[] = [];
    try {
      const entries = readdirSync(dir);
      apps = entries.filter((n) => n.endsWith('.app'));
      groups = entries.filter((n) => n.endsWith('.group'));
    } catch {
      continue;
    }
    // The groups log (process-groups.ts), and `<pgid>.group` files of servers before it.
    const records: [number, number, number][] = [];
    try {
      for (const [pgid, r] of recordedGroups(readFileSync(join(dir, GROUPS_LOG), 'latin1'))) records.push([pgid, r.start, r.sid]);
    } catch {
      /* no log: no group was recorded */
    }
    for (const g of groups) {
      try {
        const recorded = readFileSync(join(dir, g), 'latin1').trim().split(' ');
        if (recorded[1] !== undefined) records.push([Number.parseInt(g, 10), Number(recorded[0]), Number(recorded[1])]);
      } catch {
        /* gone meanwhile */
      }
    }
    let procs: ProcInfo[] | undefined;
    for (const [pgid, start, sid] of records) {
      if (!Number.isInteger(pgid) || pgid <= 1 || !Number.isFinite(start) || !Number.isFinite(sid)) continue;
      procs ??= allProcesses();
      for (const p of groupMembers(procs, pgid, start, sid)) {
        if (p.pid === process.pid) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
          ended.add(p.pid);
        } catch {
          /* gone, or not ours */
        }
      }
    }
    for (const app of apps) {
      const pid = Number.parseInt(app, 10);
      let recorded: string | undefined;
      try {
        recorded = readFileSync(join(dir, app), 'latin1').trim();
      } catch {
        continue;
      }
      if (!Number.isInteger(pid) || pid <= 1 || !sameProcess(pid, recorded)) continue;
      try {
        // Each application leads its own process group: end the group.
        process.kill(-pid, 'SIGKILL');
        ended.add(pid);
      } catch {
        /* not ours to end (another user's), or gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return [...ended];
}
