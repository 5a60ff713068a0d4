/**
 * mod_rewrite's fixups hook (`hook_fixup` + `apply_rewrite_list`, modules/mappers/mod_rewrite.c),
 * pure: the rules src/modules/rewrite.ts compiled and merged for a directory, run over a
 * request's filename. The file tests and variables come through callbacks the resolver supplies.
 */
import { asciiLower } from '../grammar/byte-strings.js';
import { evaluateApExprFully, type ExprFacts } from '../grammar/ap-expr.js';
import type { LineSource } from '../modules/module.js';
import type { RewriteCond, RewriteConfig, RewriteFlags } from '../modules/rewrite.js';

/** One rule's turn in a round, for the request's story (`explain`, `test`, the dashboard). */
export interface RewriteTraceStep {
  source?: LineSource;
  pattern: string;
  substitution: string;
  /** The string the pattern was matched against (per-directory: without the directory's prefix). */
  subject: string;
  matched: boolean;
  /** False when a condition failed (only meaningful when matched). */
  conditionsHeld: boolean;
  /** What the rule did when it applied: the new URL, a redirect, a status. */
  result?: string;
}

/** What the engine needs from the request and the file system. */
export interface RewriteEnvironment {
  /** `%{VAR}` lookup (unknown names give ""). */
  variable(name: string): string;
  /** File tests on a path (`e`: it exists, of any kind). */
  fileTest(kind: 'e' | 'f' | 's' | 'd' | 'l' | 'x', path: string): boolean;
  /** A small file's text (ap_expr's `file()`, `filesize()`); undefined when unreadable. */
  readText(path: string): string | undefined;
  /** -U / -F look-aheads. */
  lookahead(kind: 'U' | 'F', value: string): boolean;
  /**
   * `%{LA-U:VAR}` / `%{LA-F:VAR}`: VAR as a sub-request for `path` (a URL for U, a file for F)
   * sees it: undefined for a variable the sub-request shares with the request (a header, the
   * time). Absent where look-aheads are not available (the variable is then "").
   */
  lookaheadVariable?(kind: 'U' | 'F', path: string, name: string): string | undefined;
  /** `${name:key}`: the map's value, undefined when the map or the key is unknown. */
  map(name: string, key: string): string | undefined;
  /** The request's time (ms since the epoch), for a [CO] cookie's expiry. */
  requestTimeMs?(): number;
  /** ap_expr's `osenv('NAME')`: the server process's environment (the server passes it in: no I/O here). */
  osenv?(name: string): string | undefined;
  /** mod_ssl's answers to ap_expr (ExprFacts.ssl). */
  sslVariable?(name: string, how: 'variable' | 'function'): string;
  /** Set when someone asks for the request's story: each rule's turn is told here. */
  trace?(step: RewriteTraceStep): void;
}

/** What a round did; `vary` names the request headers its matching rules' conditions read. */
export type RewriteOutcome = { env: [string, string | undefined][]; vary: string[]; cookies?: string[] } & (
  | { kind: 'none' }
  | { kind: 'status'; status: number; reason?: string; explain?: string }
  /** `location` is already escaped as Apache sends it (a path is relative to the request's origin). */
  | { kind: 'redirect'; status: number; location: string }
  /** [P]: mod_proxy is to fetch this fully qualified URL (query string included). */
  | { kind: 'proxy'; url: string }
  /** `status`: an [R] status still set when a later rule made the URL local again. */
  | { kind: 'internal'; url: string; query: string | undefined; end: boolean; type?: string; handler?: string; status?: number }
  /** `query`: the query string the rules built when their result was the request's own file. */
  | { kind: 'unchanged'; end: boolean; type?: string; handler?: string; query?: string | undefined }
);

const MAX_REWRITTEN_LENGTH = 2 * 8190;

/** Header names `lookup_variable` reads through `lookup_header` (the ones that can enter Vary). */
export const HEADER_VARIABLES: Readonly<Record<string, string>> = {
  HTTP_HOST: 'Host',
  HTTP_ACCEPT: 'Accept',
  HTTP_COOKIE: 'Cookie',
  HTTP_REFERER: 'Referer',
  HTTP_FORWARDED: 'Forwarded',
  HTTP_USER_AGENT: 'User-Agent',
  HTTP_PROXY_CONNECTION: 'Proxy-Connection',
};

