/**
 * Apache's regular expressions (PCRE2, compiled by `ap_pregcomp` with AP_REG_EXTENDED and the
 * default DOTALL | DOLLAR_ENDONLY flags) mapped onto engines Node can run.
 *
 * Decision (docs/decisions.md): RE2's syntax and linear-time matching first, through `re2js` (a
 * plain JavaScript port of RE2: nothing to compile at install, no WebAssembly memory to free) —
 * linear time, so a student's pattern can never stall the server, and it reads `(?i)` and POSIX
 * classes as PCRE does. Patterns RE2 cannot run (backreferences, lookaround) fall back to a
 * translated JavaScript RegExp; those are the only ones that could backtrack: they are
 * marked so, and the server runs them under a match limit (adapters/regex-match-limit.ts).
 * Constructs only PCRE has (possessive quantifiers, atomic groups, `\K`, `(?x)` …) are
 * accepted as the host accepts them, but reported as not honoured.
 */
import { RE2JS } from 're2js';

/** What both engines offer: `exec` with captures (and named groups), and a boolean `test`. */
interface RegExpLike {
  exec(s: string): (ArrayLike<string | null | undefined> & { index: number; groups?: Record<string, string | undefined> | null }) | null;
  test(s: string): boolean;
}

/** A compiled pattern, whichever engine runs it. */
export interface ApacheRegex {
  readonly source: string;
  readonly engine: 're2' | 'js';
  /** True when the engine may backtrack (the JS fallback). */
  readonly mayBacktrack: boolean;
  /** Captures: index 0 is the whole match; unmatched groups are undefined. */
  exec(subject: string): (string | undefined)[] | null;
  /** The first match with where it starts (ap_regexec's pmatch[0].rm_so), or null. */
  match(subject: string): { index: number; captures: (string | undefined)[] } | null;
  test(subject: string): boolean;
  /** Named groups of the last successful exec (for `MATCH_<NAME>` variables). */
  groups(subject: string): Record<string, string | undefined> | undefined;
}

export type RegexCompileResult =
  | { ok: true; regex: ApacheRegex }
  /** PCRE accepts it but no engine here can run it as PCRE would. */
  | { ok: true; regex: undefined; unsupported: string }
  | { ok: false; reason: string };

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: 'A-Za-z0-9_',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

/** Rewrites the PCRE-only spellings JavaScript lacks; undefined when it cannot. */
function toJavaScript(pattern: string): { source: string; flags: string } | undefined {
  let p = pattern;
  let flags = 's';
  const lead = /^\(\?([imsx]+)\)/.exec(p);
  if (lead) {
    const f = lead[1]!;
    if (f.includes('x')) return undefined;
    if (f.includes('i')) flags += 'i';
    if (f.includes('m')) flags += 'm';
    p = p.slice(lead[0].length);
  }
  if (/\(\?[imsx-]+[:)]/.test(p)) return undefined;
  p = p.replace(/\[:(\w+):\]/g, (whole, name: string) => POSIX_CLASSES[name] ?? whole);
  p = p.replace(/\\A/g, '^').replace(/\\z/g, '$').replace(/\\Z/g, '(?=\\n?$)');
  p = p.replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  return { source: p, flags };
}

