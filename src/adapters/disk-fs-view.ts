/**
 * The real file system as the resolver sees it, with each `.htaccess` parsed once and kept
 * until it changes (path, mtime, size, inode), as style.md §9 asks; Apache itself re-reads
 * every file on every request, so an edit shows on the next request either way.
 */
import { lstatSync, openSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { osPath, readdirBytes } from './byte-paths.js';
import type { ChangeWatcher } from './change-watcher.js';
import { withFcgidProgramCheck } from './fcgid-programs.js';
import { analyzeHtaccess, analyzeHtaccessSteps, type HtaccessAnalysis } from '../grammar/htaccess-analysis.js';
import { htaccessIgnored, overridePolicyFor, type HostConfig, type OverridePolicy } from '../grammar/host-config.js';
import type { HostFacts } from '../grammar/conditions.js';
import type { FsEntry, FsView, HtaccessRead } from '../engine/fs-view.js';
import { prepareLevelSteps } from '../engine/dir-config.js';

const MISSING: FsEntry = { kind: 'missing', size: 0, mtimeUs: 0n, uid: -1, mode: 0, dev: 0, ino: 0 };
const DENIED: FsEntry = { kind: 'denied', size: 0, mtimeUs: 0n, uid: -1, mode: 0, dev: 0, ino: 0 };
const FAILED: FsEntry = { kind: 'failed', size: 0, mtimeUs: 0n, uid: -1, mode: 0, dev: 0, ino: 0 };

function toEntry(st: BigIntStats): FsEntry {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { kind, size: Number(st.size), mtimeUs: st.mtimeNs / 1000n, uid: Number(st.uid), mode: Number(st.mode), dev: Number(st.dev), ino: Number(st.ino) };
}

function statWith(fn: typeof statSync, path: string): FsEntry {
  try {
    // throwIfNoEntry: a missing file is common (probes for .htaccess, index files) and an
    // exception per miss is costly.
    const st = fn(osPath(path), { bigint: true, throwIfNoEntry: false });
    return st ? toEntry(st) : MISSING;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return DENIED;
    if (code === 'ENAMETOOLONG') return FAILED;
    return MISSING;
  }
}

interface CacheEntry {
  key: string;
  read: HtaccessRead;
}

/**
 * Access files from this size on are read ahead of the request's walk, in slices (see
 * `prepare`); a smaller one takes well under a millisecond and is read where the walk meets it.
 */
const SLICED_READ_MIN_BYTES = 32 * 1024;
/** Work done in one turn of the event loop while a big access file is read. */
const SLICE_MS = 4;

/** Runs `steps` to its end, giving the event loop a turn every SLICE_MS of work. */
async function runSliced<T>(steps: Generator<void, T>): Promise<T> {
  let until = performance.now() + SLICE_MS;
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() >= until) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      until = performance.now() + SLICE_MS;
    }
  }
}

/** Bound on remembered answers (hostile URLs make many distinct missing paths). */
const MAX_REMEMBERED = 20_000;

export class DiskFsView implements FsView {
  private readonly cache = new Map<string, CacheEntry>();
  /** How many times an access file was parsed (for tests: once per change). */
  parseCount = 0;
  /** Answers kept until the watcher reports a change (only with a watcher). */
  private readonly lstats = new Map<string, FsEntry>();
  private readonly stats = new Map<string, FsEntry>();
  private readonly reads = new Map<string, HtaccessRead>();
  private readonly texts = new Map<string, string | undefined>();
  /** Directories `prepare` found nothing big to read ahead in, while nothing changed (watched). */
  private readonly prepared = new Set<string>();
  /** Lists of directories all in `prepared`, with the epoch they were found in. */
  private readonly preparedLists = new WeakMap<readonly string[], number>();
  /** Moves on whenever `prepared` is emptied (a change, or its bound). */
  private prepareEpoch = 0;

  constructor(
    private readonly host: HostConfig,
    private readonly facts: HostFacts,
    /** Undefined: every answer is looked up again (no kernel watch). */
    private readonly watcher: ChangeWatcher | undefined,
  ) {}

  /** Called as each request starts: forgets every remembered answer if anything changed. */
  sync(): void {
    if (this.watcher?.changed()) this.forget();
  }

