/**
 * core (server/core.c), its per-directory directives: `Options`, `SetHandler`, `ForceType`,
 * `AddDefaultCharset`, `AcceptPathInfo`, `ErrorDocument`, `ServerSignature`,
 * `LimitRequestBody`, `RLimitCPU`/`MEM`/`NPROC`, `FileETag`, `CGIPassAuth` and `DefaultType`,
 * checked as their handlers in core.c check them and merged as `merge_core_dir_configs` does
 * (the nearest level's value wins; ErrorDocument per status; the +/- forms of Options and
 * FileETag adjust the inherited bits). Core's sections and server-wide directives are still in
 * legacy.ts.
 */
import { handlerFinding } from '../grammar/directive-validators.js';
import { OPT_INC_WITH_EXEC, OPT_INCLUDES, OPT_SYM_LINKS, parseOptions, type OptionsChange } from '../grammar/options.js';
import { didYouMean } from '../grammar/suggest.js';
import { splitWords } from '../grammar/words.js';
import { finding, refused, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type LineSource, type ModuleDefinition } from './module.js';

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
}

/** What one line sets: a field, an error document, a resource limit, or FileETag keywords. */
type CoreLine =
  | { kind: 'field'; fields: Partial<CoreDirConfig> }
  | { kind: 'errordocument'; status: number; doc: ErrorDocument | undefined }
  | { kind: 'rlimit'; which: keyof RLimitDirectives; soft: string; hard: string | undefined }
  | { kind: 'fileetag'; words: readonly string[] }
  | { kind: 'options'; change: OptionsChange };

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

/** `merge_core_dir_configs` for these fields: the level's lines, in order, over what it inherits. */
function mergeCore(base: Readonly<CoreDirConfig>, lines: readonly CompiledLine[]): Partial<CoreDirConfig> {
  const out: Partial<CoreDirConfig> = {};
  let errorDocs: Map<number, ErrorDocument> | undefined;
  let fileETag: FileETagBits | undefined;
  let options: LevelOptions | undefined;
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
    }
  }
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
  limitRequestBody: 1024 * 1024 * 1024,
  rlimits: {},
  fileETag: { bits: ETAG_UNSET, add: ETAG_UNSET, remove: ETAG_UNSET },
  // create_core_dir_config for the server: OPT_UNSET|OPT_SYM_LINKS.
  options: OPT_SYM_LINKS,
  optionsAdd: 0,
  optionsRemove: 0,
  cgiPassAuth: false,
};

/** core's per-directory directives moved so far. */
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
        return code >= 400 && code < 600 ? ok(errorDocumentLine(words)) : refused(finding(`Unsupported HTTP response code ${words[0]}`));
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
  ],
  dirConfig: { empty: EMPTY_CORE, merge: mergeCore },
  hooks: { type_checker: 'overrideType', handler: 'dispatchHandler' },
};