/** Constructs PCRE2 accepts that neither RE2 nor JavaScript can run. */
const PCRE_ONLY = /[*+?}]\+|\(\?>|\\[KhHvVRXCN]|\(\?x|\(\?\||\(\?R\)|\(\?\d|\(\?&|\(\*[A-Z]|\\g\{?-?\d|\\[pP]\{\^/;

/** A match of the backtracking engine: captures (unmatched: undefined) and named groups. */
export interface BacktrackingMatch {
  /** Where the match starts in the subject. */
  index: number;
  match: (string | undefined)[];
  groups: Record<string, string | undefined> | undefined;
}

/**
 * Runs one JavaScript-engine match under a match limit (null: no match, or the limit reached,
 * as `ap_regexec` reports PCRE2's). Installed by the adapters layer (regex-match-limit.ts),
 * which can stop a match; without it (`check`, unit tests) the match runs here, unbounded.
 */
export type BacktrackingExec = (source: string, flags: string, subject: string) => BacktrackingMatch | null;
let backtrackingExec: BacktrackingExec | undefined;

export function setBacktrackingExec(run: BacktrackingExec | undefined): void {
  backtrackingExec = run;
}

/** A pattern RE2 runs (in linear time). */
function wrapRe2(source: string, re: RegExpLike): ApacheRegex {
  return {
    source,
    engine: 're2',
    mayBacktrack: false,
    exec(subject) {
      const m = re.exec(subject);
      return m ? Array.from(m, (x) => (x == null ? undefined : x)) : null;
    },
    match(subject) {
      const m = re.exec(subject);
      return m ? { index: m.index, captures: Array.from(m, (x) => (x == null ? undefined : x)) } : null;
    },
    test(subject) {
      return re.test(subject);
    },
    groups(subject) {
      const m = re.exec(subject);
      return m?.groups ? { ...m.groups } : undefined;
    },
  };
}

/** Most ways a backtracking match may try from one start position, for `runsInBoundedTime`. */
const BACKTRACKING_CHOICES_MAX = 64;

/**
 * True when V8 provably needs no more than ~64 × the subject's length (× its length again when
 * unanchored) steps for this JavaScript pattern, so it can run in place without the match
 * limit: no backreference; alternatives and bounded repeats multiply to at most 64 choices;
 * no quantifier on a group that can itself match in more than one way; and at most one
 * unbounded quantifier, only when the pattern is anchored at the start (`^` without `m`, no
 * top-level `|`).
 * Conservative: anything it does not understand counts as unbounded. E.g. `^\.(?!well-known)`
 * and Drupal's `^(\.(?!well-known).*|composer\.(json|lock))$` qualify; `^(a+)+\1$` does not.
 */
export function runsInBoundedTime(source: string, flags: string): boolean {
  interface Group {
    bars: number;
    /** It, or something in it, can match in more than one way (a quantifier or a `|`). */
    ambiguous: boolean;
  }
  const stack: Group[] = [{ bars: 0, ambiguous: false }];
  let choices = 1;
  let unbounded = 0;
  const anchored = source.startsWith('^') && !flags.includes('m');
  const markAmbiguous = () => {
    for (const g of stack) g.ambiguous = true;
  };
  // Reads a quantifier at `i` (after an atom); returns [index after it, kind].
  const quantifier = (i: number): [number, 'none' | 'unbounded' | number] => {
    const c = source[i];
    let end = i + 1;
    let kind: 'none' | 'unbounded' | number;
    if (c === '*' || c === '+') kind = 'unbounded';
    else if (c === '?') kind = 2;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) return [i, 'none'];
      end = i + m[0].length;
      kind = m[2] === undefined ? 1 : m[3] === '' ? 'unbounded' : Number(m[3]) - Number(m[1]) + 1;
    } else return [i, 'none'];
    if (source[end] === '?') end++; // lazy
    return [end, kind];
  };
  const apply = (kind: 'unbounded' | number, onGroup: Group | undefined): boolean => {
    if (onGroup?.ambiguous) return false;
    markAmbiguous();
    if (kind === 'unbounded') unbounded++;
    else choices *= Math.max(kind, 1);
    return true;
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    let atomGroup: Group | undefined;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9k]/.test(next)) return false; // a backreference
      i += 2;
    } else if (c === '[') {
      i++;
      if (source[i] === '^') i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      if (i >= source.length) return false;
      i++;
    } else if (c === '(') {
      stack.push({ bars: 0, ambiguous: false });
      i++;
      if (source[i] === '?') {
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_]\w*>)/.exec(source.slice(i));
        if (!m) return false;
        i += m[0].length;
      }
      continue;
    } else if (c === ')') {
      if (stack.length < 2) return false;
      atomGroup = stack.pop()!;
      choices *= atomGroup.bars + 1;
      if (atomGroup.ambiguous) stack[stack.length - 1]!.ambiguous = true;
      i++;
    } else if (c === '|') {
      stack[stack.length - 1]!.bars++;
      markAmbiguous();
      i++;
      continue;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      if (c !== '{') return false; // a quantifier with nothing to repeat
      i++;
    } else i++;
    const [end, kind] = quantifier(i);
    if (kind !== 'none' && !apply(kind, atomGroup)) return false;
    i = end;
    if (choices > BACKTRACKING_CHOICES_MAX) return false;
  }
  // A top-level `|` leaves every alternative but the first unanchored.
  const top = stack[0]!;
  return stack.length === 1 && choices * (top.bars + 1) <= BACKTRACKING_CHOICES_MAX && unbounded <= (anchored && top.bars === 0 ? 1 : 0);
}

function wrapBacktracking(source: string, re: RegExp): ApacheRegex {
  const inPlace = runsInBoundedTime(re.source, re.flags);
  const run = (subject: string): BacktrackingMatch | null => {
    if (backtrackingExec && !inPlace) return backtrackingExec(re.source, re.flags, subject);
    const m = re.exec(subject);
    return m ? { index: m.index, match: Array.from(m, (x) => (x == null ? undefined : x)), groups: m.groups ? { ...m.groups } : undefined } : null;
  };
  return {
    source,
    engine: 'js',
    mayBacktrack: true,
    exec: (subject) => run(subject)?.match ?? null,
    match: (subject) => {
      const m = run(subject);
      return m ? { index: m.index, captures: m.match } : null;
    },
    test: (subject) => run(subject) !== null,
    groups: (subject) => run(subject)?.groups,
  };
}

/**
 * Case folding of bytes 0x80-0xFF. Apache's PCRE2 runs without UTF mode on its built-in "C"
 * locale tables: `[NC]`, `(?i)`, SetEnvIfNoCase and ap_expr's `/…/i` fold A-Z only (a live run:
 * `^caf\xE9$` [NC] does not match `caf\xC9`; a caseless backreference does not fold either), and
 * `\s` is the six ASCII spaces. Both engines here fold by Unicode, so in the byte strings
 * htsandbox matches (byte-strings.ts) 0xC0-0xDE would fold with 0xE0-0xFE, and JavaScript's `\s`
 * takes 0xA0 for a space. Where that could matter the pattern and the subject move the bytes
 * 0x80-0xFF, one to one, to U+E080-U+E0FF (private use: no case, not a space, not a word
 * character, in both engines) and the captures move back. A pattern that names no byte above
 * 0x7F, with no caseless flag, is compiled and run as it always was.
 */
const APART = 0xe000;
const HIGH_BYTE = /[\x80-\xff]/;
const HIGH_BYTES = /[\x80-\xff]/g;
const APART_UNITS = /[\ue080-\ue0ff]/g;
const apartUnit = (c: string): string => String.fromCharCode(c.charCodeAt(0) + APART);
const byteUnit = (c: string): string => String.fromCharCode(c.charCodeAt(0) - APART);

/** A byte string with its bytes 0x80-0xFF moved apart (see above). */
function bytesApart(s: string): string {
  return s.replace(HIGH_BYTES, apartUnit);
}

/** The inverse of `bytesApart`, for captures and for naming a moved pattern in a log line. */
export function bytesBack(s: string): string {
  return s.replace(APART_UNITS, byteUnit);
}

/** A caseless flag: the AP_REG_ICASE of the caller, or `(?i)`, `(?i:`, `(?mi)`, `(?^i)` … in the pattern. */
const INLINE_CASELESS = /\(\?\^?[a-zA-Z-]*i/;
/** Something that can name a byte above 0x7F: one such byte, `\x`, `\o{` or a three-digit octal escape. */
const NAMES_HIGH_BYTE = /[^\x00-\x7f]|\\(?:x|o\{|[0-3][0-7]{2})/;

/** The code a character escape at `p[i]` (the backslash) names, and where it ends; undefined when it names none. */
function escapedCode(p: string, i: number): { code: number; end: number } | undefined {
  const c = p[i + 1];
  if (c === 'x') {
    if (p[i + 2] === '{') {
      const m = /^\{([0-9a-fA-F]+)\}/.exec(p.slice(i + 2));
      return m ? { code: Number.parseInt(m[1]!, 16), end: i + 2 + m[0].length } : undefined;
    }
    const m = /^[0-9a-fA-F]{0,2}/.exec(p.slice(i + 2))!;
    return { code: m[0] === '' ? 0 : Number.parseInt(m[0], 16), end: i + 2 + m[0].length };
  }
  if (c === 'o') {
    const m = /^\{([0-7]+)\}/.exec(p.slice(i + 2));
    return m ? { code: Number.parseInt(m[1]!, 8), end: i + 2 + m[0].length } : undefined;
  }
  // `\0dd` is always octal; `\[1-9]…` is a backreference unless it has three octal digits and
  // there are not that many groups: only \200-\377 name a high byte, so those are taken as octal.
  const m = /^(?:0[0-7]{0,2}|[23][0-7]{2})/.exec(p.slice(i + 1));
  return m ? { code: Number.parseInt(m[0], 8), end: i + 1 + m[0].length } : undefined;
}

/**
 * The pattern with every byte it names in 0x80-0xFF moved to U+E080-U+E0FF (written as that
 * character), a class range that crosses 0x7F/0x80 split in two; undefined for what it cannot
 * move (`\p{…}` keeps Unicode's properties of the bytes, which the move would hide).
 */
export function patternBytesApart(p: string): string | undefined {
  let out = '';
  // One character of the pattern at i: its code (undefined for a class escape such as \d), its text, where it ends.
  const item = (i: number): { code: number | undefined; text: string; end: number } | undefined => {
    const c = p[i]!;
    if (c !== '\\') return { code: c.charCodeAt(0), text: c, end: i + 1 };
    const next = p[i + 1];
    if (next === undefined) return { code: undefined, text: c, end: i + 1 };
    if (next === 'p' || next === 'P') return undefined;
    const e = escapedCode(p, i);
    if (e) return { code: e.code, text: p.slice(i, e.end), end: e.end };
    if (next === 'c') return { code: undefined, text: p.slice(i, i + 3), end: i + 3 };
    if (/[a-zA-Z0-9]/.test(next)) return { code: undefined, text: p.slice(i, i + 2), end: i + 2 };
    return { code: next.charCodeAt(0), text: p.slice(i, i + 2), end: i + 2 };
  };
  const written = (x: { code: number | undefined; text: string }): string =>
    x.code !== undefined && x.code >= 0x80 && x.code <= 0xff ? String.fromCharCode(x.code + APART) : x.text;
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\' && p[i + 1] === 'Q') {
      const end = p.indexOf('\\E', i + 2);
      const stop = end === -1 ? p.length : end + 2;
      out += bytesApart(p.slice(i, stop));
      i = stop;
      continue;
    }
    if (c !== '[') {
      const x = item(i);
      if (!x) return undefined;
      out += written(x);
      i = x.end;
      continue;
    }
    // A class: `[`, an optional `^`, a leading `]` taken literally, items and ranges up to `]`.
    out += '[';
    i++;
    if (p[i] === '^') out += p[i++];
    let first = true;
    while (i < p.length && (p[i] !== ']' || first)) {
      first = false;
      if (p[i] === '[' && p[i + 1] === ':') {
        const end = p.indexOf(':]', i + 2);
        if (end === -1) return undefined;
        out += p.slice(i, end + 2);
        i = end + 2;
        continue;
      }
      const lo = item(i);
      if (!lo) return undefined;
      i = lo.end;
      if (p[i] === '-' && p[i + 1] !== undefined && p[i + 1] !== ']' && lo.code !== undefined) {
        const hi = item(i + 1);
        if (!hi) return undefined;
        if (hi.code !== undefined) {
          i = hi.end;
          if (lo.code < 0x80 && hi.code >= 0x80 && hi.code <= 0xff) out += `${lo.text}-\\x7f${String.fromCharCode(0x80 + APART)}-${written(hi)}`;
          else out += `${written(lo)}-${written(hi)}`;
          continue;
        }
      }
      out += written(lo);
    }
    if (i >= p.length) return undefined;
    out += ']';
    i++;
  }
  return out;
}

/**
 * `inner` (compiled from the moved pattern) as a regex of the original: the subject's high bytes
 * move apart before the match, the captures move back after it.
 */
function withBytesApart(source: string, inner: ApacheRegex): ApacheRegex {
  const back = (m: (string | undefined)[]): (string | undefined)[] => m.map((x) => (x === undefined ? x : bytesBack(x)));
  return {
    source,
    engine: inner.engine,
    mayBacktrack: inner.mayBacktrack,
    exec(subject) {
      if (!HIGH_BYTE.test(subject)) return inner.exec(subject);
      const m = inner.exec(bytesApart(subject));
      return m && back(m);
    },
    match(subject) {
      if (!HIGH_BYTE.test(subject)) return inner.match(subject);
      const m = inner.match(bytesApart(subject));
      return m && { index: m.index, captures: back(m.captures) };
    },
    test(subject) {
      return inner.test(HIGH_BYTE.test(subject) ? bytesApart(subject) : subject);
    },
    groups(subject) {
      if (!HIGH_BYTE.test(subject)) return inner.groups(subject);
      const g = inner.groups(bytesApart(subject));
      return g && Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v === undefined ? v : bytesBack(v)]));
    },
  };
}

