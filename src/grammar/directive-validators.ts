/**
 * Value checks of individual directives, with the error text the defining module returns.
 * Each returns undefined when Apache accepts the value.
 */
import type { ErrorCode } from '../vocabulary/error-catalog.js';
import { parseApExpr } from './ap-expr.js';
import { compileApacheRegex } from './regex.js';
import { getWordConf, splitWords } from './words.js';
import { HANDLER_MODULES } from './module-catalog.js';
import { didYouMean } from './suggest.js';
import { parseProxyHandler, proxySchemeModule } from './proxy-target.js';

/** What a validator sees of one directive. */
export interface ValidatorInput {
  /** Arguments as Apache's tokenizer splits the raw argument text. */
  words: string[];
  rawArgs: string;
  kind: 'htaccess' | 'server';
  /** `override_opts`: options an `.htaccess` `Options` line may set here. */
  overrideOpts: number;
  hasModule(id: string): boolean;
}

/** A validator's finding. */
export interface ValidatorFinding {
  code: ErrorCode;
  message: string;
  hint?: string;
  /** For a section: Apache reports this once the section's body was read, after the body's own errors. */
  afterBody?: boolean;
}

type Validator = (input: ValidatorInput) => ValidatorFinding | ValidatorFinding[] | undefined;

const fail = (message: string, code: ErrorCode = 'HT105', hint?: string): ValidatorFinding => (hint === undefined ? { code, message } : { code, message, hint });

/** PCRE compile check shared by every regex-taking directive. */
export function regexFinding(pattern: string, icase: boolean, onError: string): ValidatorFinding | undefined {
  const r = compileApacheRegex(pattern, icase);
  if (!r.ok) return fail(onError, 'HT106', `The pattern does not compile: ${r.reason}.`);
  if (r.regex === undefined) {
    return {
      code: 'HT201',
      message: `pattern '${pattern}' uses PCRE features htsandbox cannot run (${r.unsupported}); the host accepts it`,
    };
  }
  return undefined;
}

const HTTP_STATUS_REASONS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
  412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

// --- mod_rewrite (cmd_rewritecond / cmd_rewriterule, modules/mappers/mod_rewrite.c) ---

/** `parseargline`: up to three words, quotes honoured, `\ ` escapes a space. */
export function rewriteArgLine(str: string): { a1: string; a2: string; a3?: string } | undefined {
  let i = 0;
  const n = str.length;
  const isSpace = (c: string | undefined): boolean => c !== undefined && /[ \t\n\v\f\r]/.test(c);
  const word = (): { value: string; ended: boolean } => {
    let quote = '';
    if (str[i] === '"' || str[i] === "'") quote = str[i++]!;
    const start = i;
    for (; i < n; i++) {
      const c = str[i]!;
      if ((isSpace(c) && !quote) || c === quote) break;
      if (c === '\\' && isSpace(str[i + 1])) i++;
    }
    const value = str.slice(start, i);
    const ended = i >= n;
    return { value, ended };
  };
  while (isSpace(str[i])) i++;
  const w1 = word();
  if (w1.ended) return undefined;
  i++;
  while (isSpace(str[i])) i++;
  const w2 = word();
  if (w2.ended) return { a1: w1.value, a2: w2.value };
  i++;
  while (isSpace(str[i])) i++;
  if (i >= n) return { a1: w1.value, a2: w2.value };
  const w3 = word();
  return { a1: w1.value, a2: w2.value, a3: w3.value };
}

/** `cmd_parseflagfield`: `[a,b=c]` → key/value pairs, or Apache's error. */
export function rewriteFlagField(field: string): { pairs: [string, string][] } | { error: string } {
  if (!field.startsWith('[') || !field.endsWith(']') || field.length < 2) return { error: 'bad flag delimiters' };
  const body = `${field.slice(1, -1)},`;
  const pairs: [string, string][] = [];
  let pos = 0;
  while (pos < body.length) {
    while (pos < body.length && /\s/.test(body[pos]!)) pos++;
    const comma = body.indexOf(',', pos);
    if (pos >= body.length || comma === -1) break;
    const item = body.slice(pos, comma).replace(/\s+$/, '');
    const eq = item.indexOf('=');
    pairs.push(eq === -1 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)]);
    pos = comma + 1;
  }
  return { pairs };
}

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

