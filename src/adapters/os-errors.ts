/**
 * How APR prints an operating-system error in Apache's log lines ("(2)No such file or
 * directory"): one table for every adapter that words a failure as Apache would.
 */
const APR_TEXT: Readonly<Record<string, string>> = {
  ENOENT: '(2)No such file or directory',
  ENOEXEC: '(8)Exec format error',
  EACCES: '(13)Permission denied',
  ENOTDIR: '(20)Not a directory',
  EPIPE: '(32)Broken pipe',
  ENAMETOOLONG: '(36)File name too long',
  ELOOP: '(40)Too many levels of symbolic links',
  ECONNRESET: '(104)Connection reset by peer',
  ECONNREFUSED: '(111)Connection refused',
  // htsandbox's own code for a read that timed out: APR_TIMEUP.
  ETIMEDOUT: '(70007)The timeout specified has expired',
};

/** APR's text for an error code, or `fallback` for one the table does not know. */
export function aprErrorText(code: string | undefined, fallback: string): string {
  return (code !== undefined ? APR_TEXT[code] : undefined) ?? fallback;
}
