/**
 * mod_setenvif (modules/metadata/mod_setenvif.c): `SetEnvIf`, `SetEnvIfNoCase`,
 * `BrowserMatch`, `BrowserMatchNoCase`, `SetEnvIfExpr`, and their per-directory list. Its
 * header_parser hook (`match_headers`) is the engine's `setEnvIfVariables`
 * (src/engine/resolve.ts), which reads the request's facts.
 */
import { exprModulesOf, parseApExpr, type Expr } from '../grammar/ap-expr.js';
import { compileApacheRegex, type ApacheRegex } from '../grammar/regex.js';
import { finding, refused, type CompileResult, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type ModuleDefinition } from './module.js';

/**
 * One `SetEnvIf`/`SetEnvIfNoCase`/`BrowserMatch` line (`attribute` and `regex`), or one
 * `SetEnvIfExpr` line (`expr`).
 */
export type SetEnvIfRule = SetEnvIfRegexRule | SetEnvIfExprRule;

interface SetEnvIfAssignments {
  /**
   * `[name, value]` as add_envvars keeps them: `!name` is `[name, '!']`, a bare name
   * `[name, '1']`. A value that starts with '!' unsets the variable when the rule matches.
   */
  assignments: [string, string][];
}

export interface SetEnvIfRegexRule extends SetEnvIfAssignments {
  /** Request attribute: a header name, or Remote_Addr, Request_URI, Request_Method … */
  attribute: string;
  regex: ApacheRegex;
  /**
   * The pattern has no regex metacharacter (non_regex_pattern): Apache matches it as a plain
   * string, and its values are taken as written ($1 stays "$1").
   */
  literal: boolean;
}

export interface SetEnvIfExprRule extends SetEnvIfAssignments {
  /** The condition; the values may use `$0`..`$9` of its last regex match (ap_expr_exec_re). */
  expr: Expr;
}

/** `non_regex_pattern`: whether a pattern uses no regex metacharacter (a backslash escapes one). */
function isPlainPattern(pattern: string): boolean {
  let escaped = false;
  for (const c of pattern) {
    if ('^.$|()[]*+?{}'.includes(c)) {
      if (!escaped) return false;
      escaped = false;
    } else if (c === '\\') escaped = !escaped;
    else if (escaped) return false;
  }
  return true;
}

/** `add_envvars`: `name=value`, `!name` (unset) or `name` (set to 1); an empty value counts as none. */
function envAssignments(words: readonly string[]): [string, string][] {
  return words.map((a): [string, string] => {
    const eq = a.indexOf('=');
    const name = eq === -1 ? a : a.slice(0, eq);
    const value = eq === -1 ? '' : a.slice(eq + 1);
    if (value !== '') return [name, value];
    return name.startsWith('!') ? [name.slice(1), '!'] : [name, '1'];
  });
}

/** mod_setenvif's slice of the per-directory configuration. */
export interface SetEnvIfDirConfig {
  /** The rules, parent's first, in order. */
  setEnvIf: readonly SetEnvIfRule[];
}

/** `add_setenvif_core`: its checks, with Apache's messages, then the rule serve applies. */
function compileRule(name: string, icase: boolean, browser: boolean, words: readonly string[]): CompileResult<SetEnvIfRule> {
  let i = 0;
  let attribute = 'User-Agent';
  if (!browser) {
    const field = words[i++];
    if (field === undefined || field === '') return refused(finding(`Missing header-field name for ${name}`));
    attribute = field;
  }
  const pattern = words[i++];
  if (pattern === undefined || pattern === '') return refused(finding(`Missing regular expression for ${name}`));
  if (words.length <= i) return refused(finding(`Missing envariable expression for ${name}`));
  const r = compileApacheRegex(pattern, icase);
  if (!r.ok) return refused(finding(`${name} regex could not be compiled.`, 'HT106', `The pattern does not compile: ${r.reason}.`));
  if (r.regex === undefined) {
    const unsupported: DirectiveFinding = { code: 'HT201', message: `pattern '${pattern}' uses PCRE features htsandbox cannot run (${r.unsupported}); the host accepts it` };
    return { findings: [unsupported], value: undefined };
  }
  return { findings: [], value: { attribute, regex: r.regex, literal: isPlainPattern(pattern), assignments: envAssignments(words.slice(i)) } };
}

/** `add_setenvifexpr`: the expression (ap_expr_parse_cmd), then the variables. */
function compileExprRule(words: readonly string[], hasModule: (id: string) => boolean): CompileResult<SetEnvIfRule> {
  const text = words[0];
  if (text === undefined || text === '') return refused(finding('Missing expression for SetEnvIfExpr'));
  const parsed = parseApExpr(text, exprModulesOf(hasModule));
  if (!parsed.ok) return refused(finding(`Could not parse expression "${text}": ${parsed.error}`, 'HT110'));
  if (words.length < 2) return refused(finding('Missing envariable expression for SetEnvIfExpr'));
  return { findings: [], value: { expr: parsed.expr, assignments: envAssignments(words.slice(1)) } };
}

function ruleDirective(name: string, icase: boolean, browser: boolean, help: string): DirectiveDefinition<SetEnvIfRule> {
  return { name, shape: 'RAW_ARGS', override: 'OR_FILEINFO', help, compile: ({ words }) => compileRule(name, icase, browser, words) };
}

const setEnvIfExpr: DirectiveDefinition<SetEnvIfRule> = {
  name: 'SetEnvIfExpr',
  shape: 'RAW_ARGS',
  override: 'OR_FILEINFO',
  help: 'an expression and a list of variables.',
  compile: ({ words, hasModule }) => compileExprRule(words, hasModule),
};

/** `merge_setenvif_config`: the level's rules after the parent's. */
function mergeSetEnvIf(base: Readonly<SetEnvIfDirConfig>, lines: readonly CompiledLine[]): Partial<SetEnvIfDirConfig> {
  return { setEnvIf: base.setEnvIf.concat(lines.map((l) => l.value as SetEnvIfRule)) };
}

/** mod_setenvif as Apache loads it. */
export const setEnvIfModule: ModuleDefinition<SetEnvIfDirConfig> = {
  name: 'setenvif',
  directives: [
    ruleDirective('SetEnvIf', false, false, 'A header-name, regex and a list of variables.'),
    ruleDirective('SetEnvIfNoCase', true, false, 'a header-name, regex and a list of variables.'),
    setEnvIfExpr,
    ruleDirective('BrowserMatch', false, true, 'A browser regex and a list of variables.'),
    ruleDirective('BrowserMatchNoCase', true, true, 'A browser regex and a list of variables.'),
  ],
  dirConfig: { empty: { setEnvIf: [] }, merge: mergeSetEnvIf },
  hooks: { header_parser: 'setEnvIfVariables' },
};
