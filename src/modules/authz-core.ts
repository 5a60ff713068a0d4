/**
 * mod_authz_core (modules/aaa/mod_authz_core.c): `Require` and the `<RequireAll>`,
 * `<RequireAny>`, `<RequireNone>` containers, compiled into one rule tree per level (the
 * level's lines form an implicit `<RequireAny>`, as `create_default_section` makes it) and
 * merged as `merge_authz_core_dir_config` does (`AuthMerging`). Its check_authz hook is the
 * engine's (`authorizeWithoutUser` / `authorizeUser`, src/engine/access.ts), which also asks
 * its own providers (`all`, `env`, `method`, `expr`), those of mod_authz_host (`ip`, `local`,
 * `host`, `forward-dns`), mod_authz_user (`user`, `valid-user`) and mod_authz_groupfile
 * (`group`). Each `Require` keeps where it is written, for the request's story.
 *
 * `<RequireNotAll>` is not here: Apache registers it only when built with
 * AUTHZ_EXTRA_CONFIGS, which Debian's (and the Scripts host's) build is not, so it is an
 * invalid command there.
 */
import type { Expr, Word } from '../grammar/ap-expr.js';
import { parseRequire } from '../grammar/directive-validators.js';
import type { ConfigNode } from '../grammar/syntax-tree.js';
import { splitWords } from '../grammar/words.js';
import { finding, refused, type CompiledLine, type DirectiveDefinition, type LineSource, type ModuleDefinition, parsedOnly } from './module.js';

/** One `Require` line as compiled: its provider, arguments, the methods of an enclosing `<Limit>`, its place. */
export interface RequireRule {
  kind: 'require';
  negate: boolean;
  provider: string;
  args: string[];
  /** `Require expr`: the parsed expression, and whether it reads REMOTE_USER (`expr_lookup_fn`'s want_user). */
  expr?: { expr: Expr; wantUser: boolean };
  /** `Require host` / `forward-dns`: the names, a string expression evaluated per request. */
  names?: Word;
  methods?: readonly string[];
  source?: LineSource;
}

/**
 * A `<RequireAll|Any|None>` group (`none` is Apache's negated OR section), or two levels'
 * rules joined by `AuthMerging And|Or` (`merged`).
 */
export interface AuthzGroup {
  kind: 'group';
  op: 'all' | 'any' | 'none';
  rules: AuthzRule[];
  merged?: true;
}

/** One `Require` line, or a group of them. */
export type AuthzRule = RequireRule | AuthzGroup;

/** How a level's rules combine with the inherited ones (`AuthMerging`). */
export type AuthMerging = 'off' | 'and' | 'or';

/** What a level of `levelRules` gives: its rules, and its AuthMerging and AuthzSendForbiddenOnFailure lines. */
export type AuthzLine = AuthzRule | { kind: 'merging'; op: AuthMerging } | { kind: 'forbidden-on-failure'; on: boolean };

/** mod_authz_core's slice of the per-directory configuration. */
export interface AuthzDirConfig {
  /** Implicit RequireAny of the lines at the level that set them; undefined: none configured. */
  authz: AuthzRule | undefined;
  /** `AuthzSendForbiddenOnFailure On`: a refused authenticated user gets 403, not 401. */
  forbiddenOnFailure: boolean;
}

/** `add_authz_provider`'s check (via parseRequire): the provider must be loaded, its arguments sound. */
const requireDirective: DirectiveDefinition<RequireRule> = {
  name: 'Require',
  shape: 'RAW_ARGS',
  override: 'OR_AUTHCFG',
  help: 'specifies authorization directives which one must pass (or not) for a request to suceeed',
  compile: ({ rawArgs, hasModule }) => {
    const r = parseRequire(rawArgs, hasModule);
    if ('error' in r) return refused(finding(r.error));
    const value: RequireRule = { kind: 'require', negate: r.negate, provider: r.provider, args: r.args };
    if (r.expr) value.expr = { expr: r.expr, wantUser: readsRemoteUser(r.expr) };
    if (r.names) value.names = r.names;
    return { findings: [], value };
  },
};

