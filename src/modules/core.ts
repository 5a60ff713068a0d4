/**
 * core (server/core.c): its command table, whole. The per-directory directives (`Options`,
 * `SetHandler`, `ForceType`, `AddDefaultCharset`, `AcceptPathInfo`, `ErrorDocument`,
 * `ServerSignature`, `LimitRequestBody`, `RLimitCPU`/`MEM`/`NPROC`, `FileETag`, `CGIPassAuth`)
 * are checked as their handlers in core.c check them and merged as `merge_core_dir_configs`
 * does (the nearest level's value wins; ErrorDocument per status; the +/- forms of Options and
 * FileETag adjust the inherited bits). The sections `<Files>`, `<FilesMatch>` and
 * `<If>`/`<ElseIf>`/`<Else>` compile to the test a request applies them by, and land, with
 * their bodies, in core's sec_file and sec_if lists; `<Limit>` is checked here and read by the
 * modules whose lines honour it. The conditional sections and `Define` run while the parser
 * reads (src/grammar/parser.ts); the server-only containers and server-wide directives are
 * read with the host configuration.
 */
import picomatch from 'picomatch';
import { exprModulesOf, parseApExpr, type Expr } from '../grammar/ap-expr.js';
import { handlerFinding, HTTP_METHODS } from '../grammar/directive-validators.js';
import { compileApacheRegex } from '../grammar/regex.js';
import type { ConfigNode } from '../grammar/syntax-tree.js';
import { OPT_INC_WITH_EXEC, OPT_INCLUDES, OPT_SYM_LINKS, parseOptions, type OptionsChange } from '../grammar/options.js';
import { didYouMean } from '../grammar/suggest.js';
import { getWordConf, splitWords } from '../grammar/words.js';
import { finding, readByHost, parsedOnly, refused, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type LineSource, type ModuleDefinition } from './module.js';

/** An RLimit directive's words: soft (a number or `max`) and the optional hard value. */
export interface RLimitWords {
  soft: string;
  hard: string | undefined;
}

/** RLimitCPU / RLimitMEM / RLimitNPROC as written (the rlimits themselves: src/engine/resource-limits.ts). */
export interface RLimitDirectives {
  cpu?: RLimitWords;
  mem?: RLimitWords;
  nproc?: RLimitWords;
}

/** `ErrorDocument`, classified as `set_error_document` does (after quote removal). */
export type ErrorDocument = { kind: 'message' | 'local' | 'url'; value: string };

/** http_core.h's etag_components_t bits. */
export const ETAG_UNSET = 0;
export const ETAG_NONE = 1;
export const ETAG_MTIME = 2;
export const ETAG_INODE = 4;
export const ETAG_SIZE = 8;
export const ETAG_ALL = ETAG_MTIME | ETAG_INODE | ETAG_SIZE;

/** core_dir_config's etag_bits / etag_add / etag_remove. */
export interface FileETagBits {
  bits: number;
  add: number;
  remove: number;
}

/** core's slice of the per-directory configuration (the part moved here so far). */
export interface CoreDirConfig {
  /** SetHandler value (lower-cased, `proxy:unix…` as written); 'none' cancels an inherited one. */
  setHandler: string | undefined;
  /** Where the SetHandler line in effect is written. */
  setHandlerSource: LineSource | undefined;
  forceType: string | undefined;
  addDefaultCharset: string | undefined;
  acceptPathInfo: 'on' | 'off' | 'default';
  errorDocuments: ReadonlyMap<number, ErrorDocument>;
  serverSignature: 'on' | 'off' | 'email';
  /** ContentDigest On: the default handler sends the file's Content-MD5. */
  contentDigest: boolean;
  /** LimitRequestBody in bytes (0: unlimited). Apache's default since 2.4.54 is 1 GiB. */
  limitRequestBody: number;
  /** RLimitCPU / RLimitMEM / RLimitNPROC as written (core_dir_config's limit_*; the nearest level wins). */
  rlimits: RLimitDirectives;
  /** FileETag as core keeps it: absolute bits and the +/- ones (ETAG_* of http_core.h). */
  fileETag: FileETagBits;
  /** Options in effect (OPT_* of src/grammar/options.ts); FollowSymLinks where nothing is set. */
  options: number;
  /**
   * core_dir_config's opts_add / opts_remove: the +/- options of the levels since the nearest
   * absolute Options line, which a lower level's relative line merges with.
   */
  optionsAdd: number;
  optionsRemove: number;
  /** CGIPassAuth: scripts see the Authorization header. Default off. */
  cgiPassAuth: boolean;
  /** `CGIVar REQUEST_URI current-uri`: a script's REQUEST_URI is r->uri (after a rewrite), not the request line's. */
  requestUriCurrent: boolean;
  /** QualifyRedirectURL On: a script's REDIRECT_URL is the previous request's full URL (scheme, host, query). */
  qualifyRedirectUrl: boolean;
  /** core_dir_config's sec_file: the `<Files>`/`<FilesMatch>` sections in merge order, matched per request. */
  files: readonly FilesSection[];
  /** core_dir_config's sec_if: `<If>`, `<ElseIf>`, `<Else>` sections in merge order, applied per request. */
  ifs: readonly IfSection[];
}

/** What a `<Files>`/`<FilesMatch>` line compiles to: the test of a file's basename. */
export interface FilesCondition {
  kind: 'files';
  matches(basename: string): boolean;
  /** The pattern as `filesection` leaves it in cmd->path: the "directory" of the section's per-dir configurations. */
  path: string;
}

