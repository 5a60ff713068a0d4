/**
 * mod_autoindex (modules/generators/mod_autoindex.c): its command table, and its per-directory
 * configuration merged as `merge_autoindex_configs` does: `IndexIgnore` / `IndexIgnoreReset`,
 * `IndexOptions` (add_opts), `IndexOrderDefault`, `HeaderName` / `ReadmeName`, the icon, alt
 * and description lists, `IndexStyleSheet` and `IndexHeadInsert`. Its handler is the server's
 * listing (`sendListing`, src/server/responder.ts) drawn by src/grammar/autoindex-page.ts.
 */
import { AI, type AutoindexSettings, type DescriptionItem, type IconItem } from '../grammar/autoindex-options.js';
import { compileFnmatch } from '../grammar/fnmatch.js';
import { finding, refused, type CompiledLine, type DirectiveDefinition, type ModuleDefinition } from './module.js';

const OPTION_KEYWORDS: Record<string, number> = {
  fancyindexing: AI.FANCY_INDEXING,
  foldersfirst: AI.FOLDERS_FIRST,
  htmltable: AI.TABLE_INDEXING,
  iconsarelinks: AI.ICONS_ARE_LINKS,
  ignorecase: AI.IGNORE_CASE,
  ignoreclient: AI.IGNORE_CLIENT,
  scanhtmltitles: AI.SCAN_HTML_TITLES,
  suppresscolumnsorting: AI.SUPPRESS_COLSORT,
  suppressdescription: AI.SUPPRESS_DESC,
  suppresshtmlpreamble: AI.SUPPRESS_PREAMBLE,
  suppressicon: AI.SUPPRESS_ICON,
  suppresslastmodified: AI.SUPPRESS_LAST_MOD,
  suppresssize: AI.SUPPRESS_SIZE,
  suppressrules: AI.SUPPRESS_RULES,
  trackmodified: AI.TRACK_MODIFIED,
  versionsort: AI.VERSION_SORT,
  xhtml: AI.EMIT_XHTML,
  showforbidden: AI.SHOW_FORBIDDEN,
  addaltclass: AI.ADDALTCLASS,
};

/** DEFAULT_ICON_WIDTH / DEFAULT_ICON_HEIGHT / DEFAULT_NAME_WIDTH / DEFAULT_DESC_WIDTH. */
const DEFAULT_ICON_WIDTH = 20;
const DEFAULT_ICON_HEIGHT = 22;
const DEFAULT_NAME_WIDTH = 23;
const DEFAULT_DESC_WIDTH = 23;

/**
 * mod_autoindex's slice of the per-directory configuration. Apache creates a module's
 * configuration only for a section or `.htaccess` that uses one of its directives, merges
 * those levels among themselves first (ap_directory_walk's now_merged starts empty), and
 * merges the result onto the server's configuration (lookup_defaults) last. So an
 * `IndexOptions +X` below another level's `IndexOptions +Y` is no longer incremental when it
 * reaches the server's options (merge_autoindex_configs sees opts set): the page loses the
 * server's FancyIndexing. The slice keeps both parts to reproduce that.
 */
export interface AutoindexDirConfig {
  /** `IndexIgnore` patterns in effect: the level's, then (unless it resets) the inherited ones. */
  indexIgnore: readonly string[];
  /** What the handler reads: the server's settings with the walk's levels merged on. */
  autoindex: AutoindexSettings;
  /** The server's own settings (lookup_defaults), once the server configuration is read. */
  autoindexServer?: AutoindexSettings;
  /** The walk's levels with mod_autoindex directives, merged among themselves. */
  autoindexChain?: AutoindexSettings | undefined;
}

/** `create_autoindex_config`. */
const EMPTY_SETTINGS: AutoindexSettings = {
  opts: AI.OPTION_UNSET,
  incremented: 0,
  decremented: 0,
  nameWidth: DEFAULT_NAME_WIDTH,
  nameAdjust: 'unset',
  descWidth: DEFAULT_DESC_WIDTH,
  descAdjust: 'unset',
  iconWidth: 0,
  iconHeight: 0,
  icons: [],
  alts: [],
  descriptions: [],
  ignore: [],
  noInherit: false,
};

