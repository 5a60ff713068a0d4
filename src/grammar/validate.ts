/**
 * Apache's walk phase (`ap_walk_config` → `invoke_cmd`, server/config.c) over a syntax tree:
 * is each directive known and loaded, allowed here, given the right number of arguments,
 * and accepted by its own handler. Pure; every problem becomes a diagnostic.
 */
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import type { ErrorCode } from '../vocabulary/error-catalog.js';
import { catalogEntry } from '../vocabulary/error-catalog.js';
import { isConditionalSection } from './conditional-sections.js';
import { parseRequire, type ValidatorFinding, type ValidatorInput } from './directive-validators.js';
import {
  ACCESS_CONF,
  NONFATAL_OVERRIDE,
  NONFATAL_UNKNOWN,
  OR_ALL,
  OR_AUTHCFG,
  OR_LIMIT,
  RSRC_CONF,
  allDirectives,
  lookupDirective,
  type DirectiveSpec,
} from './directive-registry.js';
import { didYouMean } from './suggest.js';
import { OPT_ALL, OPT_MULTI, OPT_SYM_OWNER } from './options.js';
import type { ConfigNode, SectionNode } from './syntax-tree.js';
import { splitWords } from './words.js';

/** Where the walked directives sit and what the host allows there. */
export interface WalkContext {
  kind: 'htaccess' | 'server';
  /** For `.htaccess`: the AllowOverride mask (with the Nonfatal bits). */
  override: number;
  /** `AllowOverride Options=…`: options an `.htaccess` may set. */
  overrideOpts: number;
  /** AllowOverrideList names (lower-case). */
  overrideList: ReadonlySet<string>;
  hasModule(id: string): boolean;
}

/** The default `override_opts` when AllowOverride names no Options list. */
export const DEFAULT_OVERRIDE_OPTS = OPT_ALL | OPT_SYM_OWNER | OPT_MULTI;

/** Server config top level (`ap_process_config_tree`): no auth/limit directives there. */
const SERVER_TOP = (RSRC_CONF | OR_ALL) & ~(OR_AUTHCFG | OR_LIMIT);
const IN_SECTION = ACCESS_CONF | OR_ALL;
const SERVER_SECTIONS = new Set(['<directory', '<directorymatch', '<location', '<locationmatch', '<files', '<filesmatch', '<proxy', '<proxymatch']);

function makeDiag(code: ErrorCode, node: ConfigNode, message: string, hint?: string): Diagnostic {
  const entry = catalogEntry(code);
  const d: Diagnostic = { code, severity: entry.severity, file: node.file, line: node.line, column: node.column, message };
  const h = hint ?? entry.hint;
  if (h !== undefined) d.hint = h;
  return d;
}

/** `invoke_cmd`'s argument-shape rule; returns Apache's error text or undefined. */
export function checkShape(spec: DirectiveSpec, rawArgs: string): string | undefined {
  const words = splitWords(rawArgs);
  const n = words.length;
  const help = spec.help ? `, ${spec.help}` : '';
  const nonEmpty = (i: number): boolean => words[i] !== undefined && words[i]!.value !== '';
  switch (spec.shape) {
    case 'NO_ARGS':
      return rawArgs !== '' ? `${spec.name} takes no arguments` : undefined;
    case 'TAKE1':
      return !nonEmpty(0) || n > 1 ? `${spec.name} takes one argument${help}` : undefined;
    case 'TAKE2':
      return !nonEmpty(0) || !nonEmpty(1) || n > 2 ? `${spec.name} takes two arguments${help}` : undefined;
    case 'TAKE12':
      return !nonEmpty(0) || n > 2 ? `${spec.name} takes 1-2 arguments${help}` : undefined;
    case 'TAKE3':
      return !nonEmpty(0) || !nonEmpty(1) || !nonEmpty(2) || n > 3 ? `${spec.name} takes three arguments${help}` : undefined;
    case 'TAKE23':
      return !nonEmpty(0) || !nonEmpty(1) || n > 3 ? `${spec.name} takes two or three arguments${help}` : undefined;
    case 'TAKE123':
      return !nonEmpty(0) || n > 3 ? `${spec.name} takes one, two or three arguments${help}` : undefined;
    case 'TAKE13':
      return !nonEmpty(0) || n === 2 || n > 3 ? `${spec.name} takes one or three arguments${help}` : undefined;
    case 'ITERATE':
      return !nonEmpty(0) ? `${spec.name} requires at least one argument${help}` : undefined;
    case 'ITERATE2':
      return !nonEmpty(0) || n < 2 ? `${spec.name} requires at least two arguments${help}` : undefined;
    case 'FLAG': {
      const w = (words[0]?.value ?? '').toLowerCase();
      return w !== 'on' && w !== 'off' ? `${spec.name} must be On or Off` : undefined;
    }
    case 'TAKE_ARGV':
    case 'RAW_ARGS':
      return undefined;
  }
}

