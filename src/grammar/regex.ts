/**
 * Apache's regular expressions (PCRE2, compiled by `ap_pregcomp` with AP_REG_EXTENDED and the
 * default DOTALL | DOLLAR_ENDONLY flags) mapped onto engines Node can run.
 *
 * Decision (docs/decisions.md): RE2 first — linear time, so a student's pattern can never stall
 * the server, and it reads `(?i)` and POSIX classes as PCRE does. Patterns RE2 cannot run
 * (backreferences, lookaround) fall back to a translated JavaScript RegExp; those are the only
 * ones that could backtrack, and they are marked so callers can bound their input.
 * Constructs only PCRE has (possessive quantifiers, atomic groups, `\K`, `(?x)` …) are
 * accepted as the host accepts them, but reported as not honoured.
 */
import { createRequire } from 'node:module';

type Re2Ctor = new (pattern: string, flags?: string) => RegExpLike;
interface RegExpLike {
  exec(s: string): RegExpExecArray | null;
  test(s: string): boolean;
}

const require = createRequire(import.meta.url);
const RE2 = require('re2') as Re2Ctor;

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

function wrap(source: string, engine: 're2' | 'js', re: RegExpLike): ApacheRegex {
  return {
    source,
    engine,
    mayBacktrack: engine === 'js',
    exec(subject) {
      const m = re.exec(subject);
      return m ? Array.from(m, (x) => (x === undefined ? undefined : x)) : null;
    },
    match(subject) {
      const m = re.exec(subject);
      return m ? { index: m.index, captures: Array.from(m, (x) => (x === undefined ? undefined : x)) } : null;
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
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, result);
  }
  return result;
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

function compileUncached(pattern: string, icase: boolean): RegexCompileResult {
  const flags = icase ? 'si' : 's';
  if (CLASS_ESCAPE_RANGE.test(pattern)) return { ok: false, reason: 'invalid range in character class' };
  const posix = posixClassProblem(pattern);
  if (posix !== undefined) return { ok: false, reason: posix };
  try {
    return { ok: true, regex: wrap(pattern, 're2', new RE2(pattern, flags)) };
  } catch (re2Error) {
    const js = toJavaScript(pattern);
    if (js) {
      try {
        const f = icase && !js.flags.includes('i') ? `${js.flags}i` : js.flags;
        return { ok: true, regex: wrap(pattern, 'js', new RegExp(js.source, f)) };
      } catch {
        /* fall through */
      }
    }
    if (PCRE_ONLY.test(pattern)) {
      return { ok: true, regex: undefined, unsupported: (re2Error as Error).message };
    }
    return { ok: false, reason: (re2Error as Error).message };
  }
}
