/**
 * What a server process holds and leaves behind, read from /proc: its open descriptors (what
 * each one is), its resident memory, and the processes that belong to a site copy.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What each open descriptor is (sockets with their TCP ports), to say what leaked. */
export function fdTargets(pid: number): string[] {
  const tcp = new Map<string, string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (a: string): number => Number.parseInt(a.split(':')[1]!, 16);
      tcp.set(f[9]!, `tcp ${port(f[1]!)}->${port(f[2]!)} state ${f[3]}`);
    }
  }
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      out.push(`${fd}: ${target}${inode && tcp.has(inode) ? ` (${tcp.get(inode)})` : ''}`);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Resident set size in KiB (VmRSS), or 0 once the process is gone. */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Processes of a site copy: those whose command line names `siteRoot` (scripts, FastCGI
 * applications) or whose environment does (what a CGI script started inherits DOCUMENT_ROOT,
 * and so do children of a FastCGI application that forked during a request). Zombies too.
 */
export function processesOfSite(siteRoot: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
      let environ = '';
      try {
        environ = readFileSync(`/proc/${p}/environ`, 'latin1');
      } catch {
        /* not ours to read */
      }
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? '?';
      if (cmd.includes(siteRoot) || environ.includes(`=${siteRoot}\0`) || environ.includes(`=${siteRoot}/`)) found.push(`${p} [${state}] ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/** Ends (SIGKILL, by pid) what `processesOfSite` lists: cleanup after a failed run. */
export function killProcessesOfSite(siteRoot: string): void {
  for (const line of processesOfSite(siteRoot)) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
