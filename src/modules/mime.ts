/**
 * mod_mime (modules/http/mod_mime.c): the extension table (`AddType`, `AddHandler`,
 * `AddCharset`, `AddEncoding`, `AddLanguage` and their `Remove*`, `DefaultLanguage`), merged per directory as
 * `merge_mime_dir_configs` does. Its type_checker hook (`find_ct`) is the engine's, which
 * reads `extensions`; `TypesConfig` is read with the host configuration.
 */
import { handlerFinding } from '../grammar/directive-validators.js';
import { asciiLower } from '../grammar/byte-strings.js';
import { parsedOnly, readByHost, type CompiledLine, type DirectiveDefinition, type LineSource, type ModuleDefinition } from './module.js';

/** What mod_mime knows about one extension. */
export interface ExtensionInfo {
  type?: string;
  handler?: string;
  charset?: string;
  encoding?: string;
  /** AddLanguage's (lower-cased, as add_extension_info stores every value). */
  language?: string;
}

/** mod_mime's slice of the per-directory configuration. */
export interface MimeDirConfig {
  /** By extension, lower-cased, without its dot. */
  extensions: ReadonlyMap<string, ExtensionInfo>;
  /** Where the AddHandler line in effect for each extension is written. */
  handlerSources: ReadonlyMap<string, LineSource>;
  /** DefaultLanguage: the language of a file none of whose extensions names one (as written). */
  defaultLanguage: string | undefined;
}

/** One Add… or Remove… line: which field, the value (none for a removal) and the extensions. */
interface ExtensionLine {
  field: keyof ExtensionInfo;
  value: string | undefined;
  extensions: readonly string[];
}

function addDirective(name: string, field: keyof ExtensionInfo, help: string, check?: DirectiveDefinition['compile']): DirectiveDefinition<ExtensionLine> {
  return {
    name,
    shape: 'ITERATE2',
    override: 'OR_FILEINFO',
    help,
    compile: (input) => {
      const findings = check?.(input).findings ?? [];
      const [value = '', ...extensions] = input.words;
      return { findings, value: { field, value: value.toLowerCase(), extensions } };
    },
  };
}

function removeDirective(name: string, field: keyof ExtensionInfo): DirectiveDefinition<ExtensionLine> {
  return {
    name,
    shape: 'ITERATE',
    override: 'OR_FILEINFO',
    help: 'one or more file extensions',
    compile: ({ words }) => ({ findings: [], value: { field, value: undefined, extensions: words } }),
  };
}

const extensionKey = (e: string): string => asciiLower(e.replace(/^\./, ''));

/**
 * `merge_mime_dir_configs`: the parent's table with the level's additions laid over it; a
 * level's `Remove*` undoes the field for that extension, whatever the level added before it.
 */
function mergeMime(base: Readonly<MimeDirConfig>, lines: readonly CompiledLine[]): Partial<MimeDirConfig> {
  const ext = new Map(base.extensions);
  const handlerSources = new Map(base.handlerSources);
  const removals: ExtensionLine[] = [];
  let defaultLanguage = base.defaultLanguage;
  for (const l of lines) {
    if (typeof l.value === 'string') {
      defaultLanguage = l.value; // DefaultLanguage: the level's last line wins over the parent's
      continue;
    }
    const line = l.value as ExtensionLine;
    if (line.value === undefined) {
      removals.push(line);
      continue;
    }
    for (const e of line.extensions) {
      const key = extensionKey(e);
      ext.set(key, { ...ext.get(key), [line.field]: line.value });
      if (line.field === 'handler' && l.source) handlerSources.set(key, l.source);
    }
  }
  for (const r of removals) {
    for (const e of r.extensions) {
      const key = extensionKey(e);
      const info = { ...ext.get(key) };
      // A removed type stays as '' so that the host's mime.types entry does not come back.
      if (r.field === 'type') info.type = '';
      else delete info[r.field];
      if (r.field === 'handler') handlerSources.delete(key);
      ext.set(key, info);
    }
  }
  return { extensions: ext, handlerSources, defaultLanguage };
}

/** mod_mime as Apache loads it. */
export const mimeModule: ModuleDefinition<MimeDirConfig> = {
  name: 'mime',
  directives: [
    addDirective('AddCharset', 'charset', 'a charset (e.g., iso-2022-jp), followed by one or more file extensions'),
    addDirective('AddEncoding', 'encoding', 'an encoding (e.g., gzip), followed by one or more file extensions'),
    addDirective('AddHandler', 'handler', 'a handler name followed by one or more file extensions', ({ words, hasModule }) => {
      const f = words[0] === undefined || words.length < 2 ? undefined : handlerFinding(words[0], hasModule);
      return { findings: f ? [f] : [], value: undefined };
    }),
    parsedOnly('AddInputFilter', 'ITERATE2', 'OR_FILEINFO', 'input filter name (or ; delimited names) followed by one or more file extensions'),
    addDirective('AddLanguage', 'language', 'a language (e.g., fr), followed by one or more file extensions'),
    parsedOnly('AddOutputFilter', 'ITERATE2', 'OR_FILEINFO', 'output filter name (or ; delimited names) followed by one or more file extensions'),
    addDirective('AddType', 'type', 'a mime type followed by one or more file extensions'),
    {
      name: 'DefaultLanguage',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: 'language to use for documents with no other language file extension',
      // Kept as written: mod_mime copies it without lower-casing (Apache answers `DE` for `DE`).
      compile: ({ words }) => ({ findings: [], value: words[0] ?? '' }),
    },
    parsedOnly('MultiviewsMatch', 'ITERATE', 'OR_FILEINFO', 'NegotiatedOnly (default), Handlers and/or Filters, or Any'),
    removeDirective('RemoveCharset', 'charset'),
    removeDirective('RemoveEncoding', 'encoding'),
    removeDirective('RemoveHandler', 'handler'),
    parsedOnly('RemoveInputFilter', 'ITERATE', 'OR_FILEINFO', 'one or more file extensions'),
    removeDirective('RemoveLanguage', 'language'),
    parsedOnly('RemoveOutputFilter', 'ITERATE', 'OR_FILEINFO', 'one or more file extensions'),
    removeDirective('RemoveType', 'type'),
    // Read with the host configuration (host-config.ts), not per directory.
    readByHost('TypesConfig', 'TAKE1', 'RSRC_CONF', 'the MIME types config file'),
    parsedOnly('ModMimeUsePathInfo', 'FLAG', 'ACCESS_CONF', "Set to 'yes' to allow mod_mime to use path info for type checking"),
  ],
  dirConfig: { empty: { extensions: new Map(), handlerSources: new Map(), defaultLanguage: undefined }, merge: mergeMime },
  hooks: { type_checker: 'typeByName' },
};
