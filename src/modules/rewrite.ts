/**
 * mod_rewrite (modules/mappers/mod_rewrite.c): its command table (`command_table[]`), each line
 * compiled once by the same function for `check` and for `serve` (`cmd_rewritecond` and
 * `cmd_rewriterule`: argument line, flags, regex or ap_expr), and the per-directory merge
 * (`config_perdir_merge`). Its fixups hook (`hook_fixup` → `apply_rewrite_list`) is the
 * engine's `runRewriteRound` (src/engine/rewrite.ts); `RewriteMap`, a server-only directive, is
 * read with the host configuration (src/server/site-context.ts).
 */
import { exprModulesOf, parseApExpr, type Expr } from '../grammar/ap-expr.js';
import { regexFinding } from '../grammar/directive-validators.js';
import { compileApacheRegex, type ApacheRegex } from '../grammar/regex.js';
import { rewriteArgLine, rewriteFlagField } from '../grammar/rewrite-args.js';
import { parseRewriteMap } from '../grammar/rewrite-map.js';
import { didYouMean } from '../grammar/suggest.js';
import { STATUS_REASONS } from '../grammar/error-pages.js';
import { finding, refused, type CompileResult, type CompiledLine, type DirectiveInput, type LevelContext, type LineSource, type ModuleDefinition } from './module.js';

/** One RewriteCond, compiled. */
export interface RewriteCond {
  input: string;
  kind: 'regex' | 'eq' | 'lt' | 'le' | 'gt' | 'ge' | 'ilt' | 'ile' | 'igt' | 'ige' | 'ieq' | 'f' | 's' | 'd' | 'l' | 'x' | 'F' | 'U' | 'expr';
  pattern: string;
  regex?: ApacheRegex;
  /** `RewriteCond expr "…"`: the parsed ap_expr. */
  expr?: Expr;
  negate: boolean;
  nocase: boolean;
  ornext: boolean;
  /** [NV]: a header this condition reads is not added to Vary. */
  novary: boolean;
}

/** A RewriteRule's flags, as `cmd_rewriterule_setflag` sets them. */
export interface RewriteFlags {
  last: boolean;
  end: boolean;
  chain: boolean;
  next: boolean;
  skip: number;
  redirect?: number;
  forbidden: boolean;
  gone: boolean;
  status?: number;
  qsa: boolean;
  qsd: boolean;
  qsl: boolean;
  /** [N=limit]: rounds before AH02596 (REWRITE_MAX_ROUNDS, 32000, by default). */
  maxRounds: number;
  /** RULEFLAG_QSNONE: the query string is dropped and none is split off the substitution. */
  qsnone: boolean;
  noescape: boolean;
  passthrough: boolean;
  escapeBackrefs: boolean;
  escapeNoPlus: boolean;
  /** [BCTLS]: back-references escape only controls and spaces. */
  escapeCtls: boolean;
  /** [B=chars]: back-references escape only these characters. */
  escapeChars?: string;
  noEscapeChars?: string;
  /** [UnsafeAllow3F]: a '?' that comes from an expansion may start the query string. */
  unsafeAllow3F: boolean;
  discardPathInfo: boolean;
  nosubreq: boolean;
  proxy: boolean;
  env: string[];
  /** [CO=NAME:VALUE:DOMAIN[:lifetime[:path[:secure[:httponly[:samesite]]]]]], unexpanded. */
  cookies: string[];
  type?: string;
  handler?: string;
}

/** One RewriteRule with the conditions written before it. */
export interface RewriteRule {
  /** The pattern as written (for log lines). */
  pattern: string;
  /** The RewriteRule line. */
  source?: LineSource;
  regex: ApacheRegex;
  negate: boolean;
  substitution: string;
  flags: RewriteFlags;
  conds: RewriteCond[];
}

/** mod_rewrite's per-directory configuration (`rewrite_perdir_conf`) as merged so far. */
export interface RewriteConfig {
  /** RewriteEngine as last set on the way down (`state_set`); unset is off. */
  engine: boolean | undefined;
  /** RewriteOptions of the nearest level that has any (`options_set`), lower-cased. */
  options: ReadonlySet<string>;
  base: string | undefined;
  rules: readonly RewriteRule[];
  /**
   * The per-dir prefix (`directory`), with a trailing slash: the directory the level was
   * written for, or "*If/" for a level inside `<If>` (core's `ifsection` sets cmd->path to
   * "*If"), which no path starts with.
   */
  dir: string;
}

/** mod_rewrite's slice of the per-directory configuration. */
export interface RewriteDirConfig {
  /** The nearest level that had rewrite directives, merged onto its parent; none above any. */
  rewrite: RewriteConfig | undefined;
}