type AutoindexLine =
  | { kind: 'ignore'; patterns: readonly string[] }
  | { kind: 'reset'; on: boolean }
  | { kind: 'options'; words: readonly string[] }
  | { kind: 'order'; key: 'N' | 'M' | 'S' | 'D'; direction: 'A' | 'D' }
  | { kind: 'string'; field: 'header' | 'readme' | 'styleSheet' | 'headInsert' | 'defaultIcon'; value: string }
  | { kind: 'icon'; by: IconItem['by']; icon: string; to: readonly string[] }
  | { kind: 'alt'; by: IconItem['by']; alt: string; to: readonly string[] }
  | { kind: 'description'; description: string; to: readonly string[] };

const FANCY_INDEXING_HELP = 'The FancyIndexing directive is no longer supported. Use IndexOptions FancyIndexing.';

/** A level's own configuration (the "add" config), built by running each handler on it. */
type LevelSettings = {
  -readonly [K in keyof AutoindexSettings]: AutoindexSettings[K] extends readonly (infer T)[] ? T[] : AutoindexSettings[K];
};

const freshLevel = (): LevelSettings => ({ ...EMPTY_SETTINGS, icons: [], alts: [], descriptions: [], ignore: [] });

/** C `atoi`: leading blanks, a sign, digits; 0 when none. */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m ? Number.parseInt(m[1]!, 10) : 0;
}

/**
 * `add_opts` on a level's settings: a keyword without + or - sets `opts` and drops the
 * level's increments so far; +/- only collect increments. Returns Apache's error, if any.
 */
function addOptions(d: LevelSettings, words: readonly string[]): string | undefined {
  let { opts, incremented: add, decremented: remove } = d;
  for (const word of words) {
    let w = word;
    let action = '';
    if (w[0] === '+' || w[0] === '-') {
      action = w[0];
      w = w.slice(1);
    }
    const lw = w.toLowerCase();
    let option = 0;
    if (OPTION_KEYWORDS[lw] !== undefined) option = OPTION_KEYWORDS[lw]!;
    else if (lw === 'none') {
      if (action !== '') return "Cannot combine '+' or '-' with 'None' keyword";
      opts = AI.NO_OPTIONS;
      add = 0;
      remove = 0;
    } else if (lw === 'iconwidth') d.iconWidth = action !== '-' ? DEFAULT_ICON_WIDTH : 0;
    else if (lw.startsWith('iconwidth=')) {
      if (action === '-') return "Cannot combine '-' with IconWidth=n";
      d.iconWidth = atoi(w.slice(10));
    } else if (lw === 'iconheight') d.iconHeight = action !== '-' ? DEFAULT_ICON_HEIGHT : 0;
    else if (lw.startsWith('iconheight=')) {
      if (action === '-') return "Cannot combine '-' with IconHeight=n";
      d.iconHeight = atoi(w.slice(11));
    } else if (lw === 'namewidth') {
      if (action !== '-') return "NameWidth with no value may only appear as '-NameWidth'";
      d.nameWidth = DEFAULT_NAME_WIDTH;
      d.nameAdjust = 'fixed';
    } else if (lw.startsWith('namewidth=')) {
      if (action === '-') return "Cannot combine '-' with NameWidth=n";
      if (w[10] === '*') d.nameAdjust = 'adjust';
      else {
        const width = atoi(w.slice(10));
        if (width && width < 5) return 'NameWidth value must be greater than 5';
        d.nameWidth = width;
        d.nameAdjust = 'fixed';
      }
    } else if (lw === 'descriptionwidth') {
      if (action !== '-') return "DescriptionWidth with no value may only appear as '-DescriptionWidth'";
      d.descWidth = DEFAULT_DESC_WIDTH;
      d.descAdjust = 'fixed';
    } else if (lw.startsWith('descriptionwidth=')) {
      if (action === '-') return "Cannot combine '-' with DescriptionWidth=n";
      if (w[17] === '*') d.descAdjust = 'adjust';
      else {
        const width = atoi(w.slice(17));
        if (width && width < 12) return 'DescriptionWidth value must be greater than 12';
        d.descWidth = width;
        d.descAdjust = 'fixed';
      }
    } else if (lw.startsWith('type=')) d.ctype = w.slice(5);
    else if (lw.startsWith('charset=')) d.charset = w.slice(8);
    else if (lw === 'useolddateformat') d.dateFormat = 'old';
    else return 'Invalid directory indexing option';
    if (action === '') {
      opts |= option;
      add = 0;
      remove = 0;
    } else if (action === '+') {
      add |= option;
      remove &= ~option;
    } else {
      remove |= option;
      add &= ~option;
    }
  }
  if (opts & AI.NO_OPTIONS && opts & ~AI.NO_OPTIONS) return "Cannot combine other IndexOptions keywords with 'None'";
  d.opts = opts;
  d.incremented = add;
  d.decremented = remove;
  return undefined;
}

