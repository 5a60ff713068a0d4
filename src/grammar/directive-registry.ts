/**
 * The directive registry: every directive htsandbox knows, with the module that defines it,
 * its argument shape and where it may appear, as in each module's `command_rec` table
 * (Apache 2.4 and mod_fcgid 2.3). Help strings are appended to argument errors exactly as
 * Apache appends them (`invoke_cmd`, server/config.c).
 *
 * This file holds the mechanism only. The table itself is built from the module definitions
 * in `src/modules/` and installed once at load time by `src/modules/index.ts`, the way
 * Apache's core looks commands up in the tables of the modules it loaded
 * (`ap_add_module` → `ap_find_command_in_modules`, server/config.c).
 */
import type { ValidatorFinding, ValidatorInput } from './directive-validators.js';

/** How Apache splits a directive's arguments before calling its handler. */
export type ArgShape = 'RAW_ARGS' | 'TAKE_ARGV' | 'NO_ARGS' | 'TAKE1' | 'TAKE2' | 'TAKE12' | 'TAKE3' | 'TAKE23' | 'TAKE123' | 'TAKE13' | 'ITERATE' | 'ITERATE2' | 'FLAG';

/** Override and context bits (include/http_config.h). */
export const OR_LIMIT = 1;
export const OR_OPTIONS = 2;
export const OR_FILEINFO = 4;
export const OR_AUTHCFG = 8;
export const OR_INDEXES = 16;
export const OR_UNSET = 32;
export const ACCESS_CONF = 64;
export const RSRC_CONF = 128;
export const EXEC_ON_READ = 256;
export const NONFATAL_OVERRIDE = 512;
export const NONFATAL_UNKNOWN = 1024;
export const OR_ALL = OR_LIMIT | OR_OPTIONS | OR_FILEINFO | OR_AUTHCFG | OR_INDEXES;

const BITS: Record<string, number> = {
  OR_NONE: 0,
  OR_LIMIT,
  OR_OPTIONS,
  OR_FILEINFO,
  OR_AUTHCFG,
  OR_INDEXES,
  OR_ALL,
  ACCESS_CONF,
  RSRC_CONF,
  EXEC_ON_READ,
  DIR_CMD_PERMS: OR_INDEXES,
};

/** What a directive's `compile` returns: Apache's complaints, and the value `serve` uses. */
export interface CompileResult<V = unknown> {
  /** Problems in Apache's wording; an error-severity one means Apache refuses the line. */
  findings: readonly ValidatorFinding[];
  /** The compiled value, undefined when the line is refused or not emulated. */
  value: V | undefined;
}

/** One directive. */
export interface DirectiveSpec {
  /** Name as the defining module spells it (Apache uses this spelling in messages). */
  name: string;
  /** Modules that define it (any loaded one makes it valid). */
  modules: readonly string[];
  shape: ArgShape;
  /** Bit mask of contexts/override classes (`req_override`). */
  override: number;
  /** Apache's help string, appended to argument-count errors. */
  help: string;
  /** Whether htsandbox emulates its effect (otherwise `check` warns "parsed, not emulated"). */
  emulated: boolean;
  /**
   * The directive's handler: validates as Apache's does and builds the value `serve` uses.
   * Undefined when Apache's shape check is all there is to it.
   */
  compile?: (input: ValidatorInput) => CompileResult;
}

/** Parses an override mask written as C does (`RSRC_CONF|ACCESS_CONF`). */
export function parseOverrideMask(s: string): number {
  let v = 0;
  for (const part of s.split('|')) {
    const bit = BITS[part.trim()];
    if (bit === undefined) throw new Error(`unknown override bit ${part}`);
    v |= bit;
  }
  return v;
}

let REGISTRY: ReadonlyMap<string, DirectiveSpec> | undefined;

/**
 * Installs the directive table (done once, by `src/modules/index.ts`, when it is loaded).
 * A second table with other contents is a programming error.
 */
export function installDirectiveTable(specs: readonly DirectiveSpec[]): void {
  const table = new Map<string, DirectiveSpec>();
  for (const spec of specs) {
    const key = spec.name.toLowerCase();
    if (table.has(key)) throw new Error(`directive ${spec.name} is defined twice`);
    table.set(key, spec);
  }
  if (REGISTRY && REGISTRY.size !== table.size) throw new Error('a different directive table is already installed');
  REGISTRY = table;
}

function registry(): ReadonlyMap<string, DirectiveSpec> {
  if (!REGISTRY) throw new Error('no directive table installed: import src/modules/index.js before reading configuration');
  return REGISTRY;
}

/** Looks a directive up by lower-cased name (sections with their `<`). */
export function lookupDirective(key: string): DirectiveSpec | undefined {
  return registry().get(key);
}

/** The registry's spelling of a directive name, or undefined if unknown. */
export function canonicalDirectiveName(key: string): string | undefined {
  return registry().get(key)?.name;
}

/** Every directive, in registry order (for docs and tests). */
export function allDirectives(): DirectiveSpec[] {
  return [...registry().values()];
}
