/**
 * The per-directory configuration a request ends up with, built level by level the way
 * Apache merges it (`../shared/docs/apache-core.md` §2.4): server `<Directory>` sections,
 * each `.htaccess`, then `<Files>`/`<FilesMatch>`. Pure.
 */
import type { ConfigNode, SectionNode } from '../grammar/syntax-tree.js';
import { splitWords } from '../grammar/words.js';
import { MODULE_DIRECTIVES, MODULES } from '../modules/index.js';
import type { CompiledLine, ModuleDefinition } from '../modules/module.js';
import { headersModule, type HeadersDirConfig } from '../modules/headers.js';
import { expiresModule, type ExpiresDirConfig } from '../modules/expires.js';
import { envModule, type EnvDirConfig } from '../modules/env.js';
import { aliasModule, type AliasDirConfig } from '../modules/alias.js';
import { mimeModule, type MimeDirConfig } from '../modules/mime.js';
import { dirModule, type DirDirConfig } from '../modules/dir.js';
import { authnCoreModule, type AuthDirConfig } from '../modules/authn-core.js';
import { setEnvIfModule, type SetEnvIfDirConfig } from '../modules/setenvif.js';
import { accessCompatModule, type AccessCompatDirConfig } from '../modules/access-compat.js';
import { authzCoreModule, type AuthzDirConfig } from '../modules/authz-core.js';
import { autoindexModule, type AutoindexDirConfig } from '../modules/autoindex.js';
import { fcgidModule, type FcgidAuthRole, type FcgidDirConfig } from '../modules/fcgid.js';
import { rewriteModule, type RewriteDirConfig } from '../modules/rewrite.js';
import { htsandboxModule, type HtsandboxDirConfig } from '../modules/htsandbox.js';
import { coreModule, ETAG_NONE, ETAG_INODE, ETAG_MTIME, ETAG_SIZE, ETAG_UNSET, type CoreDirConfig } from '../modules/core.js';

export type { AuthzRule, RequireRule } from '../modules/authz-core.js';
export type { AccessCompat, HostLine, HostWord, SatisfyLine } from '../modules/access-compat.js';

export type { ExtensionInfo } from '../modules/mime.js';

export type { ErrorDocument, FileETagBits, FilesSection, IfSection } from '../modules/core.js';
export { ETAG_ALL, ETAG_INODE, ETAG_MTIME, ETAG_NONE, ETAG_SIZE, ETAG_UNSET } from '../modules/core.js';

export type { FcgidAuthRole } from '../modules/fcgid.js';
/** How mod_fcgid names each role: its directive and, in log lines, its check. */
export const FCGID_AUTH_NAMES: Readonly<Record<FcgidAuthRole, { directive: string; check: string }>> = {
  ACCESS_CHECKER: { directive: 'FcgidAccessChecker', check: 'Access check' },
  AUTHENTICATOR: { directive: 'FcgidAuthenticator', check: 'Authentication' },
  AUTHORIZER: { directive: 'FcgidAuthorizer', check: 'Authorization' },
};

export type { HeaderOp } from '../modules/headers.js';

/**
 * The merged per-directory configuration: the slices of the modules in `src/modules/`
 * (each merged by its own `dirConfig.merge`) and the fields the legacy code below still keeps.
 */
export interface DirConfig
  extends HeadersDirConfig,
    ExpiresDirConfig,
    EnvDirConfig,
    SetEnvIfDirConfig,
    AliasDirConfig,
    MimeDirConfig,
    DirDirConfig,
    AuthDirConfig,
    AuthzDirConfig,
    AccessCompatDirConfig,
    AutoindexDirConfig,
    CoreDirConfig,
    FcgidDirConfig,
    RewriteDirConfig,
    HtsandboxDirConfig {}

/**
 * http_etag.c's ap_make_etag for a file: inode, size and mtime (microseconds) in hex, joined
 * with '-', quoted; undefined for `FileETag None` (the "no-etag" note: no ETag goes out).
 */
export function fileETagValue(cfg: DirConfig, entry: { size: number; mtimeUs: bigint; ino: number }): string | undefined {
  let bits = (cfg.fileETag.bits & ~cfg.fileETag.remove) | cfg.fileETag.add;
  if (bits & ETAG_NONE) return undefined;
  // ETAG_BACKWARD: MTime and Size since 2.3.14.
  if (bits === ETAG_UNSET) bits = ETAG_MTIME | ETAG_SIZE;
  const parts: string[] = [];
  if (bits & ETAG_INODE) parts.push(entry.ino.toString(16));
  if (bits & ETAG_SIZE) parts.push(entry.size.toString(16));
  if (bits & ETAG_MTIME) parts.push(entry.mtimeUs.toString(16));
  return `"${parts.join('-')}"`;
}