/** PCRE2 refuses a range with a class escape at either end (`[a-\d]`); RE2 reads it literally. */
const CLASS_ESCAPE_RANGE = /\[(?:[^\]\\]|\\.)*?(?:[^\\[]-\\[dDsSwWhHvV]|\\[dDsSwWhHvV]-[^\]])/;

/**
 * Compiled patterns by `icase` and source. Every regex of an `.htaccess` is compiled when the
 * file is checked and again when its configuration is built; a compiled pattern holds no
 * match state (no `g`/`y` flag), so both may share it. Bounded: emptied when full.
 */
const compiled = new Map<string, RegexCompileResult>();
const COMPILED_MAX = 1 << 16;

/** Compiles a pattern as Apache would; `icase` adds AP_REG_ICASE (e.g. `[NC]`). */
export function compileApacheRegex(pattern: string, icase = false): RegexCompileResult {
  const key = (icase ? 'i' : 's') + pattern;
  let result = compiled.get(key);
  if (result === undefined) {
    result = compileUncached(pattern, icase);
    if (result.ok && result.regex && movesBytesApart(pattern, icase, result.regex)) {
      const moved = patternBytesApart(pattern);
      const inner = moved === undefined ? undefined : compileUncached(moved, icase);
      if (inner?.ok && inner.regex) result = { ok: true, regex: withBytesApart(pattern, inner.regex) };
    }
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, result);
  }
  return result;
}