function flagHint(flag: string, names: readonly string[]): string | undefined {
  const s = didYouMean(flag, names);
  return s ? `${s.charAt(0).toUpperCase()}${s.slice(1)}Flags are listed at https://httpd.apache.org/docs/2.4/rewrite/flags.html.` : undefined;
}

/** `cmd_rewriterule_setflag`: Apache's verdict on one flag. */
export function ruleFlagError(key: string, val: string): string | undefined {
  const first = key[0]?.toLowerCase() ?? '';
  const rest = key.slice(1).toLowerCase();
  if (first === 'd') return undefined; // any D… is taken as DPI
  const words = RULE_FLAG_WORDS[first];
  if (!words || !words.includes(rest)) return `unknown flag '${key}'`;
  if (first === 'b' && rest === 'ne' && val === '') return "flag 'BNE' wants a list of characters (i.e. [BNE=...])";
  if (first === 'r' && /^\d/.test(val)) {
    const status = Number.parseInt(val, 10);
    if (status !== 500 && !HTTP_STATUS_REASONS.has(status)) return `invalid HTTP response code '${val}' for flag 'R'`;
  }
  return undefined;
}

function condFlagError(key: string): string | undefined {
  const k = key.toLowerCase();
  if (['nocase', 'nc', 'ornext', 'or', 'novary', 'nv'].includes(k)) return undefined;
  return `unknown flag '${key}'`;
}

const rewriteCond: Validator = ({ rawArgs }) => {
  const line = rewriteArgLine(rawArgs);
  if (!line) return fail(`RewriteCond: bad argument line '${rawArgs}'`);
  let icase = false;
  if (line.a3 !== undefined) {
    const f = rewriteFlagField(line.a3);
    if ('error' in f) return fail(`RewriteCond: ${f.error}`, 'HT107');
    for (const [k] of f.pairs) {
      const e = condFlagError(k);
      if (e) return fail(`RewriteCond: ${e}`, 'HT107', flagHint(k, ['NC', 'nocase', 'OR', 'ornext', 'NV', 'novary']));
      if (['nocase', 'nc'].includes(k.toLowerCase())) icase = true;
    }
  }
  let a2 = line.a2;
  if (a2.startsWith('!')) a2 = a2.slice(1);
  if (line.a1.toLowerCase() === 'expr') {
    const parsed = parseApExpr(a2);
    return parsed.ok ? undefined : fail(`RewriteCond: cannot compile expression "${a2}": ${parsed.error}`, 'HT110');
  }
  // Everything that is not one of the test operators is a regular expression.
  const isTest = /^-[fsdxhlLUF]$/.test(a2) || /^-(lt|le|gt|ge|eq|ne)./.test(a2) || /^[<>=]/.test(a2);
  if (a2.length > 1 && isTest) return undefined;
  return regexFinding(a2, icase, `RewriteCond: cannot compile regular expression '${a2}'`);
};

const rewriteRule: Validator = ({ rawArgs }) => {
  const line = rewriteArgLine(rawArgs);
  if (!line) return fail(`RewriteRule: bad argument line '${rawArgs}'`);
  let icase = false;
  if (line.a3 !== undefined) {
    const f = rewriteFlagField(line.a3);
    if ('error' in f) return fail(`RewriteRule: ${f.error}`, 'HT107');
    for (const [k, v] of f.pairs) {
      const e = ruleFlagError(k, v);
      if (e) return fail(`RewriteRule: ${e}`, 'HT107', e.startsWith('unknown flag') ? flagHint(k, RULE_FLAG_NAMES) : undefined);
      if (/^(nc|nocase)$/i.test(k)) icase = true;
    }
  }
  const pattern = line.a1.startsWith('!') ? line.a1.slice(1) : line.a1;
  return regexFinding(pattern, icase, `RewriteRule: cannot compile regular expression '${pattern}'`);
};

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

