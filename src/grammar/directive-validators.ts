/**
 * Value checks of individual directives, with the error text the defining module returns.
 * Each returns undefined when Apache accepts the value.
 */
import type { ErrorCode } from '../vocabulary/error-catalog.js';
import { type Expr, exprModulesOf, parseApExpr, parseApExprString, type Word } from './ap-expr.js';
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
export function parseRequire(
  rawArgs: string,
  hasModule: (id: string) => boolean,
): { negate: boolean; provider: string; args: string[]; expr?: Expr; names?: Word } | { error: string } {
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
  if (provider === 'expr') {
    // expr_parse_config: the rest of the line is the expression; surrounding quotes are skipped.
    const text = rest.length >= 2 && rest.startsWith('"') && rest.endsWith('"') ? rest.slice(1, -1) : rest;
    const parsed = parseApExpr(text, exprModulesOf(hasModule));
    if (!parsed.ok) return { error: `Cannot parse expression in require line: ${parsed.error}` };
    return { negate, provider, args: [rest], expr: parsed.expr };
  }
  if (provider === 'host' || provider === 'forward-dns') {
    // host_parse_config: the rest of the line is a string expression, giving the names.
    const parsed = parseApExprString(rest, exprModulesOf(hasModule));
    if (!parsed.ok) return { error: `Cannot parse expression in require line: ${parsed.error}` };
    return { negate, provider, args: [rest], names: parsed.word };
  }
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