export type { SetEnvIfRule } from '../modules/setenvif.js';

export type { RedirectRule } from '../modules/alias.js';

export const EMPTY_DIR_CONFIG: DirConfig = {
  ...coreModule.dirConfig!.empty,
  ...mimeModule.dirConfig!.empty,
  ...dirModule.dirConfig!.empty,
  ...authzCoreModule.dirConfig!.empty,
  ...accessCompatModule.dirConfig!.empty,
  ...headersModule.dirConfig!.empty,
  ...aliasModule.dirConfig!.empty,
  ...autoindexModule.dirConfig!.empty,
  ...authnCoreModule.dirConfig!.empty,
  ...fcgidModule.dirConfig!.empty,
  ...rewriteModule.dirConfig!.empty,
  ...htsandboxModule.dirConfig!.empty,
  ...envModule.dirConfig!.empty,
  ...setEnvIfModule.dirConfig!.empty,
  ...expiresModule.dirConfig!.empty,
};

/** `get_wrapper_info`: a file's FcgidWrapper, by the suffix from the last '.' of its name, else ALL. */
export function fcgidWrapperFor(cfg: DirConfig, path: string): { argv: string[]; virtual: boolean } | undefined {
  if (cfg.fcgidWrappers.size === 0) return undefined;
  const dot = path.lastIndexOf('.');
  const suffix = dot > path.lastIndexOf('/') ? path.slice(dot) : '';
  return cfg.fcgidWrappers.get(suffix) ?? cfg.fcgidWrappers.get('ALL');
}

/** `file:line <Name args>`: where a section is written and how it opens. */
export function sectionWhere(node: SectionNode): string {
  const args = node.rawArgs.trim();
  return `${node.file}:${node.line} <${node.name}${args === '' || args === '>' ? '>' : ` ${args}`}`;
}

const SPLICED_SECTIONS = new Set(['<ifmodule', '<ifdefine', '<ifversion', '<ifdirective', '<ifsection', '<iffile']);

/**
 * Active nodes of one level, conditional sections flattened (Apache splices them in).
 * An explicit stack, not recursion: a file may nest thousands of `<IfModule>` deep.
 */
function flatten(nodes: readonly ConfigNode[]): ConfigNode[] {
  const out: ConfigNode[] = [];
  const stack: { nodes: readonly ConfigNode[]; i: number }[] = [{ nodes, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.nodes.length) {
      stack.pop();
      continue;
    }
    const n = top.nodes[top.i++]!;
    if (n.kind === 'section' && SPLICED_SECTIONS.has(n.key)) {
      if (n.active) stack.push({ nodes: n.children, i: 0 });
    } else if (n.kind === 'directive' && n.included) {
      stack.push({ nodes: n.included, i: 0 });
    } else out.push(n);
  }
  return out;
}

/**
 * What a level contributes that does not depend on the levels above it: its lines with the
 * conditional sections spliced in, and, computed once, the lists it appends (compiled
 * patterns, parsed header operations, Require rules …), each module's lines. Kept with the parsed nodes (which live as long
 * as their file is unchanged), so merging a level onto a new base costs little, and
 * `prepareLevelSteps` can build it ahead, in slices.
 */
interface LevelPlan {
  /** What each module of `src/modules/` compiled from the level's lines, in order. */
  moduleLines: Map<ModuleDefinition, CompiledLine[]>;
}

/** A `<Limit>`'s methods, a `<LimitExcept>`'s as `!METHOD` (how authz_core's rules carry them too). */
function limitMethods(n: SectionNode): string[] {
  const listed = splitWords(n.rawArgs.slice(0, Math.max(0, n.rawArgs.lastIndexOf('>')))).map((w) => w.value);
  return n.key === '<limit' ? listed : listed.map((m) => `!${m}`);
}

/** The modules that compile a level themselves (`levelLines`). */
const LEVEL_COMPILED = MODULES.filter((m) => m.levelLines !== undefined);

const planOf = new WeakMap<readonly ConfigNode[], LevelPlan>();

/** Lines handled between two pauses of `levelPlanSteps`. */
const PLAN_SLICE = 64;

