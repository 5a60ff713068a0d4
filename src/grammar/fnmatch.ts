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

/** C's `isupper` and `tolower` in the "C" locale: only A-Z. */
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const lower = (c: number): number => (isUpper(c) ? c + 32 : c);
/** A byte as apr_fnmatch's `char` compares it: signed, so 0x80-0xFF sort below 0x00. */
const signed = (c: number): number => (c >= 0x80 ? c - 0x100 : c);

/** A byte as one character of a JavaScript class or pattern. */
const unitEscape = (c: number): string => `\\x${c.toString(16).padStart(2, '0')}`;

/**
 * A `[...]` of apr_fnmatch with APR_FNM_CASE_BLIND at `start` (the `[`), as the explicit set of
 * the bytes it matches, found by asking apr's test of each byte (fnmatch_ch): a character
 * matches itself or, when either side is A-Z, its C-locale lower case; a range matches by signed
 * byte order or by lowered order when an end or the byte is A-Z. A JavaScript `i` flag would
 * also fold Latin-1 (0xC9 with 0xE9). Undefined when the class is not closed (apr then reads the
 * `[` as a literal character).
 */
function caseBlindClass(pattern: string, start: number, escape: boolean): { set: string; end: number } | undefined {
  let i = start + 1;
  const negate = pattern[i] === '!' || pattern[i] === '^';
  if (negate) i++;
  const items: ([number] | [number, number])[] = [];
  // A `]` right after the `[` (or `[!`) is an ordinary character.
  let leadingBracket = pattern[i] === ']';
  for (;;) {
    if (i >= pattern.length) return undefined;
    if (!leadingBracket) {
      if (pattern[i] === ']') break;
      if (escape && pattern[i] === '\\' && ++i >= pattern.length) return undefined;
    }
    leadingBracket = false;
    const c = pattern.charCodeAt(i);
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      i += escape && pattern[i + 2] === '\\' ? 3 : 2;
      if (i >= pattern.length) return undefined;
      items.push([c, pattern.charCodeAt(i)]);
    } else items.push([c]);
    i++;
  }
  const matches = (b: number): boolean =>
    items.some((it) =>
      it.length === 1
        ? b === it[0] || ((isUpper(b) || isUpper(it[0])) && lower(b) === lower(it[0]))
        : (signed(b) >= signed(it[0]) && signed(b) <= signed(it[1])) || ((isUpper(b) || isUpper(it[0]) || isUpper(it[1])) && lower(b) >= lower(it[0]) && lower(b) <= lower(it[1])),
    );
  let set = '';
  for (let b = 0; b < 0x100; b++) if (matches(b) !== negate) set += unitEscape(b);
  return { set: set === '' ? '[^\\s\\S]' : `[${set}]`, end: i };
}

/** The test of a subject against `pattern`; a pattern JavaScript cannot compile matches nothing. */
export function compileFnmatch(pattern: string, flags: FnmatchFlags = {}): (subject: string) => boolean {
  const any = flags.pathname ? '[^/]' : '[\\s\\S]';
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += `${any}*`;
    else if (c === '?') re += any;
    else if (c === '[' && flags.caseBlind) {
      const cls = caseBlindClass(pattern, i, !flags.noEscape);
      if (cls === undefined) re += '\\[';
      else {
        re += `${flags.pathname ? '(?!/)' : ''}${cls.set}`;
        i = cls.end;
      }
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set[0] === '!') set = `^${set.slice(1)}`;
        re += `${flags.pathname ? '(?!/)' : ''}[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else {
      const literal = c === '\\' && !flags.noEscape && i + 1 < pattern.length ? pattern[++i]! : c;
      // APR_FNM_CASE_BLIND folds A-Z only (C locale); no `i` flag, which would fold Latin-1 too.
      re += flags.caseBlind && /[A-Za-z]/.test(literal) ? `[${literal.toLowerCase()}${literal.toUpperCase()}]` : literal.replace(SPECIAL, '\\$&');
    }
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^${re}$`);
  } catch {
    return () => false;
  }
  if (flags.period && !pattern.startsWith('.')) return (subject) => !subject.startsWith('.') && regex.test(subject);
  return (subject) => regex.test(subject);
}