interface Frame {
  /** Effective override mask for directives at this level. */
  override: number;
  /** Nearest enclosing real (non-conditional) section, for "not allowed in <X> context". */
  parent: SectionNode | undefined;
  /** Inside `<Limit>`/`<LimitExcept>`. */
  inLimit: boolean;
  /** Authz logic of the enclosing `<Require…>` section (implicit Any at the top). */
  authzOp: 'any' | 'all' | 'none';
  /**
   * The container's last `<If>`-family section (Apache's sec_if list): an `<ElseIf>` or
   * `<Else>` needs an `<If>` or `<ElseIf>` there. Shared through conditional sections.
   */
  ifScope: { last: 'if' | 'else' | undefined };
}

/** Nodes still to visit under one frame, and what to check once they all were. */
interface Pending {
  nodes: readonly ConfigNode[];
  next: number;
  frame: Frame;
  after: (() => void) | undefined;
}

/** Nodes visited between two pauses of a sliced walk. */
const WALK_SLICE = 64;

class Walker {
  readonly diagnostics: Diagnostic[] = [];
  /**
   * `ap_walk_config` recurses into each section; here the sections being walked are an
   * explicit stack, so a file nested thousands deep cannot exhaust the call stack.
   */
  private readonly pending: Pending[] = [];
  /** Spelling suggestions still to make: each costs a search of the registry; a file of
   * thousands of unknown lines gets them for its first few (Apache stops at the first). */
  private suggestionsLeft = 16;

  constructor(private readonly ctx: WalkContext) {}

  private add(code: ErrorCode, node: ConfigNode, message: string, hint?: string): void {
    this.diagnostics.push(makeDiag(code, node, message, hint));
  }

  private finding(node: ConfigNode, f: ValidatorFinding): void {
    this.add(f.code, node, f.message, f.hint);
  }

  /** Schedules `nodes` under `frame`; `after` runs once they were all visited. */
  private walk(nodes: readonly ConfigNode[], frame: Frame, after?: () => void): void {
    this.pending.push({ nodes, next: 0, frame, after });
  }

  /** Walks `nodes` to the end, pausing (yielding) every WALK_SLICE nodes. */
  *run(nodes: readonly ConfigNode[], frame: Frame): Generator<void, void> {
    this.walk(nodes, frame);
    let sinceYield = 0;
    while (this.pending.length > 0) {
      const top = this.pending[this.pending.length - 1]!;
      if (top.next >= top.nodes.length) {
        this.pending.pop();
        top.after?.();
        continue;
      }
      this.visit(top.nodes[top.next++]!, top.frame);
      if (++sinceYield === WALK_SLICE) {
        sinceYield = 0;
        yield;
      }
    }
  }

  private visit(node: ConfigNode, frame: Frame): void {
    if (node.kind === 'directive' && node.included) {
      this.walk(node.included, frame);
      return;
    }
    const spec = lookupDirective(node.key);
    const displayName = node.kind === 'section' ? `<${node.name}` : node.name;
    const loaded = spec !== undefined && spec.modules.some((m) => this.ctx.hasModule(m));
    if (!spec || !loaded) {
      if (this.ctx.kind === 'htaccess' && this.ctx.override & NONFATAL_UNKNOWN) {
        this.add('HT205', node, `Unknown directive ${node.key} perhaps misspelled or defined by a module not included in the server configuration`);
      } else {
        this.add(
          'HT100',
          node,
          `Invalid command '${displayName}', perhaps misspelled or defined by a module not included in the server configuration`,
          spec && !node.key.startsWith('php_')
            ? `'${spec.name}' belongs to mod_${spec.modules[0]}, which this host does not load.`
            : unknownDirectiveHint(node, (m) => this.ctx.hasModule(m), this.suggestionsLeft-- > 0),
        );
      }
      return;
    }
    if (node.kind === 'section' && isConditionalSection(node.key)) {
      if (!this.allowed(spec, frame, node)) return;
      if (node.active) this.walk(node.children, frame);
      return;
    }
    if (!this.allowed(spec, frame, node)) return;
    if (node.kind === 'section') {
      this.visitSection(node, spec, frame);
      return;
    }
    const shapeError = checkShape(spec, node.rawArgs);
    if (shapeError) {
      const trailingHash = node.args.some((a, i) => i > 0 && a.value.startsWith('#') && !a.quoted);
      this.add('HT102', node, shapeError, trailingHash ? 'A "#" after a directive is not a comment in Apache: put comments on their own line.' : undefined);
      return;
    }
    if (frame.authzOp !== 'all' && node.key === 'require') {
      const r = parseRequire(node.rawArgs, (m) => this.ctx.hasModule(m));
      if (!('error' in r) && r.negate) {
        const section = frame.authzOp === 'none' ? '<RequireNone>' : '<RequireAny>';
        this.add('HT105', node, `negative Require directive has no effect in ${section} directive`);
        return;
      }
    }
    if (spec.compile) {
      // The directive's own handler, the same one `serve` builds its value with.
      const list = spec.compile(this.compileInput(node)).findings;
      for (const f of list) this.finding(node, f);
      if (list.some((f) => catalogEntry(f.code).severity === 'error')) return;
    }
    if (node.args.some((a, i) => i > 0 && a.value === '#' && !a.quoted) && spec.shape !== 'TAKE1') {
      this.add('HT204', node, `"#" and the words after it are read as arguments of ${spec.name}`);
    }
    if (!spec.emulated) {
      this.add('HT200', node, `${spec.name} is accepted by the host but not emulated by htsandbox; the preview may differ`);
    }
  }

