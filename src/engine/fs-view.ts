/** What the request resolver needs to know about the file system; an adapter supplies it. */
import type { HtaccessAnalysis } from '../grammar/htaccess-analysis.js';
import type { OverridePolicy } from '../grammar/host-config.js';

/** `failed`: the look itself failed otherwise (ENAMETOOLONG: a name over 255 bytes). */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'other' | 'missing' | 'denied' | 'failed';

export interface FsEntry {
  kind: EntryKind;
  size: number;
  /** Modification time in microseconds (Apache's ETag and Last-Modified use it). */
  mtimeUs: bigint;
  uid: number;
  mode: number;
  /** Device and inode (mod_fcgid keys its process classes by them). */
  dev: number;
  ino: number;
}

/** The outcome of reading one directory's access file. */
export type HtaccessRead =
  | { kind: 'none' }
  | { kind: 'parsed'; file: string; analysis: HtaccessAnalysis; policy: OverridePolicy }
  | { kind: 'unreadable'; file: string; dir: string };

export interface FsView {
  lstat(path: string): FsEntry;
  stat(path: string): FsEntry;
  /** Reads a small text file (htpasswd, group file); undefined when it cannot be read. */
  readText(path: string): string | undefined;
  /** Reads (or takes from cache) the access file of `dir`, judged under `policy`. */
  htaccess(dir: string): HtaccessRead;
  /**
   * Counts changes seen on disk, when the view is told of every change to what it answered;
   * undefined when it is not (then no answer may be reused across requests).
   */
  readonly generation?: number | undefined;
  /**
   * Counts answers the view could not promise to hear about a change to (an unwatched
   * directory, a symlink's target): work built on one of them must not be reused.
   */
  readonly unwatchedAnswers?: number;
}
