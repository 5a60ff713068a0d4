/**
 * Apache's RLimitCPU / RLimitMEM / RLimitNPROC as plain data: the words of the directive, and
 * the rlimit a CGI child gets from them (core.c's set_limit_* through unixd.c's
 * ap_unixd_set_rlimit). mod_cgid hands the request's limits to apr_proc_create, which calls
 * setrlimit in the child before exec; mod_fcgid applies none of them (fcgid_proc_unix.c sets no
 * procattr limits).
 */

import type { RLimitWords } from '../modules/core.js';

export type { RLimitDirectives, RLimitWords } from '../modules/core.js';

/** Which rlimit each directive sets: RLimitMEM is RLIMIT_AS where the platform has it (Linux). */
export const RLIMIT_OF = { cpu: 'RLIMIT_CPU', mem: 'RLIMIT_AS', nproc: 'RLIMIT_NPROC' } as const;

/** A limit pair; `Infinity` is RLIM_INFINITY. */
export interface RLimitValue {
  soft: number;
  hard: number;
}

/**
 * C's atol: optional blanks and sign, then leading digits; anything else ends it ("100M" is 100,
 * "abc" is 0). Apache takes the number of bytes/seconds/processes with no unit suffix. A negative
 * value, cast to rlim_t, is RLIM_INFINITY.
 */
export function atol(text: string): number {
  const m = /^\s*([+-]?)(\d*)/.exec(text);
  const digits = m?.[2] ?? '';
  if (digits === '') return 0;
  const n = Number(digits);
  if (m?.[1] === '-' && n !== 0) return Infinity;
  return n;
}

/**
 * The limit a child gets, from the server's own limit (`base`, getrlimit at configuration time)
 * and whether the reader runs as root, as ap_unixd_set_rlimit: `max` is the current hard limit;
 * not as root the soft value is taken as given (even 0) and a hard value may only lower the hard
 * limit (raising it is AH02174 and keeps the old one); as root a value of 0 leaves that half
 * unchanged. Returns the value and, for AH02174, the log message.
 */
export function resolveRLimit(directive: string, words: RLimitWords, base: RLimitValue, root: boolean): { value: RLimitValue; warning?: string } {
  const cur = words.soft.toLowerCase() === 'max' ? base.hard : atol(words.soft);
  // A second word "max" is atol'd to 0 (only the first word knows `max`).
  const max = words.hard === undefined ? 0 : atol(words.hard);
  const value = { ...base };
  let warning: string | undefined;
  if (!root) {
    value.soft = cur;
    if (max && max > base.hard) warning = `AH02174: Must be uid 0 to raise maximum ${directive}`;
    else if (max) value.hard = max;
  } else {
    if (cur) value.soft = cur;
    if (max) value.hard = max;
  }
  return warning === undefined ? { value } : { value, warning };
}