  /** What a directive's compile is given for `node`. */
  private compileInput(node: ConfigNode): ValidatorInput {
    return {
      words: splitWords(node.rawArgs).map((w) => w.value),
      rawArgs: node.rawArgs,
      kind: this.ctx.kind,
      overrideOpts: this.ctx.kind === 'htaccess' ? this.ctx.overrideOpts : DEFAULT_OVERRIDE_OPTS,
      hasModule: (m) => this.ctx.hasModule(m),
    };
  }

  /**
   * A section's own line through its directive's compile (the one `serve` builds the section
   * with, core's `filesection`, `ifsection`, `ap_limit_section`): its findings now, and those
   * Apache gives once the body was read, to report then. Undefined when the line is refused.
   */
  private openSection(node: SectionNode, spec: DirectiveSpec): ValidatorFinding[] | undefined {
    const findings = spec.compile?.(this.compileInput(node)).findings ?? [];
    const later: ValidatorFinding[] = [];
    let refused = false;
    for (const f of findings) {
      if (f.afterBody) later.push(f);
      else {
        this.finding(node, f);
        if (catalogEntry(f.code).severity === 'error') refused = true;
      }
    }
    return refused ? undefined : later;
  }

  /** The override check of `invoke_cmd` (with `AllowOverrideList` and Nonfatal=Override). */
  private allowed(spec: DirectiveSpec, frame: Frame, node: ConfigNode): boolean {
    const listed = this.ctx.kind === 'htaccess' && this.ctx.overrideList.has(spec.name.toLowerCase());
    if ((frame.override & spec.override) !== 0 || listed) return true;
    const name = spec.name;
    if (this.ctx.kind === 'htaccess' && this.ctx.override & NONFATAL_OVERRIDE) {
      this.add('HT205', node, `${name} in .htaccess forbidden by AllowOverride`);
      return false;
    }
    const where = frame.parent ? ` not allowed in <${frame.parent.name}> context` : ' not allowed here';
    const hint =
      this.ctx.kind === 'htaccess'
        ? spec.override & (RSRC_CONF | ACCESS_CONF) && !(spec.override & OR_ALL)
          ? `${name} only works in the server configuration, never in .htaccess.`
          : `The host's AllowOverride for this directory does not include ${overrideClassName(spec.override)}.`
        : undefined;
    this.add('HT101', node, `${name}${where}`, hint);
    return false;
  }

  private visitSection(node: SectionNode, spec: DirectiveSpec, frame: Frame): void {
    const name = spec.name; // e.g. "<Files"
    const raw = node.rawArgs;
    const gt = raw.lastIndexOf('>');
    const key = node.key;
    if (key === '<if' || key === '<elseif' || key === '<else') return this.visitIf(node, spec, frame);
    if (key === '<files' || key === '<filesmatch') {
      if (frame.inLimit) {
        this.add('HT101', node, `${name}> cannot occur within <Limit> or <LimitExcept> section`);
        return;
      }
      const later = this.openSection(node, spec);
      if (!later) return;
      const inner = this.ctx.kind === 'server' && !frame.parent ? IN_SECTION : frame.override;
      this.walk(node.children, { ...frame, override: inner, parent: node, ifScope: { last: undefined } }, () => {
        for (const f of later) this.finding(node, f);
      });
      return;
    }
    if (key === '<limit' || key === '<limitexcept') {
      if (!this.openSection(node, spec)) return;
      this.walk(node.children, { ...frame, parent: node, inLimit: true });
      return;
    }
    if (key === '<requireall' || key === '<requireany' || key === '<requirenone') {
      if (gt === -1) return this.add('HT103', node, `${name}> directive missing closing '>'`);
      if (raw.slice(0, gt).trim() !== '') return this.add('HT102', node, `${name}> directive doesn't take additional arguments`);
      if (key === '<requirenone' && frame.authzOp !== 'all') {
        this.add('HT105', node, `${name}> directive has no effect in ${frame.authzOp === 'none' ? '<RequireNone' : '<RequireAny'}> directive`);
        return;
      }
      const before = this.diagnostics.length;
      const op = key === '<requireall' ? 'all' : key === '<requireany' ? 'any' : 'none';
      this.walk(node.children, { ...frame, parent: node, authzOp: op }, () => {
        if (this.diagnostics.length === before && !hasAuthzMember(node.children)) {
          this.add('HT105', node, `${name}> directive contains no authorization directives`);
        }
      });
      return;
    }
    if (SERVER_SECTIONS.has(key) || key === '<virtualhost' || key === '<ifdefine') {
      if (gt === -1) return this.add('HT103', node, `${name}> directive missing closing '>'`);
      this.walk(node.children, { ...frame, override: IN_SECTION, parent: node, ifScope: { last: undefined } });
      return;
    }
    // Any other section: its body is checked, the section itself is not emulated.
    if (!spec.emulated) this.add('HT200', node, `${name}> is accepted by the host but not emulated by htsandbox; the preview may differ`);
    this.walk(node.children, { ...frame, parent: node });
  }