/** What an `<If>`/`<ElseIf>`/`<Else>` line compiles to: its kind and parsed condition (none for `<Else>`). */
export interface IfCondition {
  kind: 'if' | 'elseif' | 'else';
  condition: Expr | undefined;
}

/** A `<Files>`/`<FilesMatch>` section, ready to match a basename. */
export interface FilesSection {
  matches(basename: string): boolean;
  /** cmd->path of its lines: the pattern (mod_rewrite's per-dir prefix there is this + '/'). */
  path: string;
  nodes: readonly ConfigNode[];
  /** Where it is written and its opening line (`file:line <Files "x">`), for a decision's configuration reference. */
  where: string;
}

/** One `<If>`-family section: its kind, its parsed condition (none for `<Else>`), its body. */
export interface IfSection extends IfCondition {
  nodes: readonly ConfigNode[];
  /** Where it is written and its opening line, for a decision's configuration reference. */
  where: string;
}

/** What one line sets: a field, an error document, a resource limit, or FileETag keywords. */
type CoreLine =
  | { kind: 'field'; fields: Partial<CoreDirConfig> }
  | { kind: 'errordocument'; status: number; doc: ErrorDocument | undefined }
  | { kind: 'rlimit'; which: keyof RLimitDirectives; soft: string; hard: string | undefined }
  | { kind: 'fileetag'; words: readonly string[] }
  | { kind: 'options'; change: OptionsChange }
  | FilesCondition
  | IfCondition;

const ok = (value: CoreLine): { findings: DirectiveFinding[]; value: CoreLine } => ({ findings: [], value });

/** `set_error_document`: a quoted text (one with a space), a local path, a URL, or `default`. */
function errorDocumentLine(words: readonly string[]): CoreLine {
  const status = Number.parseInt(words[0] ?? '', 10);
  const target = words[1] ?? '';
  let doc: ErrorDocument | undefined;
  if (target.toLowerCase() === 'default') doc = undefined;
  else if (target.includes(' ')) doc = { kind: 'message', value: target };
  else if (target.startsWith('/')) doc = { kind: 'local', value: target };
  else if (/^[A-Za-z0-9+.-]+:/.test(target)) doc = { kind: 'url', value: target };
  else doc = { kind: 'message', value: target };
  return { kind: 'errordocument', status, doc };
}

function keyword<T extends string>(allowed: readonly T[], message: string, make: (w: T) => Partial<CoreDirConfig>): DirectiveDefinition<CoreLine>['compile'] {
  return ({ words }) => {
    const w = (words[0] ?? '').toLowerCase() as T;
    return allowed.includes(w) ? ok({ kind: 'field', fields: make(w) }) : refused(finding(message));
  };
}

/** `set_limit_req_body`: a non-negative integer that apr_strtoi64 reads whole. */
function limitRequestBodyFinding(w: string): DirectiveFinding | undefined {
  const m = /^\s*([+-]?)(\d*)/.exec(w)!;
  if (m[2]!.length > 18) return finding('LimitRequestBody argument is not parsable.');
  if (m[0].length !== w.length || m[2] === '' || (m[1] === '-' && Number(m[2]) > 0)) return finding('LimitRequestBody requires a non-negative integer.');
  return undefined;
}

/** `set_etag_bits`' keyword checks. */
function fileETagFinding(words: readonly string[]): DirectiveFinding | undefined {
  for (const raw of words) {
    const w = raw.replace(/^[+-]/, '').toLowerCase();
    if (!['none', 'all', 'size', 'lmtime', 'mtime', 'lastmodified', 'inode', 'digest'].includes(w))
      return finding(`Unknown keyword '${raw.replace(/^[+-]/, '')}' for FileETag directive`);
    if (/^[+-]/.test(raw) && ['none', 'all', 'digest'].includes(w)) return finding(`FileETag keyword '${raw.slice(1)}' cannot be used with '+' or '-'`);
  }
  return undefined;
}

function rlimit(name: string, which: keyof RLimitDirectives, help: string): DirectiveDefinition<CoreLine> {
  return { name, shape: 'TAKE12', override: 'OR_ALL', help, compile: ({ words }) => ok({ kind: 'rlimit', which, soft: words[0] ?? '', hard: words[1] }) };
}

/** One FileETag line as core.c's set_etag_bits reads it (the compile refused bad ones). */
function fileETagLine(words: readonly string[], current: FileETagBits): FileETagBits {
  let { bits, add, remove } = current;
  let first = true;
  for (const raw of words) {
    const action = raw[0] === '+' || raw[0] === '-' ? raw[0] : '*';
    const token = (action === '*' ? raw : raw.slice(1)).toLowerCase();
    if (action === '*' && first) {
      // The first absolute keyword forgets inherited and earlier relative settings.
      bits = add = remove = ETAG_UNSET;
      first = false;
    }
    if (token === 'none') bits = ETAG_NONE;
    else if (token === 'all') bits = ETAG_ALL;
    else {
      const bit = token === 'size' ? ETAG_SIZE : token === 'inode' ? ETAG_INODE : ['mtime', 'lmtime', 'lastmodified'].includes(token) ? ETAG_MTIME : ETAG_UNSET;
      if (action === '+') {
        add |= bit;
        remove &= ~bit;
      } else if (action === '-') {
        remove |= bit;
        add &= ~bit;
      } else bits |= bit;
    }
  }
  return { bits, add, remove };
}

