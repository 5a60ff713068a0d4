/**
 * The real file system as the resolver sees it, with each `.htaccess` parsed once and kept
 * until it changes (path, mtime, size, inode), as style.md §9 asks; Apache itself re-reads
 * every file on every request, so an edit shows on the next request either way.
 */
import { lstatSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { analyzeHtaccess } from '../grammar/htaccess-analysis.js';
import { htaccessIgnored, overridePolicyFor, type HostConfig } from '../grammar/host-config.js';
import type { HostFacts } from '../grammar/conditions.js';
import type { FsEntry, FsView, HtaccessRead } from '../engine/fs-view.js';

const MISSING: FsEntry = { kind: 'missing', size: 0, mtimeUs: 0n, uid: -1, mode: 0, dev: 0, ino: 0 };
const DENIED: FsEntry = { kind: 'denied', size: 0, mtimeUs: 0n, uid: -1, mode: 0, dev: 0, ino: 0 };

function toEntry(st: BigIntStats): FsEntry {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { kind, size: Number(st.size), mtimeUs: st.mtimeNs / 1000n, uid: Number(st.uid), mode: Number(st.mode), dev: Number(st.dev), ino: Number(st.ino) };
}

function statWith(fn: typeof statSync, path: string): FsEntry {
  try {
    // throwIfNoEntry: a missing file is common (probes for .htaccess, index files) and an
    // exception per miss is costly.
    const st = fn(path, { bigint: true, throwIfNoEntry: false });
    return st ? toEntry(st) : MISSING;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return DENIED;
    return MISSING;
  }
}

interface CacheEntry {
  key: string;
  read: HtaccessRead;
}

export class DiskFsView implements FsView {
  private readonly cache = new Map<string, CacheEntry>();
  /** How many times an access file was parsed (for tests: once per change). */
  parseCount = 0;

  constructor(
    private readonly host: HostConfig,
    private readonly facts: HostFacts,
  ) {}

  lstat(path: string): FsEntry {
    return statWith(lstatSync as typeof statSync, path);
  }

  stat(path: string): FsEntry {
    return statWith(statSync, path);
  }

  readText(path: string): string | undefined {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return undefined;
    }
  }

  htaccess(dir: string): HtaccessRead {
    const policy = overridePolicyFor(this.host, dir);
    if (htaccessIgnored(policy)) return { kind: 'none' };
    for (const name of this.host.accessFileNames) {
      const file = join(dir, name);
      let st: BigIntStats | undefined;
      try {
        st = statSync(file, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR') continue;
        return { kind: 'unreadable', file, dir };
      }
      if (!st) continue;
      const key = `${st.ino}:${st.size}:${st.mtimeNs}:${policy.mask}:${policy.opts}`;
      const cached = this.cache.get(file);
      if (cached && cached.key === key) return cached.read;
      let text: string;
      try {
        text = readFileSync(file, 'latin1');
      } catch {
        return { kind: 'unreadable', file, dir };
      }
      this.parseCount++;
      const analysis = analyzeHtaccess(text, file, this.facts, this.host.modules, policy);
      const read: HtaccessRead = { kind: 'parsed', file, analysis, policy };
      this.cache.set(file, { key, read });
      return read;
    }
    return { kind: 'none' };
  }
}