/** What one line compiles to. A pattern htsandbox cannot run leaves its cond or rule out. */
export type RewriteLine =
  | { kind: 'engine'; on: boolean }
  | { kind: 'options'; options: readonly string[] }
  | { kind: 'base'; base: string }
  | { kind: 'cond'; cond: RewriteCond | undefined }
  | { kind: 'rule'; rule: Omit<RewriteRule, 'source' | 'conds'> | undefined };

/** `cmd_rewriterule_setflag`'s accepted spellings, by first letter: the rest of the key. */
const RULE_FLAG_WORDS: Record<string, string[]> = {
  b: ['', 'ackrefescaping', 'ne', 'np', 'ackrefernoplus', 'ctls'],
  c: ['', 'hain', 'o', 'ookie'],
  e: ['', 'nv', 'nd'],
  f: ['', 'orbidden'],
  g: ['', 'one'],
  h: ['', 'andler'],
  l: ['', 'ast'],
  n: ['e', 'oescape', '', 'ext', 's', 'osubreq', 'c', 'ocase'],
  p: ['', 'roxy', 't', 'assthrough'],
  q: ['sa', 'sappend', 'sd', 'sdiscard', 'sl', 'slast'],
  r: ['', 'edirect'],
  s: ['', 'kip'],
  t: ['', 'ype'],
  u: ['nsafeprefixstat', 'nsafeallow3f', 'nc'],
};

/** RewriteRule's flags as the manual spells them, for "did you mean". */
const RULE_FLAG_NAMES = [
  'B',
  'BackrefNoPlus',
  'BCTLS',
  'BNE',
  'C',
  'chain',
  'CO',
  'cookie',
  'DPI',
  'discardpath',
  'E',
  'env',
  'END',
  'F',
  'forbidden',
  'G',
  'gone',
  'H',
  'handler',
  'L',
  'last',
  'N',
  'next',
  'NC',
  'nocase',
  'NE',
  'noescape',
  'NS',
  'nosubreq',
  'P',
  'proxy',
  'PT',
  'passthrough',
  'QSA',
  'qsappend',
  'QSD',
  'qsdiscard',
  'QSL',
  'qslast',
  'R',
  'redirect',
  'S',
  'skip',
  'T',
  'type',
  'UnsafeAllow3F',
  'UnsafePrefixStat',
];

const COND_FLAG_NAMES = ['NC', 'nocase', 'OR', 'ornext', 'NV', 'novary'];

/** `cmd_rewriteoptions`' words (and `MaxRedirects=n`, accepted and ignored since 2.1). */
const REWRITE_OPTIONS = new Set([
  'inherit',
  'inheritbefore',
  'inheritdown',
  'inheritdownbefore',
  'ignoreinherit',
  'allownoslash',
  'allowanyuri',
  'mergebase',
  'ignorecontextinfo',
  'legacyprefixdocroot',
  'unsafeprefixstat',
]);

/** htsandbox's ceiling on [N=limit] (Apache has none): a round runs on the event loop. */
const MAX_ROUNDS_CEILING = 100_000;

function flagHint(flag: string, names: readonly string[]): string | undefined {
  const s = didYouMean(flag, names);
  return s ? `${s.charAt(0).toUpperCase()}${s.slice(1)}Flags are listed at https://httpd.apache.org/docs/2.4/rewrite/flags.html.` : undefined;
}

/** `cmd_rewriterule_setflag`: Apache's verdict on one flag. */
function ruleFlagError(key: string, val: string): string | undefined {
  const first = key[0]?.toLowerCase() ?? '';
  const rest = key.slice(1).toLowerCase();
  if (first === 'd') return undefined; // any D… is taken as DPI
  const words = RULE_FLAG_WORDS[first];
  if (!words || !words.includes(rest)) return `unknown flag '${key}'`;
  if (first === 'b' && rest === 'ne' && val === '') return "flag 'BNE' wants a list of characters (i.e. [BNE=...])";
  if (first === 'r' && /^\d/.test(val)) {
    const status = Number.parseInt(val, 10);
    // ap_index_of_response: a code without a status line of its own shares 500's and is refused.
    if (status !== 500 && STATUS_REASONS[status] === undefined) return `invalid HTTP response code '${val}' for flag 'R'`;
  }
  return undefined;
}