  /** core.c `ifsection`: the condition (core's compile parses it as ap_expr), the body, then the else-chain. */
  private visitIf(node: SectionNode, spec: DirectiveSpec, frame: Frame): void {
    if (frame.inLimit) return this.add('HT101', node, `${spec.name}> cannot occur within <Limit> or <LimitExcept> section`);
    const later = this.openSection(node, spec);
    if (!later) return;
    this.walk(node.children, { ...frame, parent: node, ifScope: { last: undefined } }, () => {
      if (node.key !== '<if' && frame.ifScope.last !== 'if') {
        return this.add('HT110', node, '<Else> or <ElseIf> section without previous <If> or <ElseIf> section in same scope');
      }
      frame.ifScope.last = node.key === '<else' ? 'else' : 'if';
      for (const f of later) this.finding(node, f);
    });
  }
}

/**
 * Whether a `<Require…>` section has a member: a `Require` line or a nested `<Require…>`,
 * also inside the conditional sections Apache splices in while reading (`<IfDefine>` …).
 */
function hasAuthzMember(children: readonly ConfigNode[]): boolean {
  const todo: (readonly ConfigNode[])[] = [children];
  while (todo.length > 0) {
    for (const c of todo.pop()!) {
      if (c.key === 'require' || c.key.startsWith('<require')) return true;
      if (c.kind === 'section' && c.active && isConditionalSection(c.key)) todo.push(c.children);
    }
  }
  return false;
}

function overrideClassName(mask: number): string {
  const names: string[] = [];
  if (mask & 8) names.push('AuthConfig');
  if (mask & 4) names.push('FileInfo');
  if (mask & 16) names.push('Indexes');
  if (mask & 1) names.push('Limit');
  if (mask & 2) names.push('Options');
  return names.join(' or ') || 'it';
}

function unknownDirectiveHint(node: ConfigNode, hasModule: (m: string) => boolean, suggest: boolean): string | undefined {
  if (node.key.startsWith('php_')) return 'This host runs PHP as CGI, not mod_php: put PHP settings in a php.ini file next to the script.';
  if (!suggest) return 'Check the spelling; if it is right, the module that defines it is not loaded on this host.';
  // A typo of a directive this host has: `RewriteEngin` → RewriteEngine, `<FileMatch` → <FilesMatch.
  const section = node.kind === 'section';
  const known = allDirectives()
    .filter((d) => d.name.startsWith('<') === section && d.modules.some((m) => hasModule(m)))
    .map((d) => (section ? d.name.slice(1) : d.name));
  const suggestion = didYouMean(node.name, known).replace(/^did you mean /, section ? 'did you mean <' : 'did you mean ');
  if (suggestion) return `${suggestion.charAt(0).toUpperCase()}${suggestion.slice(1)}Check the spelling.`;
  return 'Check the spelling; if it is right, the module that defines it is not loaded on this host.';
}

/** Walks a parsed file's nodes and returns the walk-phase diagnostics. */
export function validateNodes(nodes: readonly ConfigNode[], ctx: WalkContext): Diagnostic[] {
  const steps = validateNodesSteps(nodes, ctx);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/** `validateNodes` in slices of about WALK_SLICE nodes (same result), for huge files. */
export function* validateNodesSteps(nodes: readonly ConfigNode[], ctx: WalkContext): Generator<void, Diagnostic[]> {
  const walker = new Walker(ctx);
  const override = ctx.kind === 'htaccess' ? ctx.override : SERVER_TOP;
  yield* walker.run(nodes, { override, parent: undefined, inLimit: false, authzOp: 'any', ifScope: { last: undefined } });
  return walker.diagnostics;
}