  /**
   * Counts the changes seen so far; undefined without a watcher. While it stays the same, what
   * was checked on disk earlier (e.g. that the server user may read a file) still holds.
   */
  get generation(): number | undefined {
    return this.watcher ? this.changes : undefined;
  }
  private changes = 0;

  /** See FsView.unwatchedAnswers. */
  unwatchedAnswers = 0;

  private forget(): void {
    this.changes++;
    this.lstats.clear();
    this.stats.clear();
    this.reads.clear();
    this.texts.clear();
    this.prepared.clear();
    this.prepareEpoch++;
  }

  /** Watches `dir` before it is read (a change in between is then reported, never lost). */
  private watched(dir: string): boolean {
    return this.watcher?.watch(dir) ?? false;
  }

  /** Remembers `value` for `key` when its directory was watched before it was read. */
  private remember<V>(map: Map<string, V>, key: string, watched: boolean, value: V): V {
    if (!watched) {
      this.unwatchedAnswers++;
      return value;
    }
    if (map.size >= MAX_REMEMBERED) map.clear();
    map.set(key, value);
    return value;
  }

  lstat(path: string): FsEntry {
    const known = this.lstats.get(path);
    if (known) return known;
    const watched = this.watched(dirname(path));
    return this.remember(this.lstats, path, watched, statWith(lstatSync as typeof statSync, path));
  }

  stat(path: string): FsEntry {
    const known = this.stats.get(path);
    if (known) return known;
    const watched = this.watched(dirname(path));
    const entry = statWith(statSync, path);
    // A symlink's target may live in a directory nobody watches: look again every time.
    return this.remember(this.stats, path, watched && this.lstat(path).kind !== 'symlink', entry);
  }

  readText(path: string): string | undefined {
    if (this.texts.has(path)) return this.texts.get(path);
    const watched = this.watched(dirname(path));
    let text: string | undefined;
    try {
      text = readFileSync(osPath(path), 'latin1');
    } catch {
      text = undefined;
    }
    const small = text === undefined || text.length <= 1 << 20;
    return this.remember(this.texts, path, watched && small && this.lstat(path).kind !== 'symlink', text);
  }

  /**
   * The server's reads of what a request found (the view's paths are byte strings, see
   * byte-paths.ts); each throws as Node's function does. `open` opens for reading.
   */
  open(path: string): number {
    return openSync(osPath(path), 'r');
  }
  readFile(path: string): Buffer {
    return readFileSync(osPath(path));
  }
  /** The names in directory `dir`, as byte strings. */
  readdir(dir: string): string[] {
    return readdirBytes(dir);
  }

  htaccess(dir: string): HtaccessRead {
    const known = this.reads.get(dir);
    if (known) return known;
    const watched = this.watched(dir);
    const read = this.readHtaccess(dir);
    const stable = read.kind !== 'parsed' || (this.lstat(read.file).kind !== 'symlink' && !(read.analysis as { programMissing?: boolean }).programMissing);
    return this.remember(this.reads, dir, watched && stable, read);
  }

  /** Access files being read in slices, by cache key, so concurrent requests share one read. */
  private readonly slicedReads = new Map<string, Promise<void>>();

