/**
 * mod_authz_core (modules/aaa/mod_authz_core.c): `Require` and the `<RequireAll>`,
 * `<RequireAny>`, `<RequireNone>` containers, compiled into one rule tree per level (the
 * level's lines form an implicit `<RequireAny>`, as `authz_core_dir_config`'s section does) and
 * merged by replacement. Its check_authz hook is the engine's (`authorizeWithoutUser` /
 * `authorizeUser`, src/engine/access.ts), which also asks the providers of mod_authz_host
 * (`ip`, `local`, `host`), mod_authz_user (`user`, `valid-user`) and mod_authz_groupfile
 * (`group`). Each `Require` keeps where it is written, for the request's story.
 */
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
  methods?: readonly string[];
  source?: LineSource;
}

/** One `Require` line, or a `<RequireAll|Any|None>` group. */
export type AuthzRule = RequireRule | { kind: 'group'; op: 'all' | 'any' | 'none'; rules: AuthzRule[] };

/** mod_authz_core's slice of the per-directory configuration. */
export interface AuthzDirConfig {
  /** Implicit RequireAny of the lines at the level that set them; undefined: none configured. */
  authz: AuthzRule | undefined;
}

/** `add_authz_provider`'s check (via parseRequire): the provider must be loaded, its arguments sound. */
const requireDirective: DirectiveDefinition<RequireRule> = {
  name: 'Require',
  shape: 'RAW_ARGS',
  override: 'OR_AUTHCFG',
  help: 'specifies authorization directives which one must pass (or not) for a request to suceeed',
  compile: ({ rawArgs, hasModule }) => {
    const r = parseRequire(rawArgs, hasModule);
    return 'error' in r ? refused(finding(r.error)) : { findings: [], value: { kind: 'require', negate: r.negate, provider: r.provider, args: r.args } };
  },
};

/** A container or directive whose body `validate.ts` checks and whose lines `levelRules` reads. */
function section(name: string, help: string, parsedOnly?: true): DirectiveDefinition<never> {
  return { name, shape: 'RAW_ARGS', override: 'OR_AUTHCFG', help, compile: () => ({ findings: [], value: undefined }), ...(parsedOnly ? { parsedOnly } : {}) };
}

const GROUP_OPS: Readonly<Record<string, 'all' | 'any' | 'none'>> = { '<requireall': 'all', '<requireany': 'any', '<requirenone': 'none' };
const SPLICED = new Set(['<ifmodule', '<ifdefine', '<ifversion']);

/**
 * A level's `Require` lines as rules, `<Require…>` groups nested, `<Limit>` bodies tagged with
 * their methods; a line its compile refuses is left out. An explicit stack, not recursion: a
 * file may nest thousands deep.
 */
export function levelRules(nodes: readonly ConfigNode[], hasModule: (m: string) => boolean): CompiledLine<AuthzRule>[] {
  const top: CompiledLine<AuthzRule>[] = [];
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

/** A level with `Require` lines replaces the inherited rules (AuthMerging Off, the default). */
function mergeAuthz(_base: Readonly<AuthzDirConfig>, lines: readonly CompiledLine[]): Partial<AuthzDirConfig> {
  return lines.length > 0 ? { authz: { kind: 'group', op: 'any', rules: lines.map((l) => l.value as AuthzRule) } } : {};
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
    section('<RequireNotAll', 'container for grouping authorization directives of which some must fail or none must pass for a request to succeed', true),
    section('<RequireNone', 'container for grouping authorization directives of which none must pass for a request to succeed'),
    parsedOnly(
      'AuthMerging',
      'TAKE1',
      'OR_AUTHCFG',
      "controls how a <Directory>, <Location>, or similar directive's authorization directives are combined with those of its predecessor",
    ),
    parsedOnly(
      'AuthzSendForbiddenOnFailure',
      'FLAG',
      'OR_AUTHCFG',
      "Controls if an authorization failure should result in a '403 FORBIDDEN' response instead of the HTTP-conforming '401 UNAUTHORIZED'",
    ),
  ],
  dirConfig: { empty: { authz: undefined }, merge: mergeAuthz },
  levelLines: levelRules,
  hooks: { check_authz: 'authorizeWithoutUser' },
};