function headerOfVariable(name: string): string | undefined {
  if (/^http:/i.test(name)) return name.slice(5) || undefined;
  return HEADER_VARIABLES[name];
}

/**
 * `escape_backref`: a byte is escaped when [B] has no list (or it is in [B=list]; with [BCTLS]
 * when it is a control or a space) and it is not in [BNE=list]; alphanumerics and `_` stay,
 * space becomes `+` (`%20` with [BNP]), other bytes `%xx`.
 */
function escapeBackref(s: string, flags: RewriteFlags): string {
  const escapeme = flags.escapeChars;
  const keep = flags.noEscapeChars;
  let out = '';
  for (const ch of Buffer.from(s, 'latin1')) {
    const c = String.fromCharCode(ch);
    const selected = (flags.escapeCtls ? ch <= 0x20 || ch === 0x7f : escapeme === undefined) || (escapeme !== undefined && escapeme.includes(c));
    if (!selected || (keep !== undefined && keep.includes(c)) || /[A-Za-z0-9_]/.test(c)) out += c;
    else if (c === ' ' && !flags.escapeNoPlus) out += '+';
    else out += `%${ch.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * Where the query string's '?' came from (`do_expand`'s unsafe_qmark): 1 when the first one
 * ([QSL]: the last one) comes from a back-reference, variable or map, 0 when it is literal,
 * -1 when there is none. A backslash-escaped `\?` counts as neither.
 */
interface QmarkTracker {
  unsafe: -1 | 0 | 1;
  tracking: boolean;
  last: boolean;
}

function noteLiteral(t: QmarkTracker | undefined, c: string): void {
  if (t?.tracking && c === '?') {
    t.unsafe = 0;
    t.tracking = t.last;
  }
}

function noteExpanded(t: QmarkTracker | undefined, value: string): void {
  if (t?.tracking && value.includes('?')) {
    t.unsafe = 1;
    t.tracking = t.last;
  }
}

/** `do_expand`: `$N`, `%N`, `%{VAR}`, `${map:key|default}`, `\c`. */
function expand(
  template: string,
  ruleCaps: readonly (string | undefined)[],
  condCaps: readonly (string | undefined)[],
  env: RewriteEnvironment,
  escapeRefs?: (s: string) => string,
  qmark?: QmarkTracker,
): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    const d = template[i + 1];
    if (c === '\\' && d !== undefined) {
      out += d;
      i++;
    } else if ((c === '$' || c === '%') && d !== undefined && /\d/.test(d)) {
      const raw = (c === '$' ? ruleCaps : condCaps)[Number(d)] ?? '';
      const v = escapeRefs && raw !== '' ? escapeRefs(raw) : raw;
      noteExpanded(qmark, v);
      out += v;
      i++;
    } else if ((c === '%' || c === '$') && d === '{') {
      const close = findInCurlies(template, i + 2, '}');
      const colon = c === '$' && close !== -1 ? findInCurlies(template, i + 2, ':') : -1;
      if (close === -1 || (c === '$' && colon === -1)) {
        out += c + d;
        i++;
      } else if (c === '%') {
        const v = env.variable(template.slice(i + 2, close));
        noteExpanded(qmark, v);
        out += v;
        i = close;
      } else {
        // `${map:key|default}`: key and default are expanded, the map's answer is not.
        const bar = findInCurlies(template, colon + 1, '|');
        const keyEnd = bar === -1 || bar > close ? close : bar;
        let v = env.map(template.slice(i + 2, colon), expand(template.slice(colon + 1, keyEnd), ruleCaps, condCaps, env));
        if (v === undefined && keyEnd !== close && close > keyEnd + 1) v = expand(template.slice(keyEnd + 1, close), ruleCaps, condCaps, env);
        if (v !== undefined) {
          noteExpanded(qmark, v);
          out += v;
        }
        i = close;
      }
    } else {
      noteLiteral(qmark, c);
      out += c;
    }
  }
  return out;
}

/**
 * `find_closing_curly` (`want` = '}') and `find_char_in_curlies`: the index of `want` at depth 1
 * from `from`, braces nesting; -1 when the braces close first or never do.
 */
function findInCurlies(s: string, from: number, want: string): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (want === '}' ? c === '}' && --depth === 0 : c === want && depth === 1) return i;
    if (want !== '}' && c === '}' && --depth === 0) return -1;
    if (c === '{') depth++;
  }
  return -1;
}

/** Apache's `compare_lexicography`: the longer string is greater; equal lengths compare bytewise. */
function lexCompare(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `strcasecmp` on bytes (C locale: only A-Z fold). */
function caseCompare(a: string, b: string): number {
  const x = asciiLower(a);
  const y = asciiLower(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * What ap_expr reads of a request, through the view mod_rewrite has of it: one definition for
 * `RewriteCond expr`, `<If>` and `Header … expr=`.
 */
export function exprFactsOf(env: RewriteEnvironment): ExprFacts {
  return {
    // r->status is still 200 when these conditions are evaluated (before the handler).
    variable: (name) => (name === 'REQUEST_STATUS' ? '200' : env.variable(name)),
    header: (name) => env.variable(`HTTP:${name}`),
    env: (name) => env.variable(`ENV:${name}`) || undefined,
    osenv: (name) => env.osenv?.(name),
    fileTest: (op, path) => {
      // -L and -h are the same test; -F, -U and -A would run a subrequest: the file is tested.
      const kind = op === 'L' || op === 'h' ? 'l' : op === 'F' || op === 'U' || op === 'A' ? 'f' : op;
      return kind === 'e' || kind === 'f' || kind === 's' || kind === 'd' || kind === 'l' || kind === 'x' ? env.fileTest(kind, path) : false;
    },
    readFile: (path) => env.readText(path),
    ssl: (name, how) => env.sslVariable?.(name, how) ?? '',
    remoteAddr: env.variable('REMOTE_ADDR'),
    requestTimeUs: Math.round((env.requestTimeMs?.() ?? Date.now()) * 1000),
  };
}

function evalCond(
  cond: RewriteCond,
  ruleCaps: readonly (string | undefined)[],
  condCaps: (string | undefined)[],
  env: RewriteEnvironment,
): { ok: boolean; caps?: (string | undefined)[]; vary?: string[] } {
  const input = cond.kind === 'expr' ? '' : expand(cond.input, ruleCaps, condCaps, env);
  let ok: boolean;
  let caps: (string | undefined)[] | undefined;
  let vary: string[] | undefined;
  switch (cond.kind) {
    case 'regex': {
      const m = cond.regex!.exec(input);
      ok = m !== null;
      if (m) caps = m;
      break;
    }
    case 'eq':
      ok = cond.nocase ? asciiLower(input) === asciiLower(cond.pattern) : input === cond.pattern;
      break;
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      // With [NC] Apache uses strcasecmp, which is not length-first.
      const r = cond.nocase ? caseCompare(input, cond.pattern) : lexCompare(input, cond.pattern);
      ok = cond.kind === 'lt' ? r < 0 : cond.kind === 'le' ? r <= 0 : cond.kind === 'gt' ? r > 0 : r >= 0;
      break;
    }
    case 'ieq':
    case 'ilt':
    case 'ile':
    case 'igt':
    case 'ige': {
      const a = Number.parseInt(input, 10) || 0;
      const b = Number.parseInt(cond.pattern, 10) || 0;
      ok = cond.kind === 'ieq' ? a === b : cond.kind === 'ilt' ? a < b : cond.kind === 'ile' ? a <= b : cond.kind === 'igt' ? a > b : a >= b;
      break;
    }
    case 'f':
    case 's':
    case 'd':
    case 'l':
    case 'x':
      ok = env.fileTest(cond.kind, input);
      break;
    case 'U':
    case 'F':
      ok = env.lookahead(cond.kind, input);
      break;
    case 'expr': {
      const r = evaluateApExprFully(cond.expr!, exprFactsOf(env));
      ok = r.result;
      // ap_expr_exec_re: the expression's last regex match gives %1..%9.
      if (ok && !cond.negate) caps = r.captures;
      vary = r.vary;
      break;
    }
  }
  if (cond.negate) return vary ? { ok: !ok, vary } : { ok: !ok };
  return { ok, ...(caps ? { caps } : {}), ...(vary ? { vary } : {}) };
}

export interface RewriteInput {
  /** r->filename + r->path_info. */
  path: string;
  /** r->filename alone: a result equal to it is ignored (hook_fixup's deadloop check). */
  filename: string;
  query: string | undefined;
  /** The document root (a rewritten filesystem path under it becomes a URL again). */
  documentRoot: string;
  /** scheme://host[:port] of the request (fully_qualify_uri). */
  origin: string;
}

/** Runs one per-directory round of `cfg`'s rules. */
export function runRewriteRound(cfg: RewriteConfig, input: RewriteInput, env: RewriteEnvironment): RewriteOutcome {
  // [CO] cookies go to err_headers_out when their rule matches: they leave with any answer.
  const cookies: string[] = [];
  const outcome = runRules(cfg, input, env, cookies);
  return cookies.length ? { ...outcome, cookies } : outcome;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `add_cookie`: "NAME:VALUE:DOMAIN[:minutes[:path[:secure[:httponly[:samesite]]]]]" (';' as the
 * separator when the text starts with one; empty fields are skipped, as apr_strtok does) as a
 * Set-Cookie value; undefined without name, value and domain.
 */
export function rewriteCookie(spec: string, nowMs: number): { name: string; value: string } | undefined {
  let sep = ':';
  let text = spec;
  if (text.startsWith(';')) {
    sep = ';';
    text = text.slice(1);
  }
  const [name, value, domain, expires, path, secure, httponly, samesite] = text.split(sep).filter((t) => t !== '');
  if (name === undefined || value === undefined || domain === undefined) return undefined;
  let cookie = `${name}=${value}; path=${path ?? '/'}; domain=${domain}`;
  const minutes = expires === undefined ? 0 : Number.parseInt(expires, 10) || 0;
  if (minutes) {
    const t = new Date(nowMs + minutes * 60_000);
    const two = (n: number): string => String(n).padStart(2, '0');
    cookie += `; expires=${DAY_NAMES[t.getUTCDay()]}, ${two(t.getUTCDate())}-${MONTH_NAMES[t.getUTCMonth()]}-${String(t.getUTCFullYear()).padStart(4, '0')} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} GMT`;
  }
  const yes = (v: string | undefined, word: string): boolean => v !== undefined && (v.toLowerCase() === 'true' || v === '1' || v.toLowerCase() === word.toLowerCase());
  if (yes(secure, 'secure')) cookie += '; secure';
  if (yes(httponly, 'HttpOnly')) cookie += '; HttpOnly';
  if (samesite !== undefined && samesite !== '0' && samesite.toLowerCase() !== 'false') cookie += `; SameSite=${samesite}`;
  return { name, value: cookie };
}

function runRules(cfg: RewriteConfig, input: RewriteInput, env: RewriteEnvironment, cookies: string[]): RewriteOutcome {
  const envSets: [string, string | undefined][] = [];
  /** r->filename as the rules leave it (a URL once a rule made it one). */
  let filename = input.filename;
  /** r->path_info: added back to every rule's subject until [DPI] drops it. */
  let pathInfo = input.path.startsWith(input.filename) ? input.path.slice(input.filename.length) : '';
  let query = input.query;
  let changed = false;
  /** The [NE] of the last rule that substituted (hook_fixup's ACTION_NOESCAPE). */
  let noescape = false;
  let end = false;
  /** r->status as [R] or an absolute substitution set it. */
  let forcedStatus: number | undefined;
  let type: string | undefined;
  let handler: string | undefined;
  let round = 1;
  const vary: string[] = [];
  let varyThis: string[] = [];
  /** The current rule's subject (ctx->uri), which the LA-U/LA-F look-aheads start from. */
  let subject = '';
  // %{ENV:x} sees what [E=] set earlier in this round; %{REQUEST_FILENAME} is r->filename as
  // the rules changed it; header lookups are noted for Vary.
  const roundEnv: RewriteEnvironment = {
    ...env,
    variable(name: string): string {
      if (/^env:/i.test(name)) {
        const key = name.slice(4);
        for (let k = envSets.length - 1; k >= 0; k--) if (envSets[k]![0] === key) return envSets[k]![1] ?? '';
      }
      if (changed && (name === 'REQUEST_FILENAME' || name === 'SCRIPT_FILENAME')) return filename;
      const la = /^LA-([UF]):(.+)$/i.exec(name);
      if (la) {
        const kind = la[1]!.toUpperCase() as 'U' | 'F';
        const inner = la[2]!;
        if (!env.lookaheadVariable) return '';
        // ctx->uri is the rule's subject; per directory, LA-U prefixes a relative one with
        // RewriteBase (else the directory's path: la_u), LA-F with the directory's path, and
        // LA-F of a subject that is already absolute is an LA-U.
        const lookKind = kind === 'F' && subject.startsWith('/') ? 'U' : kind;
        const path = subject.startsWith('/') ? subject : kind === 'U' ? `${cfg.base ?? cfg.dir}${subject}` : `${cfg.dir}${subject}`;
        return env.lookaheadVariable(lookKind, path, inner) ?? roundEnv.variable(inner);
      }
      const value = env.variable(name);
      const header = headerOfVariable(name);
      if (header !== undefined && value !== '' && header.toLowerCase() !== 'host') varyThis.push(header);
      return value;
    },
  };
  restart: for (;;) {
    let skipChain = false;
    for (let i = 0; i < cfg.rules.length; i++) {
      const rule = cfg.rules[i]!;
      if (skipChain) {
        if (!rule.flags.chain) skipChain = false;
        continue;
      }
      // apply_rewrite_rule: "add path info postfix", then "strip per-dir prefix" when it is there.
      const full = filename + pathInfo;
      subject = full.startsWith(cfg.dir) ? full.slice(cfg.dir.length) : full === cfg.dir.slice(0, -1) ? '' : full;
      const m = rule.regex.exec(subject);
      const matched = rule.negate ? m === null : m !== null;
      const ruleCaps = rule.negate ? [] : (m ?? []);
      let condCaps: (string | undefined)[] = [];
      let condsOk = matched;
      const ruleVary: string[] = [];
      if (matched) {
        // apply_rewrite_rule's condition loop: a true [OR] member skips the rest of its run;
        // headers read by a condition that held go to Vary.
        for (let j = 0; j < rule.conds.length; j++) {
          const cond = rule.conds[j]!;
          varyThis = [];
          const r = evalCond(cond, ruleCaps, condCaps, roundEnv);
          if (r.ok && r.caps) condCaps = r.caps;
          if (cond.novary) varyThis = [];
          if (cond.kind === 'expr') {
            // ap_expr merges the headers it read into Vary as it evaluates, matched or not.
            varyThis = [];
            if (!cond.novary) for (const h of r.vary ?? []) if (!vary.includes(h)) vary.push(h);
          }
          if (cond.ornext) {
            if (!r.ok) continue;
            while (j < rule.conds.length && rule.conds[j]!.ornext) j++;
          } else if (!r.ok) {
            condsOk = false;
            break;
          }
          ruleVary.push(...varyThis);
        }
      }
      if (!condsOk) {
        env.trace?.({ ...(rule.source ? { source: rule.source } : {}), pattern: rule.pattern, substitution: rule.substitution, subject, matched, conditionsHeld: !matched });
        if (rule.flags.chain) skipChain = true;
        continue;
      }
      const traced: RewriteTraceStep | undefined = env.trace
        ? { ...(rule.source ? { source: rule.source } : {}), pattern: rule.pattern, substitution: rule.substitution, subject, matched, conditionsHeld: true }
        : undefined;
      for (const h of ruleVary) if (!vary.includes(h)) vary.push(h);
      // The substitution is expanded before this rule's [E=] are set (apply_rewrite_rule).
      const escape = rule.flags.escapeBackrefs || rule.flags.escapeCtls ? (s: string): string => escapeBackref(s, rule.flags) : undefined;
      // [R=4xx] and '-' have no substitution to expand (RULEFLAG_NOSUB).
      const nosub = rule.substitution === '-' || rule.flags.status !== undefined;
      const qmark: QmarkTracker | undefined = rule.flags.unsafeAllow3F ? undefined : { unsafe: -1, tracking: true, last: rule.flags.qsl };
      let out = nosub ? '' : expand(rule.substitution, ruleCaps, condCaps, roundEnv, escape, qmark);
      if (qmark?.unsafe === 1) {
        // CVE-2024-38474: a '?' decoded from the request (%3f) must not start a query string.
        return {
          kind: 'status',
          status: 403,
          env: envSets,
          vary,
          reason: 'AH10508: Unsafe URL with %3f URL rewritten without UnsafeAllow3F',
          explain: `RewriteRule '${rule.pattern}': the first '?' of its substitution comes from a back-reference or variable, so the request's own text would start the query string. Put a literal '?' before it (e.g. "target?x=$1"), escape it with [B], or allow it with [UnsafeAllow3F] if that is really meant.`,
        };
      }
      for (const e of rule.flags.env) {
        const x = expand(e, ruleCaps, condCaps, roundEnv);
        if (x.startsWith('!')) envSets.push([x.slice(1), undefined]);
        else {
          const colon = x.indexOf(':');
          envSets.push(colon === -1 ? [x, ''] : [x.slice(0, colon), x.slice(colon + 1)]);
        }
      }
      for (const c of rule.flags.cookies) {
        const cookie = rewriteCookie(expand(c, ruleCaps, condCaps, roundEnv), env.requestTimeMs?.() ?? Date.now());
        // A name is set once per request (add_cookie's "<name>_rewrite" pool note).
        if (cookie && !cookies.some((x) => x.startsWith(`${cookie.name}=`))) cookies.push(cookie.value);
      }
      // force_type_handler: expanded with this rule's [B] escaping, lower-cased, ignored when empty.
      const forcedType = rule.flags.type ? expand(rule.flags.type, ruleCaps, condCaps, roundEnv, escape).toLowerCase() : '';
      const forcedHandler = rule.flags.handler ? expand(rule.flags.handler, ruleCaps, condCaps, roundEnv, escape).toLowerCase() : '';
      if (forcedType) type = forcedType;
      if (forcedHandler) handler = forcedHandler;
      if (traced) {
        traced.result = rule.flags.forbidden
          ? 'answers 403 Forbidden ([F])'
          : rule.flags.gone
            ? 'answers 410 Gone ([G])'
            : rule.flags.status !== undefined
              ? `answers ${rule.flags.status} ([R=${rule.flags.status}])`
              : rule.substitution === '-'
                ? 'leaves the URL as it is (substitution "-")'
                : '';
      }
      if (rule.flags.forbidden || rule.flags.gone || rule.flags.status !== undefined) if (traced) env.trace!(traced);
      if (rule.flags.forbidden) return { kind: 'status', status: 403, env: envSets, vary };
      if (rule.flags.gone) return { kind: 'status', status: 410, env: envSets, vary };
      // [F], [G] and an [R] outside 3xx are one flag in mod_rewrite (RULEFLAG_STATUS): the
      // status is the answer whatever the substitution, '-' included (`- [R=400]` is a 400).
      if (rule.flags.status !== undefined) return { kind: 'status', status: rule.flags.status, env: envSets, vary };
      if (rule.substitution === '-' && traced) env.trace!(traced);
      if (rule.substitution !== '-') {
        const absolute = ABSOLUTE_URI.test(out);
        // Query string: a '?' in the substitution starts a new one (QSA appends the old);
        // splitout_queryargs leaves URLs of schemes without query strings alone, and drops r->args.
        const withoutQuery = rule.flags.qsnone || (absolute && /^(?:ftp|gopher|ldap|nntp):\/\/|^news:/i.test(out));
        const qpos = withoutQuery ? -1 : rule.flags.qsl ? out.lastIndexOf('?') : out.indexOf('?');
        if (withoutQuery) query = undefined;
        else if (qpos !== -1) {
          const newQ = out.slice(qpos + 1);
          out = out.slice(0, qpos);
          if (rule.flags.qsa && query) query = newQ ? `${newQ}&${query}` : query;
          else query = newQ === '' ? undefined : newQ;
          if (query !== undefined && query.endsWith('&')) query = query.slice(0, -1);
        } else if (rule.flags.qsd) query = undefined;
        let prefixAdded = false;
        if (!absolute && !out.startsWith('/')) {
          out = cfg.dir + out;
          prefixAdded = true;
        }
        if (rule.flags.discardPathInfo) pathInfo = '';
        if (rule.flags.proxy) {
          // apply_rewrite_rule: fully_qualify_uri, "proxy:" + URL, and the list ends here.
          const url = absolute ? out : input.origin + (out.startsWith('/') ? '' : '/') + out;
          const refused = unsafeQuery(query, envSets, vary);
          if (refused) return refused;
          return { kind: 'proxy', url: url + (query !== undefined ? `?${query}` : ''), env: envSets, vary };
        }
        if (rule.flags.redirect !== undefined) {
          // fully_qualify_uri: the redirect's URL is r->filename for the rules that follow.
          if (!absolute) out = input.origin + (out.startsWith('/') ? '' : '/') + out;
          forcedStatus = rule.flags.redirect;
        } else {
          // reduce_uri would make a URL of this server a path again, but only for a host and
          // port of a <VirtualHost> address or the ServerName's port, which the host's single
          // server (ServerName without a port) never matches: the URL is a redirect.
          if (absolute) forcedStatus = 302;
          // Leading slashes merge, unless the substitution wrote them.
          else if (!prefixAdded && !rule.substitution.startsWith('//')) out = out.replace(/^\/+/, '/');
        }
        filename = out;
        changed = true;
        noescape = rule.flags.noescape;
        if (traced) {
          const target = filename + (query !== undefined ? `?${query}` : '');
          traced.result = forcedStatus !== undefined ? `redirects (${forcedStatus}) to ${target}` : `rewrites the URL to ${target}`;
          traced.result += rule.flags.last || rule.flags.end ? (rule.flags.end ? '; [END]: no more rules' : '; [L]: the last rule of this round') : '';
          env.trace!(traced);
        }
        // Looping rules that grow the path stop at twice LimitRequestLine (8190), as in Apache.
        if (filename.length > MAX_REWRITTEN_LENGTH) {
          return {
            kind: 'status',
            status: 500,
            env: envSets,
            vary,
            reason: `RewriteRule '${rule.pattern}' and URI '${filename.slice(0, 200)}…' exceeded maximum length (${MAX_REWRITTEN_LENGTH})`,
          };
        }
      } else if (rule.flags.qsd) {
        query = undefined;
      }
      if (rule.flags.end) end = true;
      if (rule.flags.next) {
        // apply_rewrite_list: [N] starts over, at most [N=limit] rounds (32000 by default).
        if (++round >= rule.flags.maxRounds) {
          return {
            kind: 'status',
            status: 500,
            env: envSets,
            vary,
            reason: `AH02596: RewriteRule '${rule.pattern}' and URI '${input.path.slice(0, 200)}' exceeded maximum number of rounds (${rule.flags.maxRounds}) via the [N] flag`,
            explain: 'A rule with [N] keeps matching its own result: make its pattern stop matching once the work is done.',
          };
        }
        continue restart;
      }
      // [R] and an absolute substitution do not stop the list: only L, END, PT (and P) do.
      if (rule.flags.last || rule.flags.end || rule.flags.passthrough || rule.flags.proxy) break;
      if (rule.flags.skip > 0) i += rule.flags.skip;
    }
    break;
  }
  if (!changed) {
    return { kind: 'unchanged', env: envSets, vary, end, ...(type ? { type } : {}), ...(handler ? { handler } : {}) };
  }
  const scheme = ABSOLUTE_URI.exec(filename);
  if (scheme) {
    // hook_fixup: "it was finally rewritten to a remote URL". RewriteBase replaces the per-dir
    // prefix (without its leading '/') after the host's '/' (subst_prefix_path); a relative [R]
    // target without one leaks the file system path, or "*If/" inside an <If>.
    let location = filename;
    const afterHost = filename.indexOf('/', scheme[0].length) + 1;
    if (cfg.base !== undefined && afterHost > 0 && afterHost < filename.length) {
      const prefix = (cfg.dir.startsWith('/') ? cfg.dir.slice(1) : cfg.dir).replace(/\/$/, '');
      if (filename.startsWith(prefix, afterHost) && filename[afterHost + prefix.length] === '/') {
        const base = cfg.base.slice(1);
        location = filename.slice(0, afterHost) + (base === '' || base.endsWith('/') ? base : `${base}/`) + filename.slice(afterHost + prefix.length + 1);
      }
    }
    const status = forcedStatus !== undefined && forcedStatus >= 300 && forcedStatus < 400 ? forcedStatus : 302;
    return finishRedirect(status, location, query, input.query, noescape, envSets, vary);
  }
  const refused = unsafeQuery(query, envSets, vary);
  if (refused) return refused;
  // hook_fixup: a local result must be an absolute path, else 400 (a relative substitution
  // inside an <If>, whose per-dir prefix "*If/" is no path; RewriteBase does not help here).
  if (!filename.startsWith('/')) return { kind: 'status', status: 400, env: envSets, vary };
  // Back from a filesystem path to a URL: RewriteBase replaces the directory, else the
  // document root is stripped.
  let url = filename;
  const rebased = cfg.base !== undefined && url.startsWith(cfg.dir);
  if (rebased) url = cfg.base!.replace(/\/?$/, '/') + url.slice(cfg.dir.length);
  if (!rebased && url.startsWith(`${input.documentRoot}/`)) url = url.slice(input.documentRoot.length);
  const extras = { ...(type ? { type } : {}), ...(handler ? { handler } : {}) };
  if (filename === input.filename) {
    // hook_fixup: "initial URL equal rewritten URL ... [IGNORING REWRITE]" — no internal
    // redirect, but the query string the rules built stays (r->args was already replaced).
    return { kind: 'unchanged', env: envSets, vary, end, ...(query !== input.query ? { query } : {}), ...extras };
  }
  // An [R] whose URL a later rule made local again: the internal redirect carries r->status.
  return { kind: 'internal', url, query, env: envSets, vary, end, ...(forcedStatus !== undefined ? { status: forcedStatus } : {}), ...extras };
}