const rewriteOptions: Validator = ({ words }) => {
  for (const w of words) {
    if (/^maxredirects=/i.test(w)) continue;
    if (!REWRITE_OPTIONS.has(w.toLowerCase())) return fail(`RewriteOptions: unknown option '${w}'`);
  }
  return undefined;
};

const rewriteBase: Validator = ({ words, kind }) => {
  const w = words[0] ?? '';
  if (kind === 'server') return fail('RewriteBase: only valid in per-directory config files');
  if (w === '') return fail('RewriteBase: empty URL not allowed');
  if (!w.startsWith('/')) return fail('RewriteBase: argument is not a valid URL');
  return undefined;
};

// --- mod_authz_core, mod_authz_host, mod_authz_user, mod_access_compat ---

const AUTHZ_PROVIDERS: Record<string, string> = {
  all: 'authz_core',
  env: 'authz_core',
  method: 'authz_core',
  expr: 'authz_core',
  ip: 'authz_host',
  host: 'authz_host',
  'forward-dns': 'authz_host',
  local: 'authz_host',
  user: 'authz_user',
  'valid-user': 'authz_user',
  group: 'authz_groupfile',
  'file-group': 'authz_groupfile',
  'file-owner': 'authz_owner',
  afsgroup: 'authz_afsgroup',
};

/** Methods httpd registers (`ap_method_registry`), for Require method and <Limit>. */
export const HTTP_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'PUT',
  'POST',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'VERSION-CONTROL',
  'CHECKOUT',
  'UNCHECKOUT',
  'CHECKIN',
  'UPDATE',
  'LABEL',
  'REPORT',
  'MKWORKSPACE',
  'MKACTIVITY',
  'BASELINE-CONTROL',
  'MERGE',
  'HEAD',
]);

/** `inet_pton(AF_INET)` as APR has it: exactly four decimal octets, no leading zeros. */
function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** `inet_pton(AF_INET6)`: hex groups, one `::` at most, an IPv4 tail allowed. */
function isIpv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let count = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (i === all.length - 1 && g.includes('.')) {
      if (!isIpv4(g)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) count++;
    else return false;
  }
  return halves.length === 2 ? count < 8 : count === 8;
}

/** The legacy network form `a.b.c.` (`parse_network`): up to four octets, each 0-255. */
function isLegacyNetwork(s: string): boolean {
  if (s.length > 15) return false;
  const parts = s.endsWith('.') ? s.slice(0, -1).split('.') : s.split('.');
  return parts.length <= 4 && parts.every((p) => /^\d+$/.test(p) && Number(p) <= 255);
}

/**
 * `apr_ipsubnet_create`'s verdict on an address and an optional mask: `einval` for what does
 * not look like an IP address at all (only digits and dots, or a colon somewhere), else the
 * APR error text, else undefined (valid).
 */
export function ipSubnetProblem(addr: string, mask: string | undefined): 'einval' | string | undefined {
  if (addr === '' || (!addr.includes(':') && !/^[\d.]*$/.test(addr))) return 'einval';
  const v6 = isIpv6(addr);
  // An IPv4-mapped IPv6 address is refused (apr_ipsubnet_test assumes none).
  if (v6 && /^::ffff:/i.test(addr) && addr.includes('.')) return 'The specified IP address is invalid.';
  if (!v6 && !isIpv4(addr) && (mask !== undefined || !isLegacyNetwork(addr))) return 'The specified IP address is invalid.';
  if (mask === undefined) return undefined;
  const bits = /^\s*[+-]?\d+$/.test(mask) ? Number.parseInt(mask, 10) : Number.NaN;
  if (bits > 0 && bits <= (v6 ? 128 : 32)) return undefined;
  if (!v6 && isIpv4(mask)) return undefined;
  return 'The specified network mask is invalid.';
}