/**
 * Whether the bytes must move apart for `regex` to match as PCRE2 does: the JavaScript engine
 * (its `\s` takes 0xA0, its caseless matching folds Latin-1), RE2 when the match is caseless and
 * the pattern can name a high byte.
 */
function movesBytesApart(pattern: string, icase: boolean, regex: ApacheRegex): boolean {
  if (regex.engine === 'js') return true;
  return (icase || INLINE_CASELESS.test(pattern)) && NAMES_HIGH_BYTE.test(pattern);
}

const POSIX_NAMES = new Set(['alpha', 'lower', 'upper', 'alnum', 'ascii', 'blank', 'cntrl', 'digit', 'graph', 'print', 'punct', 'space', 'word', 'xdigit']);

/**
 * PCRE2's reading of `[:name:]`, `[.x.]` and `[=x=]` (pcre2_compile.c's check_posix_syntax):
 * after `[` + one of `:.=`, the same character followed by `]` before any `]` or a second
 * `[` + that character makes it POSIX syntax. Inside a class the name must be one PCRE2
 * knows (`[[:al>pha:]]` fails to compile), `[.` and `[=` are refused; as a whole class it
 * is refused too. RE2 and JavaScript read all of these as plain characters.
 */
function posixClassProblem(p: string): string | undefined {
  const posixEnd = (at: number): number => {
    // `at` is the `:`, `.` or `=` after `[`; returns the index of the closing one, or -1.
    const t = p[at];
    for (let i = at + 1; p.length - i >= 2; i++) {
      if (p[i] === '\\' && (p[i + 1] === ']' || p[i + 1] === '\\')) i++;
      else if ((p[i] === '[' && p[i + 1] === t) || p[i] === ']') return -1;
      else if (p[i] === t && p[i + 1] === ']') return i;
    }
    return -1;
  };
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      if (p[i + 1] === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        if (end === -1) return undefined;
        i = end + 1;
      } else i++;
      continue;
    }
    if (!inClass) {
      if (c !== '[') continue;
      const next = p[i + 1];
      if ((next === ':' || next === '.' || next === '=') && posixEnd(i + 1) !== -1) return 'POSIX named classes are supported only within a class';
      inClass = true;
      if (p[i + 1] === '^') i++;
      if (p[i + 1] === ']') i++; // a leading `]` is a literal
      continue;
    }
    if (c === ']') {
      inClass = false;
      continue;
    }
    const next = p[i + 1];
    if (c === '[' && (next === ':' || next === '.' || next === '=')) {
      const end = posixEnd(i + 1);
      if (end === -1) continue;
      if (next !== ':') return 'POSIX collating elements are not supported';
      const name = p.slice(i + 2, end).replace(/^\^/, '');
      if (!POSIX_NAMES.has(name)) return 'unknown POSIX class name';
      i = end + 1;
    }
  }
  return undefined;
}

