/** Access control without a user: mod_access_compat's Order/Allow/Deny and mod_authz_core's Require. Pure. */
import { evaluateApExpr, evaluateApExprString, type ExprFacts } from '../grammar/ap-expr.js';
import { getWordConf } from '../grammar/words.js';
import type { AccessCompat, AuthzRule, HostLine, HostWord, SatisfyLine } from './dir-config.js';

/** Name lookups of the client's address (the adapter's resolver: here /etc/hosts, no network). */
export interface HostNameLookup {
  /** The name an address maps back to (getnameinfo), if any. */
  nameOf(addr: string): string | undefined;
  /** The addresses a name has (getaddrinfo, any family). */
  addressesOf(name: string): readonly string[];
}

export interface AccessRequest {
  method: string;
  remoteAddr: string;
  env: ReadonlyMap<string, string>;
  /** The authenticated user, once authentication ran. */
  user?: string;
  /** That user's groups (AuthGroupFile). */
  groups?: readonly string[];
  /** What ap_expr reads of the request (`Require expr`, `host`, `forward-dns`); without it those refuse. */
  exprFacts?: () => ExprFacts;
  /** Request headers the expressions read (ap_expr adds them to Vary). */
  vary?: string[];
  /** For `Allow|Deny from NAME`, `Require host` and `Require forward-dns`; without it no name is known (none match). */
  hostNames?: HostNameLookup;
  /**
   * The client's name once looked up (conn->remote_host): kept for the request's later
   * lookups and for REMOTE_HOST; '' when the address has no name.
   */
  clientName?: { name?: string };
}

/** Rule trees that read more of the request than method, address and environment. */
const readsRequest = new WeakMap<AuthzRule, boolean>();

/**
 * Whether a rule tree has a `Require expr`, `host` or `forward-dns` line: only then does a
 * request need expression facts, a Vary list of its own and name lookups (made per request,
 * they showed in every request's time). Remembered per tree (a configuration's, shared).
 */
export function authzReadsRequest(root: AuthzRule): boolean {
  const known = readsRequest.get(root);
  if (known !== undefined) return known;
  let found = false;
  const todo: AuthzRule[] = [root];
  while (todo.length > 0 && !found) {
    const r = todo.pop()!;
    if (r.kind === 'group') todo.push(...r.rules);
    else found = r.provider === 'expr' || r.provider === 'host' || r.provider === 'forward-dns';
  }
  readsRequest.set(root, found);
  return found;
}

type AuthzResult = 'granted' | 'denied' | 'neutral' | 'denied-no-user';

function ipv4(addr: string): number[] | undefined {
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  const parts = a.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d+$/.test(p))) return undefined;
  return parts.map(Number);
}

/** `Require ip` / `Allow from` address match: full, partial (`10.1`), CIDR or netmask. */
export function ipMatches(spec: string, remote: string): boolean {
  const r = ipv4(remote);
  if (spec.includes(':')) return spec === remote;
  if (!r) return false;
  const [addr, mask] = spec.split('/', 2) as [string, string | undefined];
  const parts = addr
    .split('.')
    .filter((p) => p !== '')
    .map(Number);
  if (mask === undefined) return parts.every((p, i) => r[i] === p);
  const toInt = (x: number[]): number => ((x[0]! << 24) | (x[1]! << 16) | (x[2]! << 8) | x[3]!) >>> 0;
  const full = [...parts, 0, 0, 0, 0].slice(0, 4);
  const m = /^\d+$/.test(mask) ? (Number(mask) === 0 ? 0 : (0xffffffff << (32 - Number(mask))) >>> 0) : toInt(mask.split('.').map(Number));
  return (toInt(r) & m) >>> 0 === (toInt(full) & m) >>> 0;
}

/** `find_allowdeny`'s test of one line's words: a host name needs the client's double-reverse name (looked up once). */
function hostMatches(list: readonly HostWord[], req: AccessRequest): boolean {
  for (const w of list) {
    switch (w.kind) {
      case 'all':
        return true;
      case 'env':
        if (req.env.has(w.name) !== w.negate) return true;
        break;
      case 'ip':
        if (ipMatches(w.spec, req.remoteAddr)) return true;
        break;
      case 'host': {
        const name = doubleReverseName(req);
        if (name !== undefined && inDomain(w.domain, name)) return true;
        break;
      }
    }
  }
  return false;
}