/** The flags of an accepted rule, from its checked `[…]` field. */
function ruleFlags(pairs: readonly (readonly [string, string])[]): RewriteFlags {
  const f: RewriteFlags = {
    last: false,
    end: false,
    chain: false,
    next: false,
    skip: 0,
    forbidden: false,
    gone: false,
    qsa: false,
    qsd: false,
    qsl: false,
    qsnone: false,
    maxRounds: 32000,
    noescape: false,
    passthrough: false,
    escapeBackrefs: false,
    escapeNoPlus: false,
    escapeCtls: false,
    unsafeAllow3F: false,
    discardPathInfo: false,
    nosubreq: false,
    proxy: false,
    env: [],
    cookies: [],
  };
  for (const [rawKey, val] of pairs) {
    const k = rawKey.toLowerCase();
    if (k === 'l' || k === 'last') f.last = true;
    else if (k === 'end') f.end = true;
    else if (k === 'c' || k === 'chain') f.chain = true;
    else if (k === 'n' || k === 'next') {
      f.next = true;
      // atoi, as Apache reads it; bounded so that one request cannot hold the event loop.
      if (val !== '') f.maxRounds = Math.min(Number.parseInt(val, 10) || 0, MAX_ROUNDS_CEILING);
    } else if (k === 's' || k === 'skip') f.skip = Number.parseInt(val, 10) || 0;
    else if (k === 'f' || k === 'forbidden') f.forbidden = true;
    else if (k === 'g' || k === 'gone') f.gone = true;
    else if (k === 'r' || k === 'redirect') {
      const v = val.toLowerCase();
      const status = v === '' || v === 'temp' ? 302 : v === 'permanent' ? 301 : v === 'seeother' ? 303 : Number.parseInt(v, 10);
      if (status >= 300 && status < 400) f.redirect = status;
      else f.status = status;
    } else if (k === 'qsa' || k === 'qsappend') f.qsa = true;
    else if (k === 'qsd' || k === 'qsdiscard') f.qsd = true;
    else if (k === 'qsl' || k === 'qslast') f.qsl = true;
    else if (k === 'ne' || k === 'noescape') f.noescape = true;
    else if (k === 'pt' || k === 'passthrough') f.passthrough = true;
    else if (k === 'b' || k === 'backrefescaping') {
      f.escapeBackrefs = true;
      if (val !== '') f.escapeChars = val;
    } else if (k === 'bnp' || k === 'backrefnoplus') f.escapeNoPlus = true;
    else if (k === 'bctls') f.escapeCtls = true;
    else if (k === 'unsafeallow3f') f.unsafeAllow3F = true;
    else if (k === 'bne') f.noEscapeChars = val;
    else if (k.startsWith('d')) f.discardPathInfo = true;
    else if (k === 'ns' || k === 'nosubreq') f.nosubreq = true;
    else if (k === 'p' || k === 'proxy') f.proxy = true;
    else if (k === 'e' || k === 'env') f.env.push(val);
    else if (k === 'co' || k === 'cookie') f.cookies.push(val);
    else if (k === 't' || k === 'type') f.type = val;
    else if (k === 'h' || k === 'handler') f.handler = val;
  }
  return f;
}

/** `cmd_rewriterule`: Apache's verdict on the line, and the rule serve runs. */
function compileRule({ rawArgs }: DirectiveInput): CompileResult<RewriteLine> {
  const line = rewriteArgLine(rawArgs);
  if (!line) return refused(finding(`RewriteRule: bad argument line '${rawArgs}'`));
  let pairs: [string, string][] = [];
  if (line.a3 !== undefined) {
    const field = rewriteFlagField(line.a3);
    if ('error' in field) return refused(finding(`RewriteRule: ${field.error}`, 'HT107'));
    for (const [k, v] of field.pairs) {
      const e = ruleFlagError(k, v);
      if (e) return refused(finding(`RewriteRule: ${e}`, 'HT107', e.startsWith('unknown flag') ? flagHint(k, RULE_FLAG_NAMES) : undefined));
    }
    pairs = field.pairs;
  }
  const nocase = pairs.some(([k]) => /^(nc|nocase)$/i.test(k));
  const negate = line.a1.startsWith('!');
  const pattern = negate ? line.a1.slice(1) : line.a1;
  const problem = regexFinding(pattern, nocase, `RewriteRule: cannot compile regular expression '${pattern}'`);
  if (problem && problem.code !== 'HT201') return refused(problem);
  const compiled = compileApacheRegex(pattern, nocase);
  const regex = compiled.ok ? compiled.regex : undefined;
  if (!regex) return { findings: problem ? [problem] : [], value: { kind: 'rule', rule: undefined } };
  const flags = ruleFlags(pairs);
  // cmd_rewriterule: a substitution ending in a literal '?' takes no query string from
  // itself (the '?' is dropped, nothing is split off) unless [QSA], which then splits at the
  // last '?'; so does [QSD] without any '?' (RULEFLAG_QSNONE).
  let substitution = line.a2;
  if (substitution.endsWith('?')) {
    if (flags.qsa) flags.qsl = true;
    else {
      flags.qsnone = true;
      substitution = substitution.slice(0, -1);
    }
  } else if (flags.qsd && !substitution.includes('?')) flags.qsnone = true;
  return { findings: [], value: { kind: 'rule', rule: { pattern: line.a1, regex, negate, substitution, flags } } };
}