/** merge_core_dir_configs for FileETag: a level's absolute setting replaces, +/- ones adjust. */
function mergeFileETag(base: FileETagBits, level: FileETagBits): FileETagBits {
  let merged: FileETagBits;
  if (level.bits === ETAG_UNSET) {
    const add = (base.add & ~level.remove) | level.add;
    const remove = (base.remove & ~level.add) | level.remove;
    merged = { bits: (base.bits & ~remove) | add, add, remove };
  } else merged = { ...level };
  if (merged.bits !== ETAG_NONE) merged.bits &= ~ETAG_NONE;
  return merged;
}

/** Options' keywords as the manual spells them, for "did you mean". */
const OPTION_NAMES = ['All', 'None', 'Indexes', 'Includes', 'IncludesNOEXEC', 'FollowSymLinks', 'SymLinksIfOwnerMatch', 'ExecCGI', 'MultiViews'];

/** `set_options`: Apache's error for the line, or what it changes; `overrideOpts` is AllowOverride's Options=… list. */
const compileOptions: DirectiveDefinition<CoreLine>['compile'] = ({ rawArgs, overrideOpts }) => {
  const r = parseOptions(
    splitWords(rawArgs).map((w) => w.value),
    overrideOpts,
  );
  if ('change' in r) return ok({ kind: 'options', change: r.change });
  const illegal = /^Illegal option (.*)$/.exec(r.error);
  const suggestion = illegal ? didYouMean(illegal[1]!, OPTION_NAMES) : '';
  return refused(finding(r.error, 'HT105', suggestion ? `${suggestion.charAt(0).toUpperCase()}${suggestion.slice(1).trimEnd()}` : undefined));
};

/** A level's own Options, as `set_options` leaves core_dir_config (opts stays unset until an absolute line). */
interface LevelOptions {
  absolute: boolean;
  opts: number;
  add: number;
  remove: number;
}

/** One more Options line of the same level: its words act on what the earlier lines left. */
function optionsLine(level: LevelOptions, change: OptionsChange): LevelOptions {
  return {
    absolute: level.absolute || change.absolute,
    opts: change.absolute ? change.opts : (level.opts & ~change.remove) | change.add,
    add: (level.add & ~change.remove) | change.add,
    remove: (level.remove & ~change.add) | change.remove,
  };
}

/**
 * merge_core_dir_configs for Options: an absolute setting replaces the inherited one with its
 * +/- lists; a relative one merges its lists with the inherited ones and applies them all, and
 * IncludesNOEXEC takes exec away from an inherited Includes.
 */
function mergeOptions(base: Readonly<CoreDirConfig>, level: LevelOptions): Pick<CoreDirConfig, 'options' | 'optionsAdd' | 'optionsRemove'> {
  if (level.absolute) return { options: level.opts, optionsAdd: level.add, optionsRemove: level.remove };
  const optionsAdd = (base.optionsAdd & ~level.remove) | level.add;
  const optionsRemove = (base.optionsRemove & ~level.add) | level.remove;
  let options = (base.options & ~optionsRemove) | optionsAdd;
  const withExec = OPT_INCLUDES | OPT_INC_WITH_EXEC;
  if ((base.options & withExec) === withExec && (level.opts & withExec) === OPT_INCLUDES) options &= ~OPT_INC_WITH_EXEC;
  return { options, optionsAdd, optionsRemove };
}

/**
 * A section's verdict by file name, remembered: the same few names come back on every request,
 * and a lookup costs far less than a pattern match (even a linear-time RE2 match walks the
 * whole name). Bounded, since clients choose the names.
 */
function remembered(test: (basename: string) => boolean): (basename: string) => boolean {
  const seen = new Map<string, boolean>();
  return (b) => {
    let verdict = seen.get(b);
    if (verdict === undefined) {
      verdict = test(b);
      if (seen.size >= 1024) seen.clear();
      seen.set(b, verdict);
    }
    return verdict;
  };
}

/** The argument text of a section line, up to its closing '>' (undefined without one). */
function sectionArgs(rawArgs: string): string | undefined {
  const gt = rawArgs.lastIndexOf('>');
  return gt === -1 ? undefined : rawArgs.slice(0, gt);
}

/** A finding Apache gives once the section's body was read (`Multiple <X> arguments`). */
function afterBody(message: string): DirectiveFinding {
  return { code: 'HT102', message, afterBody: true };
}

/**
 * `filesection` (core.c) for `<Files>` and `<FilesMatch>`: the pattern (a regex after `~` or in
 * `<FilesMatch>`, else an apr_fnmatch wildcard or a name) and the test of a basename.
 */