/** Whether a line of a `<Limit>` (`!M`: `<LimitExcept>`) covers the request's method; HEAD counts as GET (M_GET). */
function limitCovers(methods: readonly string[] | undefined, method: string): boolean {
  if (!methods) return true;
  const m = method === 'HEAD' ? 'GET' : method;
  return methods.every((x) => x.startsWith('!')) ? !methods.some((x) => x.slice(1) === m) : methods.includes(m);
}

/** The first of `lines` for the request's method with a host word that matches the client (`find_allowdeny`). */
function matchingLine(lines: readonly HostLine[], req: AccessRequest): HostLine | undefined {
  for (const l of lines) if (limitCovers(l.methods, req.method) && hostMatches(l.hosts, req)) return l;
  return undefined;
}

/** The `Deny from` line of mod_access_compat that matches the client, if one does (for the request's story). */
export function accessCompatDenyingLine(c: AccessCompat, req: AccessRequest): HostLine | undefined {
  return matchingLine(c.deny, req);
}

/**
 * `access_compat_ap_satisfies`: satisfy[r->method_number], the last `Satisfy` line that covers
 * the method (HEAD is GET's); none, SATISFY_NOSPEC, counts as All.
 */
export function accessCompatSatisfy(c: AccessCompat | undefined, method: string): SatisfyLine | undefined {
  if (!c) return undefined;
  let satisfy = c.satisfy;
  for (const s of c.limitedSatisfy ?? []) if (limitCovers(s.methods, method)) satisfy = s;
  return satisfy;
}

/** mod_access_compat `check_dir_access`: true when the client is let through. */
export function accessCompatAllows(c: AccessCompat, req: AccessRequest): boolean {
  const allowed = matchingLine(c.allow, req) !== undefined;
  const denied = matchingLine(c.deny, req) !== undefined;
  let order = c.order;
  for (const o of c.limitedOrders ?? []) if (limitCovers(o.methods, req.method)) order = o.order;
  switch (order) {
    case 'deny,allow':
      return !denied || allowed;
    case 'allow,deny':
      return allowed && !denied;
    case 'mutual-failure':
      return allowed && !denied;
  }
}

type Group = Extract<AuthzRule, { kind: 'group' }>;
type Require = Extract<AuthzRule, { kind: 'require' }>;

/** A group's logic: `<RequireNone>` is Apache's negated OR section. */
const isAnd = (g: Group): boolean => g.op === 'all';

/**
 * `apply_authz_sections`' fold of a member's verdict into its group's: NEUTRAL members do not
 * count; in an AND group a DENIED ends it and DENIED_NO_USER wins over GRANTED; in an OR group
 * a GRANTED ends it and DENIED_NO_USER wins over DENIED. True when the group is settled.
 */
function fold(and: boolean, acc: AuthzResult, child: AuthzResult): { acc: AuthzResult; done: boolean } {
  if (child === 'neutral') return { acc, done: false };
  if (and) {
    if (child === 'denied') return { acc: 'denied', done: true };
    if ((child === 'denied-no-user' && acc !== 'denied') || acc === 'neutral') return { acc: child, done: false };
    return { acc, done: false };
  }
  if (child === 'granted') return { acc: 'granted', done: true };
  if ((child === 'denied-no-user' && acc === 'denied') || acc === 'neutral') return { acc: child, done: false };
  return { acc, done: false };
}

/** A negated line or `<RequireNone>`: a grant becomes a refusal, a refusal NEUTRAL (never a grant). */
function negated(r: AuthzResult): AuthzResult {
  return r === 'granted' ? 'denied' : r === 'denied' || r === 'denied-no-user' ? 'neutral' : r;
}

/** Whether a line of a `<Limit>` (`!M`: `<LimitExcept>`) covers the request's method (HEAD counts as GET). */
function requireCovers(rule: Require, method: string): boolean {
  return limitCovers(rule.methods, method);
}

/**
 * `apply_authz_sections`, bottom-up with an explicit stack: `<RequireAll>` may nest thousands
 * deep (Apache serves 10,000 levels), deeper than our call stack. A rule no line of which
 * covers the request's method (section->limited) gives GRANTED under an AND parent and NEUTRAL
 * under an OR one; the root's parent is AND (`authorize_user_core`).
 */