/** `cmd_rewritecond`: Apache's verdict on the line, and the condition serve tests. */
function compileCond({ rawArgs, hasModule }: DirectiveInput): CompileResult<RewriteLine> {
  const line = rewriteArgLine(rawArgs);
  if (!line) return refused(finding(`RewriteCond: bad argument line '${rawArgs}'`));
  const cond: RewriteCond = { input: line.a1, kind: 'regex', pattern: '', negate: false, nocase: false, ornext: false, novary: false };
  if (line.a3 !== undefined) {
    const field = rewriteFlagField(line.a3);
    if ('error' in field) return refused(finding(`RewriteCond: ${field.error}`, 'HT107'));
    for (const [k] of field.pairs) {
      const l = k.toLowerCase();
      if (l === 'nc' || l === 'nocase') cond.nocase = true;
      else if (l === 'or' || l === 'ornext') cond.ornext = true;
      else if (l === 'nv' || l === 'novary') cond.novary = true;
      else return refused(finding(`RewriteCond: unknown flag '${k}'`, 'HT107', flagHint(k, COND_FLAG_NAMES)));
    }
  }
  let p = line.a2;
  if (p.startsWith('!')) {
    cond.negate = true;
    p = p.slice(1);
  }
  // The pattern type: only a pattern of two characters or more can be a test.
  if (line.a1.toLowerCase() === 'expr') cond.kind = 'expr';
  else if (p.length > 1) {
    if (/^-[fsdxhlLUF]$/.test(p)) {
      const c = p[1]!;
      cond.kind = c === 'h' || c === 'L' ? 'l' : (c as RewriteCond['kind']);
    } else if (/^-(lt|le|gt|ge|eq|ne)./.test(p)) {
      const op = p.slice(1, 3);
      cond.kind = op === 'ne' ? 'ieq' : (`i${op}` as RewriteCond['kind']);
      if (op === 'ne') cond.negate = !cond.negate;
      p = p.slice(3);
    } else if (p[0] === '<' || p[0] === '>') {
      const eq = p[1] === '=';
      cond.kind = p[0] === '<' ? (eq ? 'le' : 'lt') : eq ? 'ge' : 'gt';
      p = p.slice(eq ? 2 : 1);
    } else if (p[0] === '=') {
      cond.kind = 'eq';
      p = p.slice(1);
      // '=""' compares with the empty string.
      if (p === '""') p = '';
    }
  }
  cond.pattern = p;
  if (cond.kind === 'expr') {
    const parsed = parseApExpr(p, exprModulesOf(hasModule));
    if (!parsed.ok) return refused(finding(`RewriteCond: cannot compile expression "${p}": ${parsed.error}`, 'HT110'));
    cond.expr = parsed.expr;
  } else if (cond.kind === 'regex') {
    const problem = regexFinding(p, cond.nocase, `RewriteCond: cannot compile regular expression '${p}'`);
    if (problem && problem.code !== 'HT201') return refused(problem);
    const compiled = compileApacheRegex(p, cond.nocase);
    const regex = compiled.ok ? compiled.regex : undefined;
    if (!regex) return { findings: problem ? [problem] : [], value: { kind: 'cond', cond: undefined } };
    cond.regex = regex;
  }
  return { findings: [], value: { kind: 'cond', cond } };
}

/**
 * `config_perdir_merge` for a level that has rewrite directives (a level without any keeps its
 * parent's configuration whole: ap_merge_per_dir_configs). The engine state, the options and,
 * under `MergeBase`, the base come from the nearest level that set them; the per-dir prefix is
 * this level's; the rules are this level's, with the parent's after them under `Inherit` (or
 * the parent's `InheritDown`) or before them under `InheritBefore` (`InheritDownBefore`), the
 * merged options deciding. Only a level written for a directory (or an `<If>` in one) has a
 * per-dir prefix; the server's own lines are not per-directory rules.
 */
