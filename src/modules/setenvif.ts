/**
 * mod_setenvif (modules/metadata/mod_setenvif.c): `SetEnvIf`, `SetEnvIfNoCase`,
 * `BrowserMatch`, `BrowserMatchNoCase` (and `SetEnvIfExpr`, accepted but not emulated), and
 * their per-directory list. Its header_parser hook (`match_headers`) is the engine's
 * `setEnvIfVariables` (src/engine/resolve.ts), which reads the request's facts.
 */
import { compileApacheRegex, type ApacheRegex } from '../grammar/regex.js';
import { finding, parsedOnly, refused, type CompileResult, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type ModuleDefinition } from './module.js';

/** One `SetEnvIf`/`SetEnvIfNoCase`/`BrowserMatch` line. */
export interface SetEnvIfRule {
  /** Request attribute: a header name, or Remote_Addr, Request_URI, Request_Method … */
  attribute: string;
  regex: ApacheRegex;
  /** `[name, value]`; value undefined means `!name` (unset). */
  assignments: [string, string | undefined][];
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
  const assignments = words.slice(i).map((a): [string, string | undefined] => {
    if (a.startsWith('!')) return [a.slice(1), undefined];
    const eq = a.indexOf('=');
    return eq === -1 ? [a, '1'] : [a.slice(0, eq), a.slice(eq + 1)];
  });
  return { findings: [], value: { attribute, regex: r.regex, assignments } };
}

function ruleDirective(name: string, icase: boolean, browser: boolean, help: string): DirectiveDefinition<SetEnvIfRule> {
  return { name, shape: 'RAW_ARGS', override: 'OR_FILEINFO', help, compile: ({ words }) => compileRule(name, icase, browser, words) };
}

const setEnvIfExpr = parsedOnly('SetEnvIfExpr', 'RAW_ARGS', 'OR_FILEINFO', 'an expression and a list of variables.');

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
