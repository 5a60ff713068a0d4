/**
 * mod_access_compat (modules/aaa/mod_access_compat.c): `Order`, `Allow from`, `Deny from` and
 * `Satisfy`, checked as `order`, `allow_cmd` and `satisfy` do, merged per directory. Its
 * access_checker hook (`check_dir_access`) is the engine's (`accessCompatAllows`,
 * src/engine/access.ts); each line keeps where it is written, so a request's story names the
 * line that refused it.
 */
import { ipSubnetProblem } from '../grammar/directive-validators.js';
import { finding, refused, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type DirectiveInput, type LineSource, type ModuleDefinition } from './module.js';

/**
 * One word after `Allow from` / `Deny from`, classified once as `allow_cmd` does (a->type):
 * `env=!X` (T_NENV), `env=X` (T_ENV), `all`, an address or network (T_IP, as written), or
 * else a host name or domain (T_HOST), which needs the client's double-reverse name.
 */
export type HostWord = { kind: 'all' } | { kind: 'env'; name: string; negate: boolean } | { kind: 'ip'; spec: string } | { kind: 'host'; domain: string };

/** One `Allow from` or `Deny from` line: its host words (after `from`) and its place. */
export interface HostLine {
  hosts: readonly HostWord[];
  source?: LineSource;
  /** The methods of the `<Limit>` it is written in (`!M`: `<LimitExcept>`), allow_cmd's a->limited; none: every method. */
  methods?: readonly string[];
}

/** mod_access_compat's state (replaced wholesale by any level that sets Order, Allow or Deny). */
export interface AccessCompat {
  order: 'deny,allow' | 'allow,deny' | 'mutual-failure';
  /** Where the level's `Order` line is written; undefined: the default order. */
  orderSource?: LineSource;
  allow: readonly HostLine[];
  deny: readonly HostLine[];
  /**
   * `Order` lines written inside `<Limit>` since the last one outside (which set `order` for
   * every method): the last that covers a method decides its order (`order()` sets order[m]).
   */
  limitedOrders?: readonly { order: AccessCompat['order']; methods: readonly string[] }[];
  /** The last `Satisfy` outside `<Limit>` (it set satisfy[m] for every method); none: all. */
  satisfy?: SatisfyLine;
  /** `Satisfy` lines inside `<Limit>` since that one: the last that covers a method decides it. */
  limitedSatisfy?: readonly SatisfyLine[];
}

/** One `Satisfy` line: `Any` (either access control or authorization lets the request in) or `All`. */
export interface SatisfyLine {
  any: boolean;
  source?: LineSource;
  /** The methods of the `<Limit>` it is written in (`!M`: `<LimitExcept>`). */
  methods?: readonly string[];
}

/** mod_access_compat's slice of the per-directory configuration. */
export interface AccessCompatDirConfig {
  accessCompat: AccessCompat | undefined;
}

/** `order`: one of the three orders. */
function orderFinding({ words }: DirectiveInput): DirectiveFinding | undefined {
  const w = (words[0] ?? '').toLowerCase();
  return ['allow,deny', 'deny,allow', 'mutual-failure'].includes(w) ? undefined : finding('unknown order');
}

/** `allow_cmd`: what follows `from`, word by word, or Apache's error for the line. */
function hostWords({ words }: DirectiveInput): HostWord[] | DirectiveFinding {
  if ((words[0] ?? '').toLowerCase() !== 'from') return finding("allow and deny must be followed by 'from'");
  const out: HostWord[] = [];
  for (const w of words.slice(1)) {
    if (w.startsWith('#')) return finding('No comments are allowed here');
    const lower = w.toLowerCase();
    if (lower.startsWith('env=!')) out.push({ kind: 'env', name: w.slice(5), negate: true });
    else if (lower.startsWith('env=')) out.push({ kind: 'env', name: w.slice(4), negate: false });
    else if (lower === 'all') out.push({ kind: 'all' });
    else {
      const slash = w.indexOf('/');
      const problem = slash === -1 ? ipSubnetProblem(w, undefined) : ipSubnetProblem(w.slice(0, slash), w.slice(slash + 1));
      if (problem === 'einval') {
        if (slash !== -1) return finding('An IP address was expected');
        out.push({ kind: 'host', domain: w });
      } else if (problem !== undefined) return finding(problem);
      else out.push({ kind: 'ip', spec: w });
    }
  }
  return out;
}

