/** Access control without a user: mod_access_compat's Order/Allow/Deny and mod_authz_core's Require. Pure. */
import type { AccessCompat, AuthzRule, HostLine, SatisfyLine } from './dir-config.js';

export interface AccessRequest {
  method: string;
  remoteAddr: string;
  env: ReadonlyMap<string, string>;
  /** The authenticated user, once authentication ran. */
  user?: string;
  /** That user's groups (AuthGroupFile). */
  groups?: readonly string[];
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
  if (spec.includes(':')) return spec === remote || (spec === '::1' && remote === '::1');
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

function hostMatches(list: readonly string[], req: AccessRequest): boolean {
  return list.some((w) => {
    const l = w.toLowerCase();
    if (l === 'all') return true;
    if (l.startsWith('env=')) {
      const name = w.slice(4);
      return name.startsWith('!') ? !req.env.has(name.slice(1)) : req.env.has(name);
    }
    if (/^[\d./]+$/.test(w) || w.includes(':')) return ipMatches(w, req.remoteAddr);
    return false; // host names: no reverse DNS (HostnameLookups Off)
  });
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

/** A group's verdict from its members' (`authz_core_check_section`'s logic). */
function combine(op: 'all' | 'any' | 'none', results: readonly AuthzResult[]): AuthzResult {
  if (op === 'all') {
    if (results.some((r) => r === 'denied')) return 'denied';
    if (results.some((r) => r === 'denied-no-user')) return 'denied-no-user';
    return results.some((r) => r === 'granted') ? 'granted' : 'neutral';
  }
  if (op === 'any') {
    if (results.some((r) => r === 'granted')) return 'granted';
    if (results.some((r) => r === 'denied-no-user')) return 'denied-no-user';
    return results.some((r) => r === 'denied') ? 'denied' : 'neutral';
  }
  // none: granted if nothing granted
  if (results.some((r) => r === 'granted')) return 'denied';
  return results.some((r) => r === 'denied' || r === 'denied-no-user') ? 'granted' : 'neutral';
}

/**
 * Evaluates a rule tree bottom-up with an explicit stack: `<RequireAll>` may nest thousands
 * deep (Apache serves 10,000 levels), deeper than our call stack.
 */
function evalRule(root: AuthzRule, req: AccessRequest): AuthzResult {
  type Frame = { group: Extract<AuthzRule, { kind: 'group' }>; next: number; results: AuthzResult[] };
  if (root.kind !== 'group') return evalRequire(root, req);
  const stack: Frame[] = [{ group: root, next: 0, results: [] }];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.group.rules.length) {
      const r = top.group.rules[top.next++]!;
      if (r.kind === 'group') stack.push({ group: r, next: 0, results: [] });
      else top.results.push(evalRequire(r, req));
      continue;
    }
    const verdict = combine(top.group.op, top.results);
    stack.pop();
    if (stack.length === 0) return verdict;
    stack[stack.length - 1]!.results.push(verdict);
  }
}

function evalRequire(rule: Extract<AuthzRule, { kind: 'require' }>, req: AccessRequest): AuthzResult {
  if (rule.methods) {
    const applies = rule.methods.some((m) => (m.startsWith('!') ? m.slice(1) !== req.method : m === req.method || (m === 'GET' && req.method === 'HEAD')));
    const negated = rule.methods.every((m) => m.startsWith('!'));
    const limitApplies = negated ? !rule.methods.some((m) => m.slice(1) === req.method || (m === '!GET' && req.method === 'HEAD')) : applies;
    if (!limitApplies) return 'neutral';
  }
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
    case 'host':
    case 'forward-dns':
      result = 'denied';
      break;
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
  if (rule.negate) {
    if (result === 'granted') return 'denied';
    if (result === 'denied') return 'neutral';
  }
  return result;
}

/** `authorize_user`: the verdict once a user is known. */
export function authorizeUser(rule: AuthzRule | undefined, req: AccessRequest): AuthzResult {
  if (!rule || !appliesToMethod(rule, req.method)) return 'granted';
  const r = evalRule(rule, req);
  return r === 'neutral' ? 'denied' : r;
}

/** `authorize_userless`: the verdict before any authentication. */
export function authorizeWithoutUser(rule: AuthzRule | undefined, req: AccessRequest): AuthzResult {
  if (!rule || !appliesToMethod(rule, req.method)) return 'granted';
  const r = evalRule(rule, req);
  return r === 'neutral' ? 'denied' : r;
}

/** False when every Require line is inside a <Limit>/<LimitExcept> that excludes this method. */
function appliesToMethod(root: AuthzRule, method: string): boolean {
  const m = method === 'HEAD' ? 'GET' : method;
  const todo: AuthzRule[] = [root];
  while (todo.length > 0) {
    const rule = todo.pop()!;
    if (rule.kind === 'group') {
      for (const r of rule.rules) todo.push(r);
      continue;
    }
    if (!rule.methods) return true;
    const negated = rule.methods.every((x) => x.startsWith('!'));
    if (negated ? !rule.methods.some((x) => x.slice(1) === m) : rule.methods.includes(m)) return true;
  }
  return false;
}

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
    rule = rule.rules.find((r) => wanted.includes(evalRule(r, req)));
  }
  return undefined;
}

/** A `Require` line as written (its provider and arguments), for the request's story. */
export function requireLine(rule: Extract<AuthzRule, { kind: 'require' }>): string {
  return ['Require', ...(rule.negate ? ['not'] : []), rule.provider, ...rule.args].join(' ');
}