function evalRule(root: AuthzRule, req: AccessRequest, parentAnd = true): AuthzResult {
  const limitedOut = (and: boolean): AuthzResult => (and ? 'granted' : 'neutral');
  if (root.kind !== 'group') return requireCovers(root, req.method) ? evalRequire(root, req) : limitedOut(parentAnd);
  // skip: an enclosing group is already settled; its later members are walked for `covered` only.
  type Frame = { group: Group; parentAnd: boolean; next: number; acc: AuthzResult; done: boolean; covered: boolean; skip: boolean };
  const stack: Frame[] = [{ group: root, parentAnd, next: 0, acc: 'neutral', done: false, covered: false, skip: false }];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.group.rules.length) {
      const r = top.group.rules[top.next++]!;
      if (r.kind === 'group') {
        stack.push({ group: r, parentAnd: isAnd(top.group), next: 0, acc: 'neutral', done: false, covered: false, skip: top.skip || top.done });
        continue;
      }
      if (!requireCovers(r, req.method)) {
        if (!top.done) ({ acc: top.acc, done: top.done } = fold(isAnd(top.group), top.acc, limitedOut(isAnd(top.group))));
        continue;
      }
      top.covered = true;
      // Apache stops at a settling member; later ones are not asked (their lookups not made).
      if (!top.done && !top.skip) ({ acc: top.acc, done: top.done } = fold(isAnd(top.group), top.acc, evalRequire(r, req)));
      continue;
    }
    stack.pop();
    const verdict = !top.covered ? limitedOut(top.parentAnd) : top.group.op === 'none' ? negated(top.acc) : top.acc;
    if (stack.length === 0) return verdict;
    const parent = stack[stack.length - 1]!;
    if (top.covered) parent.covered = true;
    if (!parent.done) ({ acc: parent.acc, done: parent.done } = fold(isAnd(parent.group), parent.acc, verdict));
  }
}

/** `in_domain`: the name is the domain, or ends in `.domain` (a domain written `.x` matches any name ending so). */
export function inDomain(domain: string, name: string): boolean {
  const d = domain.toLowerCase();
  const n = name.toLowerCase();
  if (n.length < d.length || !n.endsWith(d)) return false;
  return n.length === d.length || d.startsWith('.') || n[n.length - d.length - 1] === '.';
}

/** Addresses compared as apr_sockaddr_equal does: an IPv4-mapped IPv6 address is its IPv4 one. */
function sameAddress(a: string, b: string): boolean {
  const plain = (x: string): string => (x.toLowerCase().startsWith('::ffff:') && x.includes('.') ? x.slice(7) : x.toLowerCase());
  return plain(a) === plain(b);
}

/**
 * `ap_get_useragent_host(r, REMOTE_DOUBLE_REV)`: the client's name when its address maps to a
 * name that maps back to the address; undefined otherwise (the check then logs AH01753).
 */
function doubleReverseName(req: AccessRequest): string | undefined {
  if (!req.hostNames) return undefined;
  const memo = req.clientName ?? {};
  // ap_get_remote_host: the reverse name, lower-cased, is kept even when the double check fails.
  memo.name ??= req.hostNames.nameOf(req.remoteAddr)?.toLowerCase() ?? '';
  const name = memo.name;
  if (name === '') return undefined;
  return req.hostNames.addressesOf(name).some((a) => sameAddress(a, req.remoteAddr)) ? name : undefined;
}

/** The names of a `host`/`forward-dns` line: its string expression evaluated, up to a `#` (a comment). */
function requiredNames(rule: Require, req: AccessRequest): string[] {
  let text = rule.names && req.exprFacts ? evaluateApExprString(rule.names, req.exprFacts()) : '';
  const hash = text.indexOf('#');
  if (hash !== -1) text = text.slice(0, hash);
  const names: string[] = [];
  for (let w = getWordConf(text, 0); w.value !== ''; w = getWordConf(text, w.next)) names.push(w.value);
  return names;
}

