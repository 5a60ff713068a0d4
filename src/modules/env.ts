/**
 * mod_env (modules/metadata/mod_env.c): `SetEnv`, `UnsetEnv` and `PassEnv`, and their
 * per-directory merge. The fixups hook (`fixup_env_module`) lays the result over the request's
 * environment; the engine reads `setEnv` when it builds that environment.
 */
import { asciiLower } from '../grammar/byte-strings.js';
import { parsedOnly, type CompiledLine, type DirectiveDefinition, type ModuleDefinition } from './module.js';

/** mod_env's slice of the per-directory configuration. */
export interface EnvDirConfig {
  /** Variables set (value) or unset (undefined) for this request, in order. */
  setEnv: ReadonlyMap<string, string | undefined>;
}

/** One line's effect: names and values, undefined for an unset. */
type EnvAssignments = readonly [string, string | undefined][];

const setEnv: DirectiveDefinition<EnvAssignments> = {
  name: 'SetEnv',
  shape: 'TAKE12',
  override: 'OR_FILEINFO',
  help: 'an environment variable name and optional value to pass to CGI.',
  // add_env_module_vars_set: no value means the empty string.
  compile: ({ words }) => ({ findings: [], value: [[words[0] ?? '', words[1] ?? '']] }),
};

const unsetEnv: DirectiveDefinition<EnvAssignments> = {
  name: 'UnsetEnv',
  shape: 'ITERATE',
  override: 'OR_FILEINFO',
  help: 'a list of variables to remove from the CGI environment.',
  compile: ({ words }) => ({ findings: [], value: words.map((w): [string, undefined] => [w, undefined]) }),
};

// It copies the server's own environment at start-up, which a preview does not share.
const passEnv = parsedOnly('PassEnv', 'ITERATE', 'OR_FILEINFO', 'a list of environment variables to pass to CGI.');

/**
 * `merge_env_dir_configs`: the parent's variables, less those the level unsets, with the
 * level's own set over them. Applying the level's lines in order gives the same table, since
 * an UnsetEnv also drops what the level set before it. Names compare without case (an APR
 * table).
 */
function mergeEnv(base: Readonly<EnvDirConfig>, lines: readonly CompiledLine[]): Partial<EnvDirConfig> {
  const vars = new Map(base.setEnv);
  for (const l of lines) {
    for (const [name, value] of l.value as EnvAssignments) {
      for (const k of vars.keys()) if (k !== name && asciiLower(k) === asciiLower(name)) vars.delete(k);
      vars.set(name, value);
    }
  }
  return { setEnv: vars };
}

/** mod_env as Apache loads it. */
export const envModule: ModuleDefinition<EnvDirConfig> = {
  name: 'env',
  directives: [passEnv, setEnv, unsetEnv],
  dirConfig: { empty: { setEnv: new Map() }, merge: mergeEnv },
  hooks: { fixups: 'applyEnvFixup' },
};

/**
 * `fixup_env_module`: `apr_table_overlay(r->subprocess_env, vars)` puts the directory's
 * variables *after* the request's own, so a variable SetEnvIf or a RewriteRule [E=] already
 * set keeps that value for everything that reads the table's first entry (Header's `%{VAR}e`
 * and `env=`, ap_expr's `reqenv`). UnsetEnv only took names out of the configuration's table:
 * it never removes a variable the request set itself. (On a script's answer Apache's CGI
 * variables are merged with the last value winning, so there the SetEnv value shows; htsandbox
 * keeps the first one.)
 */
export function applyEnvFixup(cfg: EnvDirConfig, env: Map<string, string>): void {
  for (const [k, v] of cfg.setEnv) {
    if (v === undefined) continue;
    // The usual case: the request set no variable of its own (nothing to compare names with).
    if (env.size === 0) {
      env.set(k, v);
      continue;
    }
    if (env.has(k)) continue;
    const key = asciiLower(k);
    let present = false;
    for (const name of env.keys()) {
      if (asciiLower(name) === key) {
        present = true;
        break;
      }
    }
    if (!present) env.set(k, v);
  }
}
