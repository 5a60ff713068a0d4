/**
 * mod_alias (modules/mappers/mod_alias.c): the `Redirect` family htsandbox applies in
 * `.htaccess` and `<Directory>`, and the server-only `Alias` family it accepts without
 * emulating. Its per-directory redirects merge child first (`merge_alias_dir_config`); the
 * fixups hook that answers them (`fixup_redir`) is the engine's `matchRedirect`
 * (src/engine/resolve.ts).
 */
import { regexFinding } from '../grammar/directive-validators.js';
import { compileApacheRegex, type ApacheRegex } from '../grammar/regex.js';
import { finding, refused, type CompileResult, type CompiledLine, type DirectiveDefinition, type DirectiveInput, type ModuleDefinition, parsedOnly } from './module.js';

/** One Redirect or RedirectMatch. */
export interface RedirectRule {
  status: number;
  /** URL-path prefix (Redirect) or regex (RedirectMatch). */
  match: { kind: 'prefix'; path: string } | { kind: 'regex'; regex: ApacheRegex } | { kind: 'all' };
  target: string | undefined;
}

/** mod_alias' slice of the per-directory configuration. */
export interface AliasDirConfig {
  /** Redirect/RedirectMatch, child level first (the first match wins). */
  redirects: readonly RedirectRule[];
}

const isRedirect = (s: number): boolean => s >= 300 && s <= 399;
/** `ap_is_url`: a scheme of letters, digits, `+`, `-`, `.` followed by `:`. */
const isUrl = (s: string): boolean => /^[A-Za-z0-9+.-]+:/.test(s);

/** `add_redirect_internal`'s checks, with its messages; undefined when Apache accepts the line. */
function redirectProblem(useRegex: boolean, fixedStatus: number | undefined, { words, kind }: DirectiveInput): CompileResult<never> | undefined {
  let [arg1, arg2, arg3] = words as [string, string | undefined, string | undefined];
  if (fixedStatus !== undefined) {
    arg3 = arg2;
    arg2 = arg1;
    arg1 = String(fixedStatus);
  }
  let status = 302;
  let grok = 1;
  const l = arg1.toLowerCase();
  if (l === 'permanent') status = 301;
  else if (l === 'temp') status = 302;
  else if (l === 'seeother') status = 303;
  else if (l === 'gone') {
    status = 410;
    grok = -1;
  } else if (/^\d/.test(arg1)) {
    status = Number.parseInt(arg1, 10);
    if (!isRedirect(status)) grok = -1;
  } else grok = 0;
  if (arg3 !== undefined && grok === 0) return refused(finding('Redirect: invalid first argument (of three)'));
  const dirContext = kind === 'htaccess';
  // The expression form: every request here goes to that URL.
  if (dirContext && ((grok > 0 && arg2 !== undefined && arg3 === undefined) || (grok === 0 && arg2 === undefined))) return undefined;
  if (dirContext && grok < 0 && arg2 === undefined) return undefined;
  let fake = arg2;
  let url = arg3;
  if (arg3 === undefined && grok === 0) {
    fake = arg1;
    url = arg2;
  }
  if (useRegex && fake !== undefined) {
    const r = regexFinding(fake, false, 'Regular expression could not be compiled.');
    if (r) return { findings: [r], value: undefined };
  }
  if (isRedirect(status)) {
    if (url === undefined) return refused(finding('URL to redirect to is missing'));
    if (!useRegex && !isUrl(url) && !url.startsWith('/')) return refused(finding('Redirect to non-URL'));
  } else if (url !== undefined) {
    return refused(finding('Redirect URL not valid for this status'));
  }
  return undefined;
}

/** The rule serve applies for an accepted line. */
function redirectRule(key: string, words: readonly string[]): RedirectRule | undefined {
  let status = key === 'redirectpermanent' ? 301 : 302;
  let args = words;
  if (key === 'redirect' || key === 'redirectmatch') {
    const f = (words[0] ?? '').toLowerCase();
    const known: Record<string, number> = { permanent: 301, temp: 302, seeother: 303, gone: 410 };
    if (known[f] !== undefined) {
      status = known[f]!;
      args = words.slice(1);
    } else if (/^\d/.test(f)) {
      status = Number.parseInt(f, 10);
      args = words.slice(1);
    }
  }
  const [from, to] = args;
  if (from === undefined) return { status, match: { kind: 'all' }, target: undefined };
  if (key === 'redirectmatch') {
    const r = compileApacheRegex(from);
    if (!r.ok || !r.regex) return undefined;
    return { status, match: { kind: 'regex', regex: r.regex }, target: to };
  }
  if (to === undefined && status >= 300 && status < 400) {
    // dir-context expression form: every request here goes to that URL
    return { status, match: { kind: 'all' }, target: from };
  }
  return { status, match: { kind: 'prefix', path: from }, target: to };
}

function redirectDirective(name: string, shape: DirectiveDefinition['shape'], help: string, useRegex: boolean, fixedStatus?: number): DirectiveDefinition<RedirectRule> {
  const key = name.toLowerCase();
  return {
    name,
    shape,
    override: 'OR_FILEINFO',
    help,
    compile: (input) => redirectProblem(useRegex, fixedStatus, input) ?? { findings: [], value: redirectRule(key, input.words) },
  };
}

/** A directive htsandbox accepts as Apache does without reproducing its effect. */
/** `merge_alias_dir_config`: the level's redirects before the parent's. */
function mergeAlias(base: Readonly<AliasDirConfig>, lines: readonly CompiledLine[]): Partial<AliasDirConfig> {
  return { redirects: lines.map((l) => l.value as RedirectRule).concat(base.redirects) };
}

/** mod_alias as Apache loads it. */
export const aliasModule: ModuleDefinition<AliasDirConfig> = {
  name: 'alias',
  directives: [
    parsedOnly('Alias', 'TAKE12', 'RSRC_CONF|ACCESS_CONF', 'a fakename and a realname, or a realname in a Location'),
    parsedOnly('ScriptAlias', 'TAKE12', 'RSRC_CONF|ACCESS_CONF', 'a fakename and a realname, or a realname in a Location'),
    redirectDirective('Redirect', 'TAKE123', 'an optional status, then document to be redirected and destination URL', false),
    parsedOnly('AliasMatch', 'TAKE2', 'RSRC_CONF', 'a regular expression and a filename'),
    parsedOnly('ScriptAliasMatch', 'TAKE2', 'RSRC_CONF', 'a regular expression and a filename'),
    redirectDirective('RedirectMatch', 'TAKE23', 'an optional status, then a regular expression and destination URL', true),
    redirectDirective('RedirectTemp', 'TAKE2', 'a document to be redirected, then the destination URL', false, 302),
    redirectDirective('RedirectPermanent', 'TAKE2', 'a document to be redirected, then the destination URL', false, 301),
    parsedOnly('RedirectRelative', 'FLAG', 'OR_FILEINFO', 'Set to ON to allow relative redirect targets to be issued as-is'),
    parsedOnly('AliasPreservePath', 'FLAG', 'OR_FILEINFO', 'Set to ON to map the full path after the fakename to the realname.'),
  ],
  dirConfig: { empty: { redirects: [] }, merge: mergeAlias },
  hooks: { fixups: 'matchRedirect' },
};