/** `satisfy`: all or any. */
function satisfyFinding({ words }: DirectiveInput): DirectiveFinding | undefined {
  const w = (words[0] ?? '').toLowerCase();
  return w === 'all' || w === 'any' ? undefined : finding("Satisfy either 'any' or 'all'.");
}

type CompatLine = { kind: 'order'; order: AccessCompat['order'] } | { kind: 'allow' | 'deny'; hosts: readonly HostWord[] } | { kind: 'satisfy'; any: boolean };

const orderDirective: DirectiveDefinition<CompatLine> = {
  name: 'order',
  shape: 'TAKE1',
  override: 'OR_LIMIT',
  help: "'allow,deny', 'deny,allow', or 'mutual-failure'",
  compile: (input) => {
    const f = orderFinding(input);
    return f ? refused(f) : { findings: [], value: { kind: 'order', order: (input.words[0] ?? '').toLowerCase() as AccessCompat['order'] } };
  },
};

function hostDirective(name: 'allow' | 'deny'): DirectiveDefinition<CompatLine> {
  return {
    name,
    shape: 'ITERATE2',
    override: 'OR_LIMIT',
    help: "'from' followed by hostnames or IP-address wildcards",
    compile: (input) => {
      const hosts = hostWords(input);
      return Array.isArray(hosts) ? { findings: [], value: { kind: name, hosts } } : refused(hosts);
    },
  };
}

const satisfyDirective: DirectiveDefinition<CompatLine> = {
  name: 'Satisfy',
  shape: 'TAKE1',
  override: 'OR_AUTHCFG',
  help: "access policy if both allow and require used ('all' or 'any')",
  compile: (input) => {
    const f = satisfyFinding(input);
    return f ? refused(f) : { findings: [], value: { kind: 'satisfy', any: (input.words[0] ?? '').toLowerCase() === 'any' } };
  },
};

/**
 * mod_access_compat has no merger ("default is to override"): a level with any of its lines
 * (Order, Allow, Deny or Satisfy) replaces the inherited state whole, Satisfy included. Order
 * and Satisfy are kept per method (order[m], satisfy[m]): a line outside `<Limit>` sets every
 * method, one inside sets the methods of its `<Limit>`.
 */
function mergeAccessCompat(_base: Readonly<AccessCompatDirConfig>, lines: readonly CompiledLine[]): Partial<AccessCompatDirConfig> {
  let compat:
    | {
        order: AccessCompat['order'];
        orderSource?: LineSource;
        allow: HostLine[];
        deny: HostLine[];
        limitedOrders?: { order: AccessCompat['order']; methods: readonly string[] }[];
        satisfy?: SatisfyLine;
        limitedSatisfy?: SatisfyLine[];
      }
    | undefined;
  for (const l of lines) {
    const line = l.value as CompatLine;
    compat ??= { order: 'deny,allow', allow: [], deny: [] };
    if (line.kind === 'satisfy') {
      const satisfy: SatisfyLine = { any: line.any, ...(l.source ? { source: l.source } : {}) };
      if (l.methods) (compat.limitedSatisfy ??= []).push({ ...satisfy, methods: l.methods });
      else {
        compat.satisfy = satisfy;
        delete compat.limitedSatisfy;
      }
    } else if (line.kind === 'order' && l.methods) (compat.limitedOrders ??= []).push({ order: line.order, methods: l.methods });
    else if (line.kind === 'order') {
      compat.order = line.order;
      if (l.source) compat.orderSource = l.source;
      delete compat.limitedOrders;
    } else {
      const host: HostLine = { hosts: line.hosts };
      if (l.source) host.source = l.source;
      if (l.methods) host.methods = l.methods;
      (line.kind === 'allow' ? compat.allow : compat.deny).push(host);
    }
  }
  return compat ? { accessCompat: compat } : {};
}

/** mod_access_compat as Apache loads it. */
export const accessCompatModule: ModuleDefinition<AccessCompatDirConfig> = {
  name: 'access_compat',
  directives: [orderDirective, hostDirective('allow'), hostDirective('deny'), satisfyDirective],
  dirConfig: { empty: { accessCompat: undefined }, merge: mergeAccessCompat },
  hooks: { access_checker: 'accessCompatAllows' },
};
