/**
 * `apr_fnmatch` (apr/strings/apr_fnmatch.c) as a regular expression, compiled once by the
 * caller and tested as often as needed: ap_expr's `-strmatch`/`-strcmatch`/`-fnmatch` and
 * mod_autoindex's AddDescription and `P=` patterns. Hand-written: picomatch's `*` never
 * crosses '/', apr_fnmatch's does without APR_FNM_PATHNAME. Pure.
 */

/** apr_fnmatch's flags. */
export interface FnmatchFlags {
  /** APR_FNM_PATHNAME: `*`, `?` and brackets never match '/'. */
  pathname?: boolean;
  /** APR_FNM_CASE_BLIND. */
  caseBlind?: boolean;
  /** APR_FNM_NOESCAPE: a backslash is an ordinary character. */
  noEscape?: boolean;
  /** APR_FNM_PERIOD: a leading '.' is matched only by a '.' written at the pattern's start. */
  period?: boolean;
}

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;

/** The test of a subject against `pattern`; a pattern JavaScript cannot compile matches nothing. */
export function compileFnmatch(pattern: string, flags: FnmatchFlags = {}): (subject: string) => boolean {
  const any = flags.pathname ? '[^/]' : '[\\s\\S]';
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += `${any}*`;
    else if (c === '?') re += any;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set[0] === '!') set = `^${set.slice(1)}`;
        re += `${flags.pathname ? '(?!/)' : ''}[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && !flags.noEscape && i + 1 < pattern.length) re += pattern[++i]!.replace(SPECIAL, '\\$&');
    else re += c.replace(SPECIAL, '\\$&');
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^${re}$`, flags.caseBlind ? 'i' : '');
  } catch {
    return () => false;
  }
  if (flags.period && !pattern.startsWith('.')) return (subject) => !subject.startsWith('.') && regex.test(subject);
  return (subject) => regex.test(subject);
}