/** Whether an expression reads the variable REMOTE_USER (`expr_lookup_fn`: a user must be known first). */
function readsRemoteUser(root: Expr): boolean {
  const words: Word[] = [];
  const exprs: Expr[] = [root];
  while (exprs.length > 0) {
    const e = exprs.pop()!;
    switch (e.kind) {
      case 'not':
        exprs.push(e.e);
        break;
      case 'and':
      case 'or':
        exprs.push(e.a, e.b);
        break;
      case 'compare':
      case 'binary':
        words.push(e.a, e.b);
        break;
      case 'in':
        words.push(e.a, ...e.list);
        break;
      case 'regex':
      case 'unary':
        words.push(e.a);
        break;
    }
  }
  while (words.length > 0) {
    const w = words.pop()!;
    if (w.kind === 'var' && w.name.toUpperCase() === 'REMOTE_USER') return true;
    if (w.kind === 'func') words.push(w.arg);
    else if (w.kind === 'concat') words.push(...w.parts);
  }
  return false;
}

/** `authz_merge_sections`. */
const authMergingDirective: DirectiveDefinition<AuthzLine> = {
  name: 'AuthMerging',
  shape: 'TAKE1',
  override: 'OR_AUTHCFG',
  help: "controls how a <Directory>, <Location>, or similar directive's authorization directives are combined with those of its predecessor",
  compile: ({ words }) => {
    const op = (words[0] ?? '').toLowerCase();
    return op === 'off' || op === 'and' || op === 'or' ? { findings: [], value: { kind: 'merging', op } } : refused(finding('AuthMerging must be one of: Off | And | Or'));
  },
};

/** `ap_set_flag_slot_char` on authz_forbidden_on_fail. */
const forbiddenOnFailureDirective: DirectiveDefinition<AuthzLine> = {
  name: 'AuthzSendForbiddenOnFailure',
  shape: 'FLAG',
  override: 'OR_AUTHCFG',
  help: "Controls if an authorization failure should result in a '403 FORBIDDEN' response instead of the HTTP-conforming '401 UNAUTHORIZED'",
  compile: ({ words }) => ({ findings: [], value: { kind: 'forbidden-on-failure', on: (words[0] ?? '').toLowerCase() === 'on' } }),
};

/** A container or directive whose body `validate.ts` checks and whose lines `levelRules` reads. */
function section(name: string, help: string): DirectiveDefinition<never> {
  return { name, shape: 'RAW_ARGS', override: 'OR_AUTHCFG', help, compile: () => ({ findings: [], value: undefined }) };
}

const GROUP_OPS: Readonly<Record<string, 'all' | 'any' | 'none'>> = { '<requireall': 'all', '<requireany': 'any', '<requirenone': 'none' };
const SPLICED = new Set(['<ifmodule', '<ifdefine', '<ifversion']);

/**
 * A level's `Require` lines as rules, `<Require…>` groups nested, `<Limit>` bodies tagged with
 * their methods; a line its compile refuses is left out. An explicit stack, not recursion: a
 * file may nest thousands deep.
 */