/**
 * AP_REG_EXTENDED with Apache's default DOTALL (ap_regcomp_default_cflags): `.` matches a
 * newline; without MULTILINE, RE2's `$` matches only at the very end, as PCRE2's
 * DOLLAR_ENDONLY does.
 */
const RE2JS_FLAGS = RE2JS.DOTALL;

function compileUncached(pattern: string, icase: boolean): RegexCompileResult {
  if (CLASS_ESCAPE_RANGE.test(pattern)) return { ok: false, reason: 'invalid range in character class' };
  const posix = posixClassProblem(pattern);
  if (posix !== undefined) return { ok: false, reason: posix };
  try {
    const re = RE2JS.compile(pattern, icase ? RE2JS_FLAGS | RE2JS.CASE_INSENSITIVE : RE2JS_FLAGS);
    // re2js types exec() as any[]; it documents the array's `index` and `groups` as RegExp's.
    return { ok: true, regex: wrapRe2(pattern, re as unknown as RegExpLike) };
  } catch (re2Error) {
    const re2Reason = (re2Error as Error).message.replace(/^error parsing regexp: /, '');
    const js = toJavaScript(pattern);
    if (js) {
      try {
        const f = icase && !js.flags.includes('i') ? `${js.flags}i` : js.flags;
        return { ok: true, regex: wrapBacktracking(pattern, new RegExp(js.source, f)) };
      } catch {
        /* fall through */
      }
    }
    if (PCRE_ONLY.test(pattern)) {
      return { ok: true, regex: undefined, unsupported: re2Reason };
    }
    return { ok: false, reason: re2Reason };
  }
}

/**
 * `ap_pregsub`: `$0`..`$9` become the match's groups (nothing for a group that did not take
 * part); a backslash takes the next character as it is. mod_headers' edit and mod_setenvif's
 * values use it.
 */
export function apPregsub(template: string, captures: readonly (string | undefined)[]): string {
  if (!template.includes('$') && !template.includes('\\')) return template;
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    const d = template.charCodeAt(i + 1);
    if (c === '$' && d >= 48 && d <= 57) {
      out += captures[d - 48] ?? '';
      i++;
    } else if (c === '\\' && i + 1 < template.length) {
      out += template[++i];
    } else out += c;
  }
  return out;
}
