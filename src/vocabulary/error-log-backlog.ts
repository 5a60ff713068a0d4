/**
 * Whether the error log is behind: set by the error-log destination (the CLI's) when more than
 * its high-water mark waits for the disk, cleared when everything it had queued reached the
 * disk (or after a bounded wait). Where a script's
 * output is logged line by line (CGI stderr, FastCGI STDERR records, an application's own
 * stdout and stderr), the stream it comes from then pauses until the log caught up: Apache's
 * synchronous log write blocks the script the same way, and a flood of stderr costs no memory.
 * One per process, as the error log is.
 */
export const errorLogBacklog = { full: false };

/** Streams paused until the log caught up, with how to go on. */
const held = new Map<{ resume(): unknown }, () => void>();

/** Pauses `stream` until the error log caught up, when it is behind (else does nothing). */
export function holdWhileErrorLogBehind(stream: { pause(): unknown; resume(): unknown }): void {
  if (!errorLogBacklog.full || held.has(stream)) return;
  stream.pause();
  held.set(stream, () => stream.resume());
}

/** The destination wrote everything it had queued: the streams held go on. */
export function errorLogCaughtUp(): void {
  errorLogBacklog.full = false;
  const resumes = [...held.values()];
  held.clear();
  for (const resume of resumes) resume();
}