  /**
   * Reads, ahead of a request's walk, the big access files of `dirs` that are not cached yet,
   * in slices that let other clients be served in between (issue 14: one 20,000-line file
   * took seconds and stalled everyone); the walk then finds them cached, as the same
   * analysis. Undefined when there is nothing to read (the common case costs no extra turn).
   */
  prepare(dirs: readonly string[]): Promise<void> | undefined {
    // The same list (walkDirectories keeps one per path) found nothing to read ahead, and
    // nothing changed since: no lookups at all (every request pays here).
    if (this.preparedLists.get(dirs) === this.prepareEpoch) return undefined;
    const pending: Promise<void>[] = [];
    let allPrepared = true;
    for (const dir of dirs) {
      if (this.prepared.has(dir)) continue;
      if (this.reads.has(dir)) {
        allPrepared = false;
        continue;
      }
      const policy = overridePolicyFor(this.host, dir);
      if (htaccessIgnored(policy)) continue;
      // Nothing to read ahead here stays so until the watcher reports a change in the
      // directory or its parent: the common request then makes no system call for it.
      const remembered = this.watched(dirname(dir)) && this.watched(dir);
      let big = false;
      for (const name of this.host.accessFileNames) {
        const file = join(dir, name);
        let st: BigIntStats | undefined;
        try {
          st = statSync(osPath(file), { bigint: true, throwIfNoEntry: false });
        } catch {
          break; // not a directory, or not readable: the walk says so
        }
        if (!st) continue;
        big = st.size >= SLICED_READ_MIN_BYTES;
        const key = this.cacheKey(st, policy);
        if (st.size >= SLICED_READ_MIN_BYTES && this.cache.get(file)?.key !== key) {
          const id = `${file}\0${key}`;
          let read = this.slicedReads.get(id);
          if (!read) {
            read = this.readSliced(file, key, policy).finally(() => this.slicedReads.delete(id));
            this.slicedReads.set(id, read);
          }
          pending.push(read);
        }
        break;
      }
      if (!big && remembered) {
        if (this.prepared.size >= MAX_REMEMBERED) {
          this.prepared.clear();
          this.prepareEpoch++;
        }
        this.prepared.add(dir);
      } else allPrepared = false;
    }
    if (allPrepared && pending.length === 0) this.preparedLists.set(dirs, this.prepareEpoch);
    // One more turn after the last slice, so the walk that follows starts a turn of its own.
    return pending.length === 0 ? undefined : Promise.all(pending).then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  }

  private async readSliced(file: string, key: string, policy: OverridePolicy): Promise<void> {
    let text: string;
    try {
      text = readFileSync(osPath(file), 'latin1');
    } catch {
      return; // the walk reports it
    }
    let analysis: HtaccessAnalysis;
    try {
      analysis = await runSliced(analyzeHtaccessSteps(text, file, this.facts, this.host.modules, policy));
      // What each line contributes on its own, so that the walk's merge is quick.
      if (!analysis.fatal) await runSliced(prepareLevelSteps(analysis.nodes, (m) => this.host.modules.has(m)));
    } catch {
      return; // the walk reads it again and meets the same problem where it is handled
    }
    this.parseCount++;
    // Only mod_fcgid's directives name programs (FcgidWrapper, Fcgid…/FastCgi… roles).
    const checked = /fcgi|fastcgi/i.test(text) ? withFcgidProgramCheck(analysis) : { ...analysis, programMissing: false };
    if (!checked.programMissing) this.cache.set(file, { key, read: { kind: 'parsed', file, analysis: checked, policy } });
  }

  private cacheKey(st: BigIntStats, policy: OverridePolicy): string {
    return `${st.ino}:${st.size}:${st.mtimeNs}:${policy.mask}:${policy.opts}`;
  }

  private readHtaccess(dir: string): HtaccessRead {
    const policy = overridePolicyFor(this.host, dir);
    if (htaccessIgnored(policy)) return { kind: 'none' };
    for (const name of this.host.accessFileNames) {
      const file = join(dir, name);
      let st: BigIntStats | undefined;
      try {
        st = statSync(osPath(file), { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENAMETOOLONG: the directory's own name is too long; its look in the walk says so.
        if (code === 'ENOTDIR' || code === 'ENAMETOOLONG') continue;
        return { kind: 'unreadable', file, dir };
      }
      if (!st) continue;
      const key = this.cacheKey(st, policy);
      const cached = this.cache.get(file);
      if (cached && cached.key === key) return cached.read;
      let text: string;
      try {
        text = readFileSync(osPath(file), 'latin1');
      } catch {
        return { kind: 'unreadable', file, dir };
      }
      this.parseCount++;
      const analysis = withFcgidProgramCheck(analyzeHtaccess(text, file, this.facts, this.host.modules, policy));
      const read: HtaccessRead = { kind: 'parsed', file, analysis, policy };
      // A missing mod_fcgid program may be installed without the file changing: read it again.
      if (!analysis.programMissing) this.cache.set(file, { key, read });
      return read;
    }
    return { kind: 'none' };
  }
}
