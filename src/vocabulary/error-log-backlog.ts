/**
 * Whether the error log is behind: set by the error-log destination (the CLI's), read where a
 * script's output is logged line by line. While the backlog is full, those lines are counted
 * instead of formatted, so that a script flooding stderr costs neither memory nor the time to
 * format entries that would be dropped; the destination reports the count once it catches up.
 * One per process, as the error log is.
 */
export const errorLogBacklog = { full: false, linesNotLogged: 0 };

/** Logs a line of script output unless the error log's backlog is full (then counts it). */
export function logScriptLine(log: (line: string) => void, line: string): void {
  if (errorLogBacklog.full) errorLogBacklog.linesNotLogged++;
  else log(line);
}