export function levelRules(nodes: readonly ConfigNode[], hasModule: (m: string) => boolean): CompiledLine<AuthzLine>[] {
  const top: CompiledLine<AuthzLine>[] = [];
  type Task = { nodes: readonly ConfigNode[]; i: number; out: AuthzRule[] | undefined; methods: readonly string[] | undefined };
  const stack: Task[] = [{ nodes, i: 0, out: undefined, methods: undefined }];
  const emit = (out: AuthzRule[] | undefined, rule: AuthzRule, key: string): void => {
    if (out) out.push(rule);
    else top.push(rule.kind === 'require' && rule.source ? { key, value: rule, source: rule.source } : { key, value: rule });
  };
  while (stack.length > 0) {
    const task = stack[stack.length - 1]!;
    if (task.i >= task.nodes.length) {
      stack.pop();
      continue;
    }
    const n = task.nodes[task.i++]!;
    const { out, methods } = task;
    if (n.kind === 'directive' && n.key === 'require') {
      const { value } = requireDirective.compile({ words: [], rawArgs: n.rawArgs, kind: 'htaccess', overrideOpts: 0xffff, hasModule });
      if (value) emit(out, { ...value, ...(methods ? { methods } : {}), source: { file: n.file, line: n.line } }, n.key);
    } else if (n.kind === 'directive' && (n.key === 'authmerging' || n.key === 'authzsendforbiddenonfailure')) {
      // Set on the level wherever written (inside a <Require…> or <Limit> too: same per-directory config).
      const directive = n.key === 'authmerging' ? authMergingDirective : forbiddenOnFailureDirective;
      const { value } = directive.compile({ words: splitWords(n.rawArgs).map((w) => w.value), rawArgs: n.rawArgs, kind: 'htaccess', overrideOpts: 0xffff, hasModule });
      if (value) top.push({ key: n.key, value, source: { file: n.file, line: n.line } });
    } else if (n.kind === 'section' && GROUP_OPS[n.key] !== undefined) {
      const rules: AuthzRule[] = [];
      emit(out, { kind: 'group', op: GROUP_OPS[n.key]!, rules }, n.key);
      stack.push({ nodes: n.children, i: 0, out: rules, methods });
    } else if (n.kind === 'section' && (n.key === '<limit' || n.key === '<limitexcept')) {
      const listed = splitWords(n.rawArgs.slice(0, Math.max(0, n.rawArgs.lastIndexOf('>')))).map((w) => w.value);
      const inner = n.key === '<limit' ? listed : listed.map((m) => `!${m}`);
      stack.push({ nodes: n.children, i: 0, out, methods: inner });
    } else if (n.kind === 'section' && n.active && SPLICED.has(n.key)) {
      stack.push({ nodes: n.children, i: 0, out, methods });
    }
  }
  return top;
}

/**
 * `merge_authz_core_dir_config`: a level without `AuthMerging` (or with `Off`) that has
 * `Require` lines replaces the inherited rules, and `AuthMerging Off` alone drops them; with
 * `And`/`Or`, the inherited rules and the level's are joined as a RequireAll/RequireAny of the
 * two (either alone when the other is missing). The merging mode is the level's own, never
 * inherited; `AuthzSendForbiddenOnFailure` is inherited unless the level sets it.
 */
function mergeAuthz(base: Readonly<AuthzDirConfig>, lines: readonly CompiledLine[]): Partial<AuthzDirConfig> {
  const rules: AuthzRule[] = [];
  let op: AuthMerging | undefined;
  let forbidden: boolean | undefined;
  for (const { value } of lines as readonly CompiledLine<AuthzLine>[]) {
    if (value.kind === 'merging') op = value.op;
    else if (value.kind === 'forbidden-on-failure') forbidden = value.on;
    else rules.push(value);
  }
  const own: AuthzRule | undefined = rules.length > 0 ? { kind: 'group', op: 'any', rules } : undefined;
  const out: Partial<AuthzDirConfig> = forbidden === undefined ? {} : { forbiddenOnFailure: forbidden };
  if (op === undefined) {
    if (own) out.authz = own;
  } else if (op === 'off') out.authz = own;
  else if (base.authz && own) out.authz = { kind: 'group', op: op === 'and' ? 'all' : 'any', rules: [base.authz, own], merged: true };
  else if (own) out.authz = own;
  return out;
}

/** mod_authz_core as Apache loads it. */
export const authzCoreModule: ModuleDefinition<AuthzDirConfig> = {
  name: 'authz_core',
  directives: [
    {
      ...parsedOnly('<AuthzProviderAlias', 'RAW_ARGS', 'RSRC_CONF', "container for grouping an authorization provider's directives under a provider alias"),
    },
    requireDirective,
    section('<RequireAll', 'container for grouping authorization directives of which none must fail and at least one must pass for a request to succeed'),
    section('<RequireAny', 'container for grouping authorization directives of which one must pass for a request to succeed'),
    section('<RequireNone', 'container for grouping authorization directives of which none must pass for a request to succeed'),
    authMergingDirective,
    forbiddenOnFailureDirective,
  ],
  dirConfig: { empty: { authz: undefined, forbiddenOnFailure: false }, merge: mergeAuthz },
  levelLines: levelRules,
  hooks: { check_authz: 'authorizeWithoutUser' },
};
