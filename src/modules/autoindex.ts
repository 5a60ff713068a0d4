/**
 * mod_autoindex (modules/generators/mod_autoindex.c): its command table, and `IndexIgnore` /
 * `IndexIgnoreReset` applied, merged as `merge_autoindex_configs` does. Its handler is the
 * server's listing (`sendListing`, src/server/responder.ts), which reads `indexIgnore`.
 */
import { finding, refused, type CompiledLine, type ModuleDefinition, parsedOnly } from './module.js';

/** mod_autoindex's slice of the per-directory configuration. */
export interface AutoindexDirConfig {
  /** `IndexIgnore` patterns in effect: the level's, then (unless it resets) the inherited ones. */
  indexIgnore: readonly string[];
}

type AutoindexLine = { kind: 'ignore'; patterns: readonly string[] } | { kind: 'reset'; on: boolean };

const FANCY_INDEXING_HELP = 'The FancyIndexing directive is no longer supported. Use IndexOptions FancyIndexing.';

/**
 * `merge_autoindex_configs`: `ign_list = add->ign_noinherit ? add->ign_list :
 * append(add->ign_list, base->ign_list)`: a level's patterns always count, whether written
 * before or after its `IndexIgnoreReset On`; the reset drops only the inherited ones.
 */
function mergeAutoindex(base: Readonly<AutoindexDirConfig>, lines: readonly CompiledLine[]): Partial<AutoindexDirConfig> {
  const own: string[] = [];
  let noInherit = false;
  for (const l of lines) {
    const line = l.value as AutoindexLine;
    if (line.kind === 'reset') noInherit = line.on;
    else own.push(...line.patterns);
  }
  return { indexIgnore: noInherit ? own : own.concat(base.indexIgnore) };
}

/** mod_autoindex as Apache loads it. */
export const autoindexModule: ModuleDefinition<AutoindexDirConfig> = {
  name: 'autoindex',
  directives: [
    parsedOnly('AddIcon', 'ITERATE2', 'DIR_CMD_PERMS', 'an icon URL followed by one or more filenames'),
    parsedOnly('AddIconByType', 'ITERATE2', 'DIR_CMD_PERMS', 'an icon URL followed by one or more MIME types'),
    parsedOnly('AddIconByEncoding', 'ITERATE2', 'DIR_CMD_PERMS', 'an icon URL followed by one or more content encodings'),
    parsedOnly('AddAlt', 'ITERATE2', 'DIR_CMD_PERMS', 'alternate descriptive text followed by one or more filenames'),
    parsedOnly('AddAltByType', 'ITERATE2', 'DIR_CMD_PERMS', 'alternate descriptive text followed by one or more MIME types'),
    parsedOnly('AddAltByEncoding', 'ITERATE2', 'DIR_CMD_PERMS', 'alternate descriptive text followed by one or more content encodings'),
    parsedOnly('IndexOptions', 'TAKE_ARGV', 'DIR_CMD_PERMS', 'one or more index options [+|-][]'),
    parsedOnly('IndexOrderDefault', 'TAKE2', 'DIR_CMD_PERMS', '{Ascending,Descending} {Name,Size,Description,Date}'),
    {
      name: 'IndexIgnore',
      shape: 'ITERATE',
      override: 'DIR_CMD_PERMS',
      help: 'one or more file extensions',
      compile: ({ words }) => ({ findings: [], value: { kind: 'ignore', patterns: words } satisfies AutoindexLine }),
    },
    {
      name: 'IndexIgnoreReset',
      shape: 'FLAG',
      override: 'DIR_CMD_PERMS',
      help: 'Reset the inherited list of IndexIgnore filenames',
      compile: ({ words }) => ({ findings: [], value: { kind: 'reset', on: (words[0] ?? '').toLowerCase() === 'on' } satisfies AutoindexLine }),
    },
    parsedOnly('AddDescription', 'ITERATE2', 'DIR_CMD_PERMS', 'Descriptive text followed by one or more filenames'),
    parsedOnly('HeaderName', 'TAKE1', 'DIR_CMD_PERMS', 'a filename'),
    parsedOnly('ReadmeName', 'TAKE1', 'DIR_CMD_PERMS', 'a filename'),
    // ap_set_deprecated: the line is refused with the help text as the error.
    { name: 'FancyIndexing', shape: 'RAW_ARGS', override: 'OR_ALL', help: FANCY_INDEXING_HELP, compile: () => refused(finding(FANCY_INDEXING_HELP)) },
    parsedOnly('DefaultIcon', 'TAKE1', 'DIR_CMD_PERMS', 'an icon URL'),
    parsedOnly('IndexStyleSheet', 'TAKE1', 'DIR_CMD_PERMS', 'URL to style sheet'),
    parsedOnly('IndexHeadInsert', 'TAKE1', 'DIR_CMD_PERMS', 'String to insert in HTML HEAD section'),
  ],
  dirConfig: { empty: { indexIgnore: [] }, merge: mergeAutoindex },
  hooks: { handler: 'sendListing' },
};