function* levelPlanSteps(levelNodes: readonly ConfigNode[], hasModule: (m: string) => boolean): Generator<void, LevelPlan> {
  const known = planOf.get(levelNodes);
  if (known) return known;
  const nodes = flatten(levelNodes);
  yield;
  const plan: LevelPlan = {
    moduleLines: new Map(),
  };
  // Modules whose lines nest in their own sections compile the level themselves.
  for (const module of LEVEL_COMPILED) {
    const lines = module.levelLines!(nodes, hasModule);
    if (lines.length > 0) plan.moduleLines.set(module, lines);
  }
  yield;
  let sinceYield = 0;
  // The lines of a `<Limit>`/`<LimitExcept>` belong to the level (`ap_limit_section` walks
  // them in the same configuration) with its methods as cmd->limited; only the modules that
  // read that (authz_core, access_compat's Allow/Deny) limit them.
  const todo: { nodes: readonly ConfigNode[]; i: number; methods: readonly string[] | undefined }[] = [{ nodes, i: 0, methods: undefined }];
  while (todo.length > 0) {
    const task = todo[todo.length - 1]!;
    if (task.i >= task.nodes.length) {
      todo.pop();
      continue;
    }
    const n = task.nodes[task.i++]!;
    if (++sinceYield === PLAN_SLICE) {
      sinceYield = 0;
      yield;
    }
    const owned = MODULE_DIRECTIVES.get(n.key);
    if (owned) {
      if (owned.module.levelLines) continue;
      // The directive's own compile, the one `check` ran; a refused line is not applied. A
      // section's line (core's `<Files>`, `<If>`) carries its body, applied when it matches.
      const { value } = owned.directive.compile({ words: splitWords(n.rawArgs).map((w) => w.value), rawArgs: n.rawArgs, kind: 'htaccess', overrideOpts: 0xffff, hasModule });
      if (value !== undefined) {
        let lines = plan.moduleLines.get(owned.module);
        if (!lines) plan.moduleLines.set(owned.module, (lines = []));
        const line: CompiledLine = { key: n.key, value, source: { file: n.file, line: n.line } };
        if (n.kind === 'section') {
          line.body = n.children;
          line.where = sectionWhere(n);
        }
        if (task.methods) line.methods = task.methods;
        lines.push(line);
      } else if (n.kind === 'section' && (n.key === '<limit' || n.key === '<limitexcept')) {
        todo.push({ nodes: flatten(n.children), i: 0, methods: limitMethods(n) });
      }
    }
  }
  planOf.set(levelNodes, plan);
  return plan;
}

function levelPlan(levelNodes: readonly ConfigNode[], hasModule: (m: string) => boolean): LevelPlan {
  const steps = levelPlanSteps(levelNodes, hasModule);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * Builds ahead, in slices, what a parsed file contributes on its own (LevelPlan), the bodies
 * of its `<Files>` and `<If>` sections included, so that applying it later, when a request
 * walks its directory, is quick. Applying gives the same result with or without this.
 */
export function* prepareLevelSteps(levelNodes: readonly ConfigNode[], hasModule: (m: string) => boolean): Generator<void, void> {
  const todo: (readonly ConfigNode[])[] = [levelNodes];
  while (todo.length > 0) {
    const plan = yield* levelPlanSteps(todo.pop()!, hasModule);
    for (const line of plan.moduleLines.get(coreModule as ModuleDefinition) ?? []) if (line.body) todo.push(line.body);
  }
}

const levelMemo = new WeakMap<DirConfig, WeakMap<readonly ConfigNode[], Map<string, DirConfig>>>();

/**
 * `applyLevel`, memoised by the identity of its inputs: parsed files and sections are kept
 * while unchanged, so a directory's merged configuration is computed once per change
 * (style.md §9) instead of once per request.
 */
export function applyLevelCached(base: DirConfig, levelNodes: readonly ConfigNode[], hasModule: (m: string) => boolean, overrideOpts = 0xffff, levelDir = ''): DirConfig {
  let byNodes = levelMemo.get(base);
  if (!byNodes) levelMemo.set(base, (byNodes = new WeakMap()));
  let byOpts = byNodes.get(levelNodes);
  if (!byOpts) byNodes.set(levelNodes, (byOpts = new Map()));
  const key = `${overrideOpts}\0${levelDir}`;
  let out = byOpts.get(key);
  if (!out) {
    out = applyLevel(base, levelNodes, hasModule, overrideOpts, levelDir);
    byOpts.set(key, out);
  }
  return out;
}

/**
 * Applies one configuration level (a `<Directory>` body, an `.htaccess`, a `<Files>` body) on
 * top of what is inherited. `overrideOpts` (AllowOverride Options=…) needs no second look
 * here: an `.htaccess` with an Options line beyond it was refused whole by `check`'s walk.
 */
export function applyLevel(base: DirConfig, levelNodes: readonly ConfigNode[], hasModule: (m: string) => boolean, overrideOpts = 0xffff, levelDir = ''): DirConfig {
  const plan = levelPlan(levelNodes, hasModule);
  const cfg: DirConfig = { ...base };
  // Each module merges its own slice (its merge_dir_config), in Apache's load order.
  if (plan.moduleLines.size > 0) {
    const level = { dir: levelDir };
    for (const module of MODULES) {
      const lines = plan.moduleLines.get(module);
      if (lines && module.dirConfig) Object.assign(cfg, module.dirConfig.merge(cfg, lines, level));
    }
  }
  return cfg;
}