/** `is_absolute_uri`: a scheme mod_rewrite knows, followed by "://" (or "mailto:" and the like). */
const ABSOLUTE_URI = /^(?:ajp|balancer|fcgi|ftp|gopher|https?|h2c?|ldap|nntp|scgi|wss?):\/\/|^(?:mailto|news|unix):/i;

/**
 * hook_fixup's check of the rewritten query string (AH10411): a control byte or a space there
 * was decoded from the request and nothing escaped it again. Redirects without [NE] escape it.
 */
function unsafeQuery(query: string | undefined, env: [string, string | undefined][], vary: string[]): RewriteOutcome | undefined {
  if (query === undefined || !/[\x00-\x20\x7f]/.test(query)) return undefined;
  return {
    kind: 'status',
    status: 403,
    env,
    vary,
    reason: 'AH10411: Rewritten query string contains control characters or spaces',
    explain: 'A back-reference or variable put a decoded space or control character into the query string: escape it with the [B] flag (or [BCTLS]).',
  };
}

/** `ap_escape_uri` (ap_os_escape_path, partial): every byte outside the path-safe set as %xx. */
export function escapeUriPath(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "$-_.+!*'(),:;@&=/~".includes(ch)) out += ch;
    else if (c > 0xff) out += encodeURIComponent(ch).toLowerCase();
    else out += `%${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The Location of a rewrite redirect as hook_fixup builds it: without [NE] the part after the
 * host is escaped (`escape_absolute_uri`), and so is a query string the rules changed.
 */
function finishRedirect(
  status: number,
  target: string,
  query: string | undefined,
  originalQuery: string | undefined,
  noescape: boolean,
  env: [string, string | undefined][],
  vary: string[],
): RewriteOutcome {
  if (noescape) {
    const refused = unsafeQuery(query, env, vary);
    if (refused) return refused;
  }
  let location = target;
  if (!noescape) {
    // escape_absolute_uri: after "scheme://host/" (or "scheme:"); "http://host" and
    // "http://host/" stay as they are.
    const scheme = ABSOLUTE_URI.exec(target);
    const from = !scheme ? 0 : scheme[0].endsWith('/') ? target.indexOf('/', scheme[0].length) + 1 : scheme[0].length;
    if (from > 0 || !scheme) location = target.slice(0, from) + escapeUriPath(target.slice(from));
  }
  if (query !== undefined && query !== '') location += `?${noescape || query === originalQuery ? query : escapeUriPath(query)}`;
  return { kind: 'redirect', status, location, env, vary };
}