/** `apr_ipsubnet_create`'s verdict: undefined when valid, else the error Apache appends. */
function ipProblem(w: string): string | undefined {
  const slash = w.indexOf('/');
  const problem = slash === -1 ? ipSubnetProblem(w, undefined) : ipSubnetProblem(w.slice(0, slash), w.slice(slash + 1));
  return problem === undefined ? undefined : problem === 'einval' ? '' : `: ${problem}`;
}

/** Parses a `Require` line: provider and arguments, or Apache's error. */
export function parseRequire(rawArgs: string, hasModule: (id: string) => boolean): { negate: boolean; provider: string; args: string[] } | { error: string } {
  let w = getWordConf(rawArgs, 0);
  let provider = w.value;
  let negate = false;
  let rest = rawArgs.slice(w.next);
  if (provider.toLowerCase() === 'not') {
    negate = true;
    w = getWordConf(rest, 0);
    provider = w.value;
    rest = rest.slice(w.next);
  }
  const module = AUTHZ_PROVIDERS[provider];
  if (module === undefined || !hasModule(module)) return { error: `Unknown Authz provider: ${provider}` };
  const args = splitWords(rest).map((x) => x.value);
  if (provider === 'all') {
    const a = rest.trim().toLowerCase();
    if (a !== 'granted' && a !== 'denied') return { error: "Argument for 'Require all' must be 'granted' or 'denied'" };
  } else if (provider === 'ip') {
    if (args.length === 0) return { error: "'require ip' requires an argument" };
    for (const a of args) {
      const problem = ipProblem(a);
      if (problem !== undefined) return { error: `ip address '${a}' appears to be invalid${problem}` };
    }
  } else if (provider === 'method') {
    for (const a of args) if (!HTTP_METHODS.has(a)) return { error: `Invalid Method '${a}'` };
  }
  return { negate, provider, args };
}

/**
 * A handler no loaded module provides is not an error for Apache: core's default handler sends
 * the file as it is — a script's source goes out as text. Said once per line.
 */
export function handlerFinding(handler: string, hasModule: (id: string) => boolean): ValidatorFinding | undefined {
  const proxy = parseProxyHandler(handler);
  if (proxy !== undefined) {
    if ('error' in proxy) return { code: 'HT207', message: proxy.error };
    const needed = ['proxy', proxySchemeModule(proxy)].filter((m) => !hasModule(m));
    if (needed.length) {
      return {
        code: 'HT203',
        message: `handler "${handler}" needs ${needed.map((m) => `mod_${m}`).join(' and ')}, which this host does not load: matching files are sent as they are`,
        hint: `Load ${needed.map((m) => `${m}_module`).join(' and ')} in the host configuration, or use "SetHandler fcgid-script" to have the host run the script itself.`,
      };
    }
    if (proxy.kind === 'other') return { code: 'HT207', message: `handler "${handler}": htsandbox forwards fcgi:// and balancer:// targets only` };
    return undefined;
  }
  const key = handler.toLowerCase();
  if (key === 'none') return undefined;
  const providers = HANDLER_MODULES.get(key);
  if (providers?.some((m) => m === 'core' || hasModule(m))) return undefined;
  const known = [...HANDLER_MODULES].filter(([, ms]) => ms.some((m) => m === 'core' || hasModule(m))).map(([name]) => name);
  const suggestion = providers ? '' : didYouMean(handler, known);
  return {
    code: 'HT203',
    message: providers
      ? `handler "${handler}" needs mod_${providers[0]}, which this host does not load: matching files are sent as they are (a script's source is visible)`
      : `no module provides handler "${handler}": matching files are sent as they are (a script's source is visible)`,
    ...(suggestion ? { hint: `${suggestion.charAt(0).toUpperCase()}${suggestion.slice(1)}Handler names are those the host's modules provide.` } : {}),
  };
}

/** Validators by lower-cased directive name. */
export const DIRECTIVE_VALIDATORS: ReadonlyMap<string, Validator> = new Map<string, Validator>([
  ['rewritecond', rewriteCond],
  ['rewriterule', rewriteRule],
  ['rewriteoptions', rewriteOptions],
  ['rewritebase', rewriteBase],
]);