/** `ap_is_matchexp`: whether a pattern has `*` or `?`. */
const isMatchExp = (s: string): boolean => /[*?]/.test(s);

/** `push_item`: a path pattern without wildcards matches as a suffix. */
function item(by: IconItem['by'], to: string, data: string): IconItem {
  let applyTo = by === 'path' && to === '**DIRECTORY**' ? '^^DIRECTORY^^' : to;
  if (by === 'encoding') applyTo = applyTo.toLowerCase();
  if (by === 'path' && !isMatchExp(applyTo)) applyTo = `*${applyTo}`;
  return { by, applyTo, data };
}

/** `add_desc`: a pattern with wildcards or a '/' is matched whole (apr_fnmatch), with `*` around it. */
function description(desc: string, to: string): DescriptionItem {
  const fullPath = to.includes('/');
  if (!fullPath && !/[*?[]/.test(to)) return { pattern: to, description: desc, fullPath, matches: (name) => name.includes(to) };
  const pattern = `${fullPath ? '*/' : '*'}${to}*`;
  return { pattern, description: desc, fullPath, matches: compileFnmatch(pattern) };
}

/** Runs the level's lines on a fresh `create_autoindex_config`, in order. */
function levelSettings(lines: readonly CompiledLine[]): LevelSettings {
  const d = freshLevel();
  for (const l of lines) {
    const line = l.value as AutoindexLine;
    switch (line.kind) {
      case 'reset':
        d.noInherit = line.on;
        break;
      case 'ignore':
        d.ignore.push(...line.patterns);
        break;
      case 'options':
        addOptions(d, line.words);
        break;
      case 'order':
        d.defaultKey = line.key;
        d.defaultDirection = line.direction;
        break;
      case 'string':
        d[line.field] = line.value;
        break;
      case 'icon':
        for (const to of line.to) {
          let icon = line.icon;
          // add_icon: "(ALT,/icon.gif)" also adds ALT as the alt text.
          if (icon.startsWith('(')) {
            const comma = icon.indexOf(',');
            const close = icon.indexOf(')');
            const alt = comma !== -1 && comma < close ? icon.slice(1, comma) : icon.slice(1, close);
            d.alts.push(item(line.by, to, alt));
            icon = comma === -1 ? '' : icon.slice(comma + 1, close > comma ? close : undefined);
          }
          d.icons.push(item(line.by, to, icon));
        }
        break;
      case 'alt':
        for (const to of line.to) d.alts.push(item(line.by, to, line.alt));
        break;
      case 'description':
        for (const to of line.to) d.descriptions.push(description(line.description, to));
        break;
    }
  }
  return d;
}

/** `merge_autoindex_configs`. */
export function mergeSettings(b: AutoindexSettings, add: AutoindexSettings): AutoindexSettings {
  const out: AutoindexSettings = {
    ...b,
    icons: [...add.icons, ...b.icons],
    alts: [...add.alts, ...b.alts],
    descriptions: [...add.descriptions, ...b.descriptions],
    // ign_list = add->ign_noinherit ? add->ign_list : append(add->ign_list, base->ign_list): a
    // level's patterns always count, whether written before or after its `IndexIgnoreReset On`.
    ignore: add.noInherit ? add.ignore : [...add.ignore, ...b.ignore],
    noInherit: false,
    iconHeight: add.iconHeight || b.iconHeight,
    iconWidth: add.iconWidth || b.iconWidth,
  };
  for (const k of ['defaultIcon', 'styleSheet', 'headInsert', 'header', 'readme', 'ctype', 'charset', 'dateFormat', 'defaultKey', 'defaultDirection'] as const) {
    if (add[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = add[k];
  }
  if (add.opts === AI.NO_OPTIONS) {
    // An explicit `IndexOptions None` also drops the increments inherited from above.
    out.opts = AI.NO_OPTIONS;
    out.incremented = 0;
    out.decremented = 0;
  } else {
    if (add.opts === AI.OPTION_UNSET) {
      // Only incremental settings here: they apply on top of what is inherited.
      out.incremented = (b.incremented | add.incremented) & ~add.decremented;
      out.decremented = b.decremented | add.decremented;
      out.opts = b.opts & ~AI.NO_OPTIONS;
    } else {
      // A plain keyword here: these options replace the inherited ones, increments and all.
      out.opts = add.opts;
      out.incremented = 0;
      out.decremented = 0;
    }
    out.opts |= out.incremented;
    out.opts &= ~out.decremented;
  }
  if (add.nameAdjust !== 'unset') {
    out.nameWidth = add.nameWidth;
    out.nameAdjust = add.nameAdjust;
  }
  if (add.descAdjust !== 'unset') {
    out.descWidth = add.descWidth;
    out.descAdjust = add.descAdjust;
  }
  return out;
}

/**
 * A level with mod_autoindex lines. Before `startMergeChain` (the server's own lines) it
 * merges onto the server's settings; after, onto the walk's chain, which then merges onto
 * the server's settings.
 */
function mergeAutoindex(base: Readonly<AutoindexDirConfig>, lines: readonly CompiledLine[]): Partial<AutoindexDirConfig> {
  const add = levelSettings(lines);
  if (base.autoindexServer === undefined) {
    const merged = mergeSettings(base.autoindex, add);
    return { autoindex: merged, indexIgnore: merged.ignore };
  }
  const chain = base.autoindexChain ? mergeSettings(base.autoindexChain, add) : add;
  const merged = mergeSettings(base.autoindexServer, chain);
  return { autoindexChain: chain, autoindex: merged, indexIgnore: merged.ignore };
}

/**
 * Starts a new merge of sections onto what is in effect: the server's configuration before
 * the directory walk (lookup_defaults), the walk's result before `<Files>` (ap_file_walk) and
 * before `<If>` (ap_if_walk). Each walk merges its levels among themselves from nothing, then
 * onto r->per_dir_config.
 */
export function startMergeChain(cfg: Readonly<AutoindexDirConfig>): Pick<AutoindexDirConfig, 'autoindexServer' | 'autoindexChain'> {
  return { autoindexServer: cfg.autoindex, autoindexChain: undefined };
}

const line = (value: AutoindexLine) => ({ findings: [], value });

function stringSlot(name: string, field: Extract<AutoindexLine, { kind: 'string' }>['field'], help: string): DirectiveDefinition<AutoindexLine> {
  return { name, shape: 'TAKE1', override: 'DIR_CMD_PERMS', help, compile: ({ words }) => line({ kind: 'string', field, value: words[0] ?? '' }) };
}

function iconDirective(name: string, by: IconItem['by'], help: string): DirectiveDefinition<AutoindexLine> {
  return {
    name,
    shape: 'ITERATE2',
    override: 'DIR_CMD_PERMS',
    help,
    compile: ({ words }) => {
      const icon = words[0] ?? '';
      if (icon.startsWith('(') && !icon.includes(')')) return refused(finding('missing closing paren'));
      return line({ kind: 'icon', by, icon, to: words.slice(1) });
    },
  };
}

function altDirective(name: string, by: IconItem['by'], help: string): DirectiveDefinition<AutoindexLine> {
  return { name, shape: 'ITERATE2', override: 'DIR_CMD_PERMS', help, compile: ({ words }) => line({ kind: 'alt', by, alt: words[0] ?? '', to: words.slice(1) }) };
}

/** mod_autoindex as Apache loads it. */
export const autoindexModule: ModuleDefinition<AutoindexDirConfig> = {
  name: 'autoindex',
  directives: [
    iconDirective('AddIcon', 'path', 'an icon URL followed by one or more filenames'),
    iconDirective('AddIconByType', 'type', 'an icon URL followed by one or more MIME types'),
    iconDirective('AddIconByEncoding', 'encoding', 'an icon URL followed by one or more content encodings'),
    altDirective('AddAlt', 'path', 'alternate descriptive text followed by one or more filenames'),
    altDirective('AddAltByType', 'type', 'alternate descriptive text followed by one or more MIME types'),
    altDirective('AddAltByEncoding', 'encoding', 'alternate descriptive text followed by one or more content encodings'),
    {
      name: 'IndexOptions',
      shape: 'TAKE_ARGV',
      override: 'DIR_CMD_PERMS',
      help: 'one or more index options [+|-][]',
      compile: ({ words }) => {
        const error = addOptions(freshLevel(), words);
        return error ? refused(finding(error)) : line({ kind: 'options', words });
      },
    },
    {
      name: 'IndexOrderDefault',
      shape: 'TAKE2',
      override: 'DIR_CMD_PERMS',
      help: '{Ascending,Descending} {Name,Size,Description,Date}',
      compile: ({ words }) => {
        const dir = (words[0] ?? '').toLowerCase();
        const key = (words[1] ?? '').toLowerCase();
        if (dir !== 'ascending' && dir !== 'descending') return refused(finding("First keyword must be 'Ascending' or 'Descending'"));
        const keys: Record<string, 'N' | 'M' | 'S' | 'D'> = { name: 'N', date: 'M', size: 'S', description: 'D' };
        if (!keys[key]) return refused(finding("Second keyword must be 'Name', 'Date', 'Size', or 'Description'"));
        return line({ kind: 'order', key: keys[key]!, direction: dir === 'ascending' ? 'A' : 'D' });
      },
    },
    {
      name: 'IndexIgnore',
      shape: 'ITERATE',
      override: 'DIR_CMD_PERMS',
      help: 'one or more file extensions',
      compile: ({ words }) => line({ kind: 'ignore', patterns: words }),
    },
    {
      name: 'IndexIgnoreReset',
      shape: 'FLAG',
      override: 'DIR_CMD_PERMS',
      help: 'Reset the inherited list of IndexIgnore filenames',
      compile: ({ words }) => line({ kind: 'reset', on: (words[0] ?? '').toLowerCase() === 'on' }),
    },
    {
      name: 'AddDescription',
      shape: 'ITERATE2',
      override: 'DIR_CMD_PERMS',
      help: 'Descriptive text followed by one or more filenames',
      compile: ({ words }) => line({ kind: 'description', description: words[0] ?? '', to: words.slice(1) }),
    },
    stringSlot('HeaderName', 'header', 'a filename'),
    stringSlot('ReadmeName', 'readme', 'a filename'),
    // ap_set_deprecated: the line is refused with the help text as the error.
    { name: 'FancyIndexing', shape: 'RAW_ARGS', override: 'OR_ALL', help: FANCY_INDEXING_HELP, compile: () => refused(finding(FANCY_INDEXING_HELP)) },
    stringSlot('DefaultIcon', 'defaultIcon', 'an icon URL'),
    stringSlot('IndexStyleSheet', 'styleSheet', 'URL to style sheet'),
    stringSlot('IndexHeadInsert', 'headInsert', 'String to insert in HTML HEAD section'),
  ],
  dirConfig: { empty: { indexIgnore: [], autoindex: EMPTY_SETTINGS }, merge: mergeAutoindex },
  hooks: { handler: 'sendListing' },
};
