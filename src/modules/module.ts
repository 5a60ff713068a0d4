/**
 * What one Apache module is to htsandbox, shaped like an httpd `module` struct
 * (include/http_config.h): its command table, its per-directory configuration (create +
 * merge) and the request phases it hooks. httpd's `modules/http/mod_mime.c` is the model:
 * `mime_cmds[]`, `create_mime_dir_config` / `merge_mime_dir_configs` and `find_ct` on the
 * type_checker hook, in one file. Pure: a module reads nothing but its arguments.
 */
import type { ArgShape, CompileResult } from '../grammar/directive-registry.js';
import type { ValidatorFinding, ValidatorInput } from '../grammar/directive-validators.js';
import type { ConfigNode } from '../grammar/syntax-tree.js';

export type { CompileResult } from '../grammar/directive-registry.js';
export type { ValidatorFinding as DirectiveFinding, ValidatorInput as DirectiveInput } from '../grammar/directive-validators.js';

/** One row of a module's command table (`AP_INIT_*` in its `command_rec[]`). */
export interface DirectiveDefinition<V = unknown> {
  /** Name as the module spells it (Apache's messages use this spelling). */
  name: string;
  /** How Apache splits the arguments before calling the handler. */
  shape: ArgShape;
  /** Where it may appear, written as in C (`OR_FILEINFO`, `RSRC_CONF|ACCESS_CONF`). */
  override: string;
  /** Apache's help string, appended to its argument-count errors. */
  help: string;
  /**
   * The handler (`header_cmd`, `add_type` …): Apache's findings for `check`, and the value
   * `serve` applies. `check` and `serve` both call it; undefined value means refused.
   */
  compile(input: ValidatorInput): CompileResult<V>;
  /** Accepted as Apache accepts it, but its effect is not reproduced (`check` says so). */
  parsedOnly?: boolean;
  /** Other modules whose command tables have it too (`AuthName`: auth_digest); any loaded one makes it valid. */
  alsoDefinedBy?: readonly string[];
}

/** Where a configuration line is written (the file as parsed, 1-based line). */
export interface LineSource {
  file: string;
  line: number;
}

/** One applied line of a level: which directive, what its compile produced, and where it is written. */
export interface CompiledLine<V = unknown> {
  /** Lower-cased directive name. */
  key: string;
  value: V;
  source?: LineSource;
  /** For a section's line (`<Files>`, `<If>`): the lines of its body, applied when it matches. */
  body?: readonly ConfigNode[];
  /** For a section's line: where it is written and how it opens (`file:line <Files "x">`), for a decision's configuration reference. */
  where?: string;
  /**
   * For a line inside `<Limit>` (`<LimitExcept>`: each `!METHOD`): the methods it is limited
   * to, Apache's cmd->limited. Only a module whose lines honour it reads it; others apply the
   * line to every method, as Apache does.
   */
  methods?: readonly string[];
}

/**
 * A module's slice of the per-directory configuration: its value where nothing is
 * configured (`create_dir_config`) and how a level's lines land on what it inherits
 * (`merge_dir_config`, with the level's lines standing for the child config). Called once per
 * directory and configuration change (the merge is memoised), never per request.
 */
export interface DirConfigSlice<S extends object> {
  empty: Readonly<S>;
  merge(base: Readonly<S>, lines: readonly CompiledLine[], level?: LevelContext): Partial<S>;
}

/** Where a level's lines were written, for a merge that depends on it (mod_rewrite's per-dir prefix). */
export interface LevelContext {
  /**
   * The path core gives the level's lines (cmd->path): the directory of a `<Directory>` body or
   * an `.htaccess`, the pattern of a `<Files>` body, "*If" for an `<If>` body; '' for the
   * server's own lines.
   */
  dir: string;
}

/**
 * The request phases and filters a module hooks, by Apache's names (`ap_hook_*`,
 * `ap_register_output_filter`). Each names the function that does the work: exported by the
 * module file, or, while it still reads the engine's request facts, by src/engine/resolve.ts.
 * Callers import that function directly, so no phase pays for a lookup.
 */
export type HookName =
  | 'post_read_request'
  | 'translate_name'
  | 'map_to_storage'
  | 'header_parser'
  | 'access_checker'
  | 'check_authn'
  | 'check_authz'
  | 'type_checker'
  | 'fixups'
  | 'insert_filter'
  | 'handler'
  | 'output_filter'
  | 'insert_error_filter';

/** One Apache module. */
export interface ModuleDefinition<S extends object = object> {
  /** Apache's module id as `LoadModule` and `<IfModule>` know it without `_module` (`headers`). */
  name: string;
  /** Its command table. */
  directives: readonly DirectiveDefinition[];
  /** Its per-directory configuration, when it has one htsandbox applies. */
  dirConfig?: DirConfigSlice<S>;
  /**
   * For a module whose lines nest in its own sections (authz_core's `<RequireAll>`): compiles
   * a level's lines itself, from its spliced nodes, instead of line by line. Its lines reach
   * `dirConfig.merge` as this returns them.
   */
  levelLines?(nodes: readonly ConfigNode[], hasModule: (module: string) => boolean): CompiledLine[];
  /** Its hooks: the phase, and the exported function's name that does it. */
  hooks: Partial<Record<HookName, string>>;
}

/** Shorthand for a finding. */
export function finding(message: string, code: ValidatorFinding['code'] = 'HT105', hint?: string): ValidatorFinding {
  return hint === undefined ? { code, message } : { code, message, hint };
}

/** A compile result that refuses the line. */
export function refused(f: ValidatorFinding | ValidatorFinding[]): CompileResult<never> {
  return { findings: Array.isArray(f) ? f : [f], value: undefined };
}

/**
 * The compile of a FLAG directive (`set_flag_slot`): the shape has already refused anything but
 * On or Off, in any case, so the value is whether it is On.
 */
export function compileFlag({ words }: ValidatorInput): CompileResult<boolean> {
  return { findings: [], value: (words[0] ?? '').toLowerCase() === 'on' };
}

/**
 * A directive Apache accepts that htsandbox reads but does not apply: any arguments are taken,
 * and `check` says "parsed, not emulated".
 */
export function parsedOnly(name: string, shape: DirectiveDefinition['shape'], override: string, help: string): DirectiveDefinition<never> {
  return { name, shape, override, help, compile: () => ({ findings: [], value: undefined }), parsedOnly: true };
}

/**
 * A directive htsandbox reproduces, read as a whole by the host configuration or the
 * configuration reader (`User`, `<Proxy>`, `LoadModule`, `<IfModule>`, `Define`, `Include` …)
 * rather than per directory (src/grammar/host-config.ts, src/server/site-context.ts): any
 * arguments the shape allows are taken, and no line carries a value of its own.
 */
export function readByHost(name: string, shape: DirectiveDefinition['shape'], override: string, help: string): DirectiveDefinition<never> {
  return { name, shape, override, help, compile: () => ({ findings: [], value: undefined }) };
}