function compileFiles(name: string, isRegex: boolean): DirectiveDefinition<CoreLine>['compile'] {
  return ({ rawArgs }) => {
    let arg = sectionArgs(rawArgs);
    if (arg === undefined) return refused(finding(`${name}> directive missing closing '>'`, 'HT103'));
    let w = getWordConf(arg, 0);
    if (w.value === '') return refused(finding(`${name}> directive requires additional arguments`, 'HT102'));
    const findings: DirectiveFinding[] = [];
    let matches: ((basename: string) => boolean) | undefined;
    if (isRegex || w.value === '~') {
      if (!isRegex) {
        arg = arg.slice(w.next);
        w = getWordConf(arg, 0);
      }
      const pattern = w.value;
      const r = compileApacheRegex(pattern);
      if (!r.ok) return refused(finding('Regex could not be compiled', 'HT106', `The pattern does not compile: ${r.reason}.`));
      const regex = r.regex;
      if (regex === undefined) findings.push(finding(`pattern '${pattern}' uses PCRE features htsandbox cannot run; the host accepts it`, 'HT201'));
      else matches = remembered((b) => regex.test(b));
    } else if (/[*?[]/.test(w.value)) {
      // apr_fnmatch(APR_FNM_PATHNAME), case-sensitive, `*` matches a leading dot.
      const isMatch = picomatch(w.value, { dot: true, nobrace: true, noextglob: true, nonegate: true, noglobstar: true });
      matches = remembered((b) => b !== '' && isMatch(b));
    } else {
      const pattern = w.value;
      matches = (b) => b === pattern;
    }
    if (w.next < arg.length) findings.push(afterBody(`Multiple ${name}> arguments not (yet) supported.`));
    // cmd->path: the regex or the name (which apr_filepath_merge would make canonical: only a
    // name with a '/', which no basename matches, changes).
    return { findings, value: matches ? { kind: 'files', matches, path: w.value } : undefined };
  };
}

/** `ifsection` (core.c): the condition parsed as ap_expr; `<Else>` takes none. */
function compileIf(name: string, kind: IfCondition['kind']): DirectiveDefinition<CoreLine>['compile'] {
  return ({ rawArgs, hasModule }) => {
    const arg = sectionArgs(rawArgs);
    if (arg === undefined) return refused(finding(`${name}> directive missing closing '>'`, 'HT103'));
    if (kind === 'else') return arg.trim() !== '' ? refused(finding('<Else> does not take an argument', 'HT102')) : ok({ kind, condition: undefined });
    const w = getWordConf(arg, 0);
    if (w.value === '') return refused(finding(`${name}> directive requires additional arguments`, 'HT102'));
    const parsed = parseApExpr(w.value, exprModulesOf(hasModule));
    if (!parsed.ok) return refused(finding(`Cannot parse condition clause: ${parsed.error}`, 'HT110'));
    return { findings: arg.slice(w.next).trim() !== '' ? [afterBody(`Multiple ${name}> arguments not (yet) supported.`)] : [], value: { kind, condition: parsed.expr } };
  };
}

/**
 * `ap_limit_section` (core.c): the methods, each one httpd knows (an `.htaccess` may not
 * register new ones). The methods are read by the modules whose lines honour them
 * (authz_core's Require, access_compat's Allow/Deny).
 */
function compileLimit(name: string): DirectiveDefinition<never>['compile'] {
  return ({ rawArgs, kind }) => {
    const arg = sectionArgs(rawArgs);
    if (arg === undefined) return refused(finding(`${name}> directive missing closing '>'`, 'HT103'));
    const methods = splitWords(arg).map((x) => x.value);
    if (methods.length === 0) return refused(finding(`${name}> directive requires additional arguments`, 'HT102'));
    for (const m of methods) {
      if (m === 'TRACE') return refused(finding('TRACE cannot be controlled by <Limit>, see TraceEnable'));
      if (kind === 'htaccess' && (!/^[A-Z-]+$/.test(m) || !HTTP_METHODS.has(m)))
        return refused(finding(`Could not register method '${m}' for ${name} from .htaccess configuration`));
    }
    return { findings: [], value: undefined };
  };
}

/** `generate_error` (core.c): always fails, with its own text (only the surrounding quotes go). */
const compileError: DirectiveDefinition<never>['compile'] = ({ rawArgs }) =>
  refused(finding(rawArgs.length >= 2 && rawArgs.startsWith('"') && rawArgs.endsWith('"') ? rawArgs.slice(1, -1) : rawArgs, 'HT108'));

/** `merge_core_dir_configs` for these fields: the level's lines, in order, over what it inherits. */
function mergeCore(base: Readonly<CoreDirConfig>, lines: readonly CompiledLine[]): Partial<CoreDirConfig> {
  const out: Partial<CoreDirConfig> = {};
  let errorDocs: Map<number, ErrorDocument> | undefined;
  let fileETag: FileETagBits | undefined;
  let options: LevelOptions | undefined;
  let files: FilesSection[] | undefined;
  let ifs: IfSection[] | undefined;
  for (const l of lines) {
    const line = l.value as CoreLine;
    switch (line.kind) {
      case 'field':
        Object.assign(out, line.fields);
        if ('setHandler' in line.fields) out.setHandlerSource = l.source;
        break;
      case 'errordocument':
        errorDocs ??= new Map(base.errorDocuments);
        if (line.doc) errorDocs.set(line.status, line.doc);
        else errorDocs.delete(line.status);
        break;
      case 'rlimit':
        // A level's own limit replaces the inherited one.
        if (line.soft !== '') out.rlimits = { ...(out.rlimits ?? base.rlimits), [line.which]: { soft: line.soft, hard: line.hard } };
        break;
      case 'fileetag':
        fileETag = fileETagLine(line.words, fileETag ?? { bits: ETAG_UNSET, add: ETAG_UNSET, remove: ETAG_UNSET });
        break;
      case 'options':
        options = optionsLine(options ?? { absolute: false, opts: 0, add: 0, remove: 0 }, line.change);
        break;
      case 'files':
        (files ??= []).push({ matches: line.matches, path: line.path, nodes: l.body ?? [], where: l.where ?? '' });
        break;
      case 'if':
      case 'elseif':
      case 'else':
        (ifs ??= []).push({ kind: line.kind, condition: line.condition, nodes: l.body ?? [], where: l.where ?? '' });
        break;
    }
  }
  // sec_file and sec_if: the level's sections after the inherited ones, joined once (a copy
  // per section made a 20,000-line file quadratic, issue 14).
  if (files) out.files = base.files.concat(files);
  if (ifs) out.ifs = base.ifs.concat(ifs);
  if (errorDocs) out.errorDocuments = errorDocs;
  if (fileETag) out.fileETag = mergeFileETag(base.fileETag, fileETag);
  if (options) Object.assign(out, mergeOptions(base, options));
  return out;
}

const EMPTY_CORE: CoreDirConfig = {
  setHandler: undefined,
  setHandlerSource: undefined,
  forceType: undefined,
  addDefaultCharset: undefined,
  acceptPathInfo: 'default',
  errorDocuments: new Map(),
  serverSignature: 'off',
  contentDigest: false,
  limitRequestBody: 1024 * 1024 * 1024,
  rlimits: {},
  fileETag: { bits: ETAG_UNSET, add: ETAG_UNSET, remove: ETAG_UNSET },
  // create_core_dir_config for the server: OPT_UNSET|OPT_SYM_LINKS.
  options: OPT_SYM_LINKS,
  optionsAdd: 0,
  optionsRemove: 0,
  cgiPassAuth: false,
  requestUriCurrent: false,
  qualifyRedirectUrl: false,
  files: [],
  ifs: [],
};

/** core, as every Apache build has it. */
export const coreModule: ModuleDefinition<CoreDirConfig> = {
  name: 'core',
  directives: [
    { name: 'Options', shape: 'RAW_ARGS', override: 'OR_OPTIONS', help: 'Set a number of attributes for a given directory', compile: compileOptions },
    {
      name: 'CGIPassAuth',
      shape: 'FLAG',
      override: 'OR_AUTHCFG',
      help: 'Controls whether HTTP authorization headers, normally hidden, will be passed to scripts',
      compile: ({ words }) => ok({ kind: 'field', fields: { cgiPassAuth: (words[0] ?? '').toLowerCase() === 'on' } }),
    },
    {
      // set_default_type: a warning unless off/none, and no effect either way (2.4 has no default type).
      name: 'DefaultType',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'the default media type for otherwise untyped files (DEPRECATED)',
      compile: ({ words }) => {
        const w = (words[0] ?? '').toLowerCase();
        const findings = w === 'none' || w === 'off' ? [] : [finding('Ignoring deprecated use of DefaultType (it has no effect in Apache 2.4)', 'HT202')];
        return { findings, value: undefined };
      },
      parsedOnly: true,
    },
    {
      name: 'AddDefaultCharset',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: "The name of the default charset to add to any Content-Type without one or 'Off' to disable",
      compile: ({ words }) => {
        const w0 = words[0] ?? '';
        const l = w0.toLowerCase();
        return ok({ kind: 'field', fields: { addDefaultCharset: l === 'off' ? undefined : l === 'on' ? 'iso-8859-1' : w0 } });
      },
    },
    {
      name: 'AcceptPathInfo',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'Set to on or off for PATH_INFO to be accepted by handlers, or default for the per-handler preference',
      compile: keyword(['on', 'off', 'default'] as const, 'AcceptPathInfo must be set to on, off or default', (w) => ({ acceptPathInfo: w })),
    },
    {
      name: 'ErrorDocument',
      shape: 'TAKE2',
      override: 'OR_FILEINFO',
      help: 'Change responses for HTTP errors',
      compile: ({ words }) => {
        const code = Number.parseInt(words[0] ?? '', 10);
        if (!(code >= 400 && code < 600)) return refused(finding(`Unsupported HTTP response code ${words[0]}`));
        const line = errorDocumentLine(words);
        // set_error_document: a client sent elsewhere would never be asked for credentials, so
        // the line is dropped (a notice in the host's log) and the 401 keeps what it had.
        if (code === 401 && line.kind === 'errordocument' && line.doc?.kind === 'url') {
          return {
            findings: [
              finding(
                'AH00113: cannot use a full URL in a 401 ErrorDocument directive --- ignoring!',
                'HT202',
                'Point ErrorDocument 401 at a local page (/login.html) or a message; a full URL is ignored for 401.',
              ),
            ],
            value: undefined,
          };
        }
        return ok(line);
      },
    },
    {
      name: 'FileETag',
      shape: 'RAW_ARGS',
      override: 'OR_FILEINFO',
      help: "Specify components used to construct a file's ETag",
      compile: ({ words }) => {
        const f = fileETagFinding(words);
        return f ? refused(f) : ok({ kind: 'fileetag', words });
      },
    },
    {
      name: 'ServerSignature',
      shape: 'TAKE1',
      override: 'OR_ALL',
      help: 'En-/disable server signature (on|off|email)',
      compile: keyword(['on', 'off', 'email'] as const, 'ServerSignature: use one of: off | on | email', (w) => ({ serverSignature: w })),
    },
    {
      name: 'LimitRequestBody',
      shape: 'TAKE1',
      override: 'OR_ALL',
      help: 'Limit (in bytes) on maximum size of request message body',
      compile: ({ words }) => {
        const w0 = words[0] ?? '';
        const f = limitRequestBodyFinding(w0);
        return f ? refused(f) : ok({ kind: 'field', fields: { limitRequestBody: Number.parseInt(w0, 10) || 0 } });
      },
    },
    rlimit('RLimitCPU', 'cpu', 'Soft/hard limits for max CPU usage in seconds'),
    rlimit('RLimitMEM', 'mem', 'Soft/hard limits for max memory usage per process'),
    rlimit('RLimitNPROC', 'nproc', 'soft/hard limits for max number of processes per uid'),
    {
      name: 'ForceType',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'a mime type that overrides other configured type',
      compile: ({ words }) => ok({ kind: 'field', fields: { forceType: (words[0] ?? '').toLowerCase() } }),
    },
    {
      name: 'SetHandler',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'a handler name that overrides any other configured handler',
      compile: ({ words, hasModule }) => {
        const w0 = words[0] ?? '';
        const f = words[0] === undefined ? undefined : handlerFinding(w0, hasModule);
        // A handler nobody provides is a warning (core's default handler sends the file): still applied.
        return { findings: f ? [f] : [], value: { kind: 'field', fields: { setHandler: w0.toLowerCase().startsWith('proxy:unix') ? w0 : w0.toLowerCase() } } };
      },
    },
    // Sections, the lines Apache runs while reading, and the server-wide directives, in
    // core.c's command table order.
    readByHost('<Directory', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources located in the specified directories'),
    parsedOnly('<Location', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources accessed through the specified URL paths'),
    parsedOnly('<VirtualHost', 'RAW_ARGS', 'RSRC_CONF', 'Container to map directives to a particular virtual host, takes one or more host addresses'),
    { name: '<Files', shape: 'RAW_ARGS', override: 'OR_ALL', help: 'Container for directives affecting files matching specified patterns', compile: compileFiles('<Files', false) },
    {
      name: '<Limit',
      shape: 'RAW_ARGS',
      override: 'OR_LIMIT|OR_AUTHCFG',
      help: 'Container for authentication directives when accessed using specified HTTP methods',
      compile: compileLimit('<Limit'),
    },
    {
      name: '<LimitExcept',
      shape: 'RAW_ARGS',
      override: 'OR_LIMIT|OR_AUTHCFG',
      help: 'Container for authentication directives to be applied when any HTTP method other than those specified is used to access the resource',
      compile: compileLimit('<LimitExcept'),
    },
    readByHost('<IfModule', 'RAW_ARGS', 'EXEC_ON_READ|OR_ALL', 'Container for directives based on existence of specified modules'),
    readByHost('<IfDefine', 'RAW_ARGS', 'EXEC_ON_READ|OR_ALL', 'Container for directives based on existence of command line defines'),
    readByHost('<IfFile', 'RAW_ARGS', 'EXEC_ON_READ|OR_ALL', 'Container for directives based on existence of files on disk'),
    readByHost('<IfDirective', 'RAW_ARGS', 'EXEC_ON_READ|OR_ALL', 'Container for directives based on existence of named directive'),
    readByHost('<IfSection', 'RAW_ARGS', 'EXEC_ON_READ|OR_ALL', 'Container for directives based on existence of named section'),
    readByHost('<DirectoryMatch', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources located in the specified directories'),
    parsedOnly('<LocationMatch', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources accessed through the specified URL paths'),
    {
      name: '<FilesMatch',
      shape: 'RAW_ARGS',
      override: 'OR_ALL',
      help: 'Container for directives affecting files matching specified patterns',
      compile: compileFiles('<FilesMatch', true),
    },
    parsedOnly('GprofDir', 'TAKE1', 'RSRC_CONF', 'Directory to plop gmon.out files'),
    readByHost('Define', 'TAKE12', 'EXEC_ON_READ|ACCESS_CONF|RSRC_CONF', 'Define a variable, optionally to a value.  Same as passing -D to the command line.'),
    readByHost('UnDefine', 'TAKE1', 'EXEC_ON_READ|ACCESS_CONF|RSRC_CONF', 'Undefine the existence of a variable. Undo a Define.'),
    { name: 'Error', shape: 'RAW_ARGS', override: 'OR_ALL', help: 'Generate error message from within configuration', compile: compileError },
    { name: '<If', shape: 'RAW_ARGS', override: 'OR_ALL', help: 'Container for directives to be conditionally applied', compile: compileIf('<If', 'if') },
    { name: '<ElseIf', shape: 'RAW_ARGS', override: 'OR_ALL', help: 'Container for directives to be conditionally applied', compile: compileIf('<ElseIf', 'elseif') },
    { name: '<Else', shape: 'RAW_ARGS', override: 'OR_ALL', help: 'Container for directives to be conditionally applied', compile: compileIf('<Else', 'else') },
    readByHost('AccessFileName', 'RAW_ARGS', 'RSRC_CONF', 'Name(s) of per-directory config files (default: .htaccess)'),
    readByHost('DocumentRoot', 'TAKE1', 'RSRC_CONF', 'Root directory of the document tree'),
    readByHost('AllowOverride', 'RAW_ARGS', 'ACCESS_CONF', 'Controls what groups of directives can be configured by per-directory config files'),
    readByHost('AllowOverrideList', 'TAKE_ARGV', 'ACCESS_CONF', 'Controls what individual directives can be configured by per-directory config files'),
    parsedOnly('EnableMMAP', 'TAKE1', 'OR_FILEINFO', 'Controls whether memory-mapping may be used to read files'),
    parsedOnly('EnableSendfile', 'TAKE1', 'OR_FILEINFO', 'Controls whether sendfile may be used to transmit files'),
    parsedOnly('ReadBufferSize', 'TAKE1', 'ACCESS_CONF|RSRC_CONF', 'Size (in bytes) of the memory buffers used to read data'),
    parsedOnly('FlushMaxThreshold', 'TAKE1', 'RSRC_CONF', 'Maximum threshold above which pending data are flushed to the network'),
    parsedOnly('FlushMaxPipelined', 'TAKE1', 'RSRC_CONF', 'Maximum number of pipelined responses (pending) above which they are flushed to the network'),
    parsedOnly('UNCList', 'TAKE_ARGV', 'RSRC_CONF|EXEC_ON_READ', 'Controls what UNC hosts may be looked up'),
    parsedOnly('Protocol', 'TAKE1', 'RSRC_CONF', 'Set the Protocol for httpd to use.'),
    parsedOnly('AcceptFilter', 'TAKE2', 'RSRC_CONF', 'Set the Accept Filter to use for a protocol'),
    parsedOnly('Port', 'TAKE1', 'RSRC_CONF', 'Port was replaced with Listen in Apache 2.0'),
    parsedOnly('HostnameLookups', 'TAKE1', 'ACCESS_CONF|RSRC_CONF', '"on" to enable, "off" to disable reverse DNS lookups, or "double" to enable double-reverse DNS lookups'),
    readByHost('ServerAdmin', 'TAKE1', 'RSRC_CONF', 'The email address of the server administrator'),
    readByHost('ServerName', 'TAKE1', 'RSRC_CONF', 'The hostname and port of the server'),
    parsedOnly('ServerRoot', 'TAKE1', 'RSRC_CONF|EXEC_ON_READ', 'Common directory of server-related files (logs, confs, etc.)'),
    parsedOnly('DefaultRuntimeDir', 'TAKE1', 'RSRC_CONF|EXEC_ON_READ', 'Common directory for run-time files (shared memory, locks, etc.)'),
    parsedOnly('ErrorLog', 'TAKE1', 'RSRC_CONF', 'The filename of the error log'),
    parsedOnly('ErrorLogFormat', 'TAKE12', 'RSRC_CONF', 'Format string for the ErrorLog'),
    parsedOnly('ServerAlias', 'RAW_ARGS', 'RSRC_CONF', 'A name or names alternately used to access the server'),
    parsedOnly('ServerPath', 'TAKE1', 'RSRC_CONF', 'The pathname the server can be reached at'),
    readByHost('Timeout', 'TAKE1', 'RSRC_CONF', 'Timeout duration (sec)'),
    {
      name: 'ContentDigest',
      shape: 'FLAG',
      override: 'OR_OPTIONS',
      help: 'whether or not to send a Content-MD5 header with each request',
      compile: ({ words }) => ok({ kind: 'field', fields: { contentDigest: (words[0] ?? '').toLowerCase() === 'on' } }),
    },
    parsedOnly('UseCanonicalName', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'How to work out the ServerName : Port when constructing URLs'),
    parsedOnly('UseCanonicalPhysicalPort', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'Whether to use the physical Port when constructing URLs'),
    readByHost('Include', 'TAKE1', 'RSRC_CONF|ACCESS_CONF|EXEC_ON_READ', 'Name(s) of the config file(s) to be included; fails if the wildcard does not match at least one file'),
    readByHost(
      'IncludeOptional',
      'TAKE1',
      'RSRC_CONF|ACCESS_CONF|EXEC_ON_READ',
      'Name or pattern of the config file(s) to be included; ignored if the file does not exist or the pattern does not match any files',
    ),
    parsedOnly('LogLevel', 'ITERATE', 'RSRC_CONF|ACCESS_CONF', 'Level of verbosity in error logging'),
    parsedOnly('NameVirtualHost', 'TAKE1', 'RSRC_CONF', 'A numeric IP address:port, or the name of a host'),
    parsedOnly('ServerTokens', 'TAKE1', 'RSRC_CONF', 'Determine tokens displayed in the Server: header - Min(imal), Major, Minor, Prod(uctOnly), OS, or Full'),
    readByHost('LimitRequestLine', 'TAKE1', 'RSRC_CONF', 'Limit on maximum size of an HTTP request line'),
    readByHost('LimitRequestFieldsize', 'TAKE1', 'RSRC_CONF', 'Limit on maximum size of an HTTP request header field'),
    readByHost('LimitRequestFields', 'TAKE1', 'RSRC_CONF', 'Limit (0 = unlimited) on max number of header fields in a request message'),
    parsedOnly('LimitXMLRequestBody', 'TAKE1', 'OR_ALL', 'Limit (in bytes) on maximum size of an XML-based request body'),
    parsedOnly('Mutex', 'RAW_ARGS', 'RSRC_CONF', 'mutex (or "default") and mechanism'),
    parsedOnly('MaxRanges', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'Maximum number of Ranges in a request before returning the entire resource, or 0 for unlimited'),
    parsedOnly('MaxRangeOverlaps', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'Maximum number of overlaps in Ranges in a request before returning the entire resource, or 0 for unlimited'),
    parsedOnly(
      'MaxRangeReversals',
      'TAKE1',
      'RSRC_CONF|ACCESS_CONF',
      'Maximum number of reversals in Ranges in a request before returning the entire resource, or 0 for unlimited',
    ),
    parsedOnly('RegexDefaultOptions', 'RAW_ARGS', 'RSRC_CONF', "default options for regexes (prefixed by '+' to add, '-' to del)"),
    parsedOnly('LimitInternalRecursion', 'TAKE12', 'RSRC_CONF', 'maximum recursion depth of internal redirects and subrequests'),
    {
      // set_cgi_var: REQUEST_URI is the only variable it knows (its name compared as written).
      name: 'CGIVar',
      shape: 'TAKE2',
      override: 'OR_FILEINFO',
      help: 'Controls how some CGI variables are set',
      compile: ({ words }) => {
        const [variable = '', rule = ''] = words;
        if (variable !== 'REQUEST_URI') return refused(finding(`Unrecognized CGI variable: "${variable}"`, 'HT105'));
        const r = rule.toLowerCase();
        if (r !== 'current-uri' && r !== 'original-uri') return refused(finding("Valid rules for REQUEST_URI are 'current-uri' and 'original-uri'", 'HT105'));
        return ok({ kind: 'field', fields: { requestUriCurrent: r === 'current-uri' } });
      },
    },
    {
      name: 'QualifyRedirectURL',
      shape: 'FLAG',
      override: 'OR_FILEINFO',
      help: 'Controls whether the REDIRECT_URL environment variable is fully qualified',
      compile: ({ words }) => ok({ kind: 'field', fields: { qualifyRedirectUrl: (words[0] ?? '').toLowerCase() === 'on' } }),
    },
    parsedOnly('StrictHostCheck', 'FLAG', 'RSRC_CONF', 'Controls whether a hostname match is required'),
    parsedOnly('SetOutputFilter', 'TAKE1', 'OR_FILEINFO', 'filter (or ; delimited list of filters) to be run on the request content'),
    parsedOnly('SetInputFilter', 'TAKE1', 'OR_FILEINFO', 'filter (or ; delimited list of filters) to be run on the request body'),
    parsedOnly('AllowEncodedSlashes', 'TAKE1', 'RSRC_CONF', "Allow URLs containing '/' encoded as '%2F'"),
    parsedOnly('ScoreBoardFile', 'TAKE1', 'RSRC_CONF', 'A file for Apache to maintain runtime process management information'),
    parsedOnly('ExtendedStatus', 'FLAG', 'RSRC_CONF', '"On" to track extended status information, "Off" to disable'),
    parsedOnly('SeeRequestTail', 'FLAG', 'RSRC_CONF', 'For extended status, "On" to see the last 63 chars of the request line, "Off" (default) to see the first 63'),
    parsedOnly('PidFile', 'TAKE1', 'RSRC_CONF', 'A file for logging the server process ID'),
    parsedOnly('MaxRequestsPerChild', 'TAKE1', 'RSRC_CONF', 'Maximum number of connections a particular child serves before dying. (DEPRECATED, use MaxConnectionsPerChild)'),
    parsedOnly('MaxConnectionsPerChild', 'TAKE1', 'RSRC_CONF', 'Maximum number of connections a particular child serves before dying.'),
    parsedOnly('CoreDumpDirectory', 'TAKE1', 'RSRC_CONF', 'The location of the directory Apache changes to before dumping core'),
    parsedOnly('MaxMemFree', 'TAKE1', 'RSRC_CONF', "Maximum number of 1k blocks a particular child's allocator may hold."),
    parsedOnly('ThreadStackSize', 'TAKE1', 'RSRC_CONF', 'Size in bytes of stack used by threads handling client connections'),
    parsedOnly('EnableExceptionHook', 'TAKE1', 'RSRC_CONF', 'Controls whether exception hook may be called after a crash'),
    parsedOnly('TraceEnable', 'TAKE1', 'RSRC_CONF', "'on' (default), 'off' or 'extended' to trace request body content"),
    parsedOnly('MergeTrailers', 'FLAG', 'RSRC_CONF', 'merge request trailers into request headers or not'),
    parsedOnly('Protocols', 'ITERATE', 'RSRC_CONF', 'Controls which protocols are allowed'),
    parsedOnly(
      'ProtocolsHonorOrder',
      'TAKE1',
      'RSRC_CONF',
      "'off' (default) or 'on' to respect given order of protocols, by default the client specified order determines selection",
    ),
    parsedOnly(
      'HttpProtocolOptions',
      'ITERATE',
      'RSRC_CONF',
      "'Allow0.9' or 'Require1.0' (default); 'RegisteredMethods' or 'LenientMethods' (default); 'Unsafe' or 'Strict' (default). Sets HTTP acceptance rules",
    ),
    parsedOnly('RegisterHttpMethod', 'ITERATE', 'RSRC_CONF', 'Registers non-standard HTTP methods'),
    parsedOnly('MergeSlashes', 'FLAG', 'RSRC_CONF', 'Controls whether consecutive slashes in the URI path are merged'),
  ],
  dirConfig: { empty: EMPTY_CORE, merge: mergeCore },
  hooks: { type_checker: 'overrideType', handler: 'dispatchHandler' },
};
