/**
 * Tells the server whether anything it looked at on disk may have changed, so it can keep
 * stat results and `.htaccess` reads between requests and still see an edit on the very next
 * request, as Apache (which re-reads everything every time) does.
 *
 * Every directory whose entries were looked at is watched with inotify. The kernel queues an
 * event before the writing call returns, so a change made before a request was sent is always
 * there when that request starts. The event loop polls the queue with the connections (the
 * native helper drains it and counts, `inotifyPollInLoop`): `changed()` compares a counter, no
 * system call. Without that, it reads the queue itself once per turn of the loop. Any event (or
 * a queue overflow) drops every cached answer: coarse, but never stale.
 */
import { fastSpawn } from './fast-spawn.js';
import { utf8Text } from './byte-paths.js';

/** Beyond this many directories, new ones are simply not cached (the default per-user inotify limit is 8192). */
const MAX_WATCHED_DIRECTORIES = 4096;

export class ChangeWatcher {
  private readonly fd: number;
  private readonly watched = new Set<string>();

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Undefined without inotify (no native helper, or HTSANDBOX_NO_INOTIFY=1): then nothing is cached. */
  static create(): ChangeWatcher | undefined {
    if (!fastSpawn || process.env.HTSANDBOX_NO_INOTIFY === '1') return undefined;
    const fd = fastSpawn.inotifyInit();
    if (fd < 0) return undefined;
    const watcher = new ChangeWatcher(fd);
    // Its own ArrayBuffer: the helper keeps a pointer into it, which must not move.
    const counts = new Int32Array(new ArrayBuffer(8));
    if (process.env.HTSANDBOX_INOTIFY_PER_TURN !== '1' && fastSpawn.inotifyPollInLoop?.(fd, counts) === 0) watcher.polled = counts;
    return watcher;
  }

  /** The loop's counts of the queue (undefined: the queue is read once per turn instead). */
  private polled: Int32Array | undefined;
  /** counts[0] when last looked at. */
  private seenEvents = 0;

  /** Watches `dir` (its entries and itself); false when it cannot be watched (do not cache then). */
  watch(dir: string): boolean {
    if (this.watched.has(dir)) return true;
    if (this.watched.size >= MAX_WATCHED_DIRECTORIES) return false;
    // The helper takes text and writes it as UTF-8: a directory whose name is not UTF-8 goes
    // unwatched (its answers are looked up again each time).
    const text = utf8Text(dir);
    if (text === undefined || fastSpawn!.inotifyWatch(this.fd, text) < 0) return false;
    this.watched.add(dir);
    return true;
  }

  /** The queue was read in this turn of the event loop. */
  private checkedThisTurn = false;
  private readonly nextTurn = (): void => {
    this.checkedThisTurn = false;
  };

  /**
   * True when anything may have changed since the last call. Polled by the loop, the queue's
   * readiness is handled before any request sent after the event was queued. Otherwise the queue
   * is read once per turn of the loop: every request handled in a turn was readable when the
   * loop woke, so an edit made before it was sent is already queued then. Either way only a
   * pipelined request sent after an edit made during the turn could slip by; it is seen on the
   * next turn.
   */
  changed(): boolean {
    const polled = this.polled;
    if (polled) {
      // The queue could not be read any more: nothing can be known to be unchanged.
      if (polled[1] !== 0) return true;
      const events = polled[0]!;
      if (events === this.seenEvents) return false;
      this.seenEvents = events;
      this.watched.clear();
      return true;
    }
    if (this.checkedThisTurn) return false;
    this.checkedThisTurn = true;
    setImmediate(this.nextTurn);
    if (fastSpawn!.inotifyDrain(this.fd) === 0) return false;
    // A removed directory loses its watch: every directory is watched again as it is next used
    // (adding a watch that exists is harmless).
    this.watched.clear();
    return true;
  }
}