function evalRequire(rule: Require, req: AccessRequest): AuthzResult {
  let result: AuthzResult;
  switch (rule.provider) {
    case 'all':
      result = rule.args[0]?.toLowerCase() === 'granted' ? 'granted' : 'denied';
      break;
    case 'ip':
      result = rule.args.some((a) => ipMatches(a, req.remoteAddr)) ? 'granted' : 'denied';
      break;
    case 'local':
      result = /^(127\.|::1$|::ffff:127\.)/.test(req.remoteAddr) ? 'granted' : 'denied';
      break;
    case 'env':
      result = rule.args.some((a) => req.env.has(a)) ? 'granted' : 'denied';
      break;
    case 'method':
      result = rule.args.includes(req.method) || (req.method === 'HEAD' && rule.args.includes('GET')) ? 'granted' : 'denied';
      break;
    case 'expr': {
      // expr_check_authorization: false is DENIED_NO_USER when the expression reads REMOTE_USER.
      const ok = rule.expr !== undefined && req.exprFacts !== undefined && evaluateApExpr(rule.expr.expr, req.exprFacts(), req.vary);
      result = ok ? 'granted' : rule.expr?.wantUser ? 'denied-no-user' : 'denied';
      break;
    }
    case 'host': {
      // host_check_authorization: a name only through a double-reverse lookup.
      const name = doubleReverseName(req);
      result = name !== undefined && requiredNames(rule, req).some((d) => inDomain(d, name)) ? 'granted' : 'denied';
      break;
    }
    case 'forward-dns': {
      // forward_dns_check_authorization: any address of a listed name is the client's.
      const names = requiredNames(rule, req);
      result = names.some((n) => req.hostNames?.addressesOf(n).some((a) => sameAddress(a, req.remoteAddr))) ? 'granted' : 'denied';
      break;
    }
    case 'valid-user':
      result = req.user !== undefined ? 'granted' : 'denied-no-user';
      break;
    case 'user':
      result = req.user === undefined ? 'denied-no-user' : rule.args.includes(req.user) ? 'granted' : 'denied';
      break;
    case 'group':
      result = req.user === undefined ? 'denied-no-user' : rule.args.some((g) => req.groups?.includes(g)) ? 'granted' : 'denied';
      break;
    default:
      result = 'denied-no-user';
  }
  return rule.negate ? negated(result) : result;
}

/** `authorize_user`: the verdict once a user is known. */
export function authorizeUser(rule: AuthzRule | undefined, req: AccessRequest): AuthzResult {
  if (!rule) return 'granted';
  const r = evalRule(rule, req);
  return r === 'neutral' ? 'denied' : r;
}

/**
 * `authorize_userless`: the verdict before any authentication, reached as `authorize_user`'s
 * is; only what the caller makes of DENIED_NO_USER differs (authenticate first, not 401).
 */
export const authorizeWithoutUser: (rule: AuthzRule | undefined, req: AccessRequest) => AuthzResult = authorizeUser;

/** How deep `decidingRequire` looks into nested `<Require…>` groups (a story, not a verdict). */
const DECIDING_DEPTH = 64;

/**
 * The `Require` line that settled `verdict` (asked only when the request's story is told): in
 * a group, the first member whose own verdict the group passed on (for `<RequireNone>`, the
 * member whose grant it turned into a refusal, or whose refusal into a grant). Undefined when
 * no single line did (no Require lines for this method, or nesting too deep to follow).
 */
export function decidingRequire(root: AuthzRule | undefined, req: AccessRequest): Extract<AuthzRule, { kind: 'require' }> | undefined {
  let rule = root;
  for (let depth = 0; rule !== undefined && depth < DECIDING_DEPTH; depth++) {
    if (rule.kind === 'require') return rule;
    const verdict = evalRule(rule, req);
    const wanted: readonly AuthzResult[] = rule.op !== 'none' ? [verdict] : verdict === 'denied' ? ['granted'] : ['denied', 'denied-no-user'];
    const and = rule.op === 'all';
    rule = rule.rules.find((r) => wanted.includes(evalRule(r, req, and)));
  }
  return undefined;
}

/** A `Require` line as written (its provider and arguments), for the request's story. */
export function requireLine(rule: Extract<AuthzRule, { kind: 'require' }>): string {
  return ['Require', ...(rule.negate ? ['not'] : []), rule.provider, ...rule.args].join(' ');
}