function mergeRewrite(parent: Readonly<RewriteDirConfig>, lines: readonly CompiledLine[], level?: LevelContext): Partial<RewriteDirConfig> {
  const dir = level?.dir ?? '';
  if (dir === '') return {};
  let engine: boolean | undefined;
  let base: string | undefined;
  let ownOptions: Set<string> | undefined;
  const ownRules: RewriteRule[] = [];
  let pending: RewriteCond[] = [];
  for (const l of lines) {
    const line = l.value as RewriteLine;
    if (line.kind === 'engine') engine = line.on;
    else if (line.kind === 'base') base = line.base;
    else if (line.kind === 'options') {
      // cmd_rewriteoptions: each line adds to the level's options (`|=`).
      ownOptions ??= new Set();
      for (const o of line.options) ownOptions.add(o);
    } else if (line.kind === 'cond') {
      if (line.cond) pending.push(line.cond);
    } else {
      if (line.rule) ownRules.push({ ...line.rule, ...(l.source ? { source: l.source } : {}), conds: pending });
      pending = [];
    }
  }
  const inherited = parent.rewrite;
  const parentOptions: ReadonlySet<string> = inherited?.options ?? NO_OPTIONS;
  const options = ownOptions ?? parentOptions;
  const ignore = options.has('ignoreinherit');
  let rules: readonly RewriteRule[] = ownRules;
  if (inherited) {
    if (options.has('inherit') || (parentOptions.has('inheritdown') && !ignore)) rules = [...ownRules, ...inherited.rules];
    else if (options.has('inheritbefore') || (parentOptions.has('inheritdownbefore') && !ignore)) rules = [...inherited.rules, ...ownRules];
  }
  return {
    rewrite: {
      engine: engine ?? inherited?.engine,
      options,
      base: base ?? (options.has('mergebase') ? inherited?.base : undefined),
      rules,
      dir: dir.endsWith('/') ? dir : `${dir}/`,
    },
  };
}

const NO_OPTIONS: ReadonlySet<string> = new Set();

/** mod_rewrite as Apache loads it. */
export const rewriteModule: ModuleDefinition<RewriteDirConfig> = {
  name: 'rewrite',
  directives: [
    {
      name: 'RewriteEngine',
      shape: 'FLAG',
      override: 'OR_FILEINFO',
      help: 'On or Off to enable or disable (default) the whole rewriting engine',
      compile: ({ words }) => ({ findings: [], value: { kind: 'engine', on: (words[0] ?? '').toLowerCase() === 'on' } }),
    },
    {
      name: 'RewriteOptions',
      shape: 'ITERATE',
      override: 'OR_FILEINFO',
      help: 'List of option strings to set',
      compile: ({ words }) => {
        const unknown = words.find((w) => !/^maxredirects=/i.test(w) && !REWRITE_OPTIONS.has(w.toLowerCase()));
        if (unknown !== undefined) return refused(finding(`RewriteOptions: unknown option '${unknown}'`));
        return { findings: [], value: { kind: 'options', options: words.map((w) => w.toLowerCase()) } };
      },
    },
    {
      name: 'RewriteBase',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'the base URL of the per-directory context',
      compile: ({ words, kind }) => {
        const w = words[0] ?? '';
        if (kind === 'server') return refused(finding('RewriteBase: only valid in per-directory config files'));
        if (w === '') return refused(finding('RewriteBase: empty URL not allowed'));
        if (!w.startsWith('/')) return refused(finding('RewriteBase: argument is not a valid URL'));
        return { findings: [], value: { kind: 'base', base: w } };
      },
    },
    { name: 'RewriteCond', shape: 'RAW_ARGS', override: 'OR_FILEINFO', help: 'an input string and a to be applied regexp-pattern', compile: compileCond },
    { name: 'RewriteRule', shape: 'RAW_ARGS', override: 'OR_FILEINFO', help: 'an URL-applied regexp-pattern and a substitution URL', compile: compileRule },
    {
      name: 'RewriteMap',
      shape: 'TAKE23',
      override: 'RSRC_CONF',
      help: 'a mapname and a filename and options',
      // cmd_rewritemap refuses an unknown int: function; a prg: map that cannot start fails
      // only when the server starts it. The map itself is read with the host configuration.
      compile: ({ words }) => {
        const spec = parseRewriteMap(words, (p) => p);
        return 'error' in spec && /^int:/i.test(words[1] ?? '') ? refused(finding(spec.error)) : { findings: [], value: undefined };
      },
    },
  ],
  dirConfig: { empty: { rewrite: undefined }, merge: mergeRewrite },
  hooks: { fixups: 'runRewriteRound' },
};
