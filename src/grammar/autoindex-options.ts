/**
 * mod_autoindex's settings as the page reads them (`autoindex_config_rec`, mod_autoindex.c):
 * the IndexOptions bits and the merged per-directory values. Plain data; the directives that
 * build them and their merge live in src/modules/autoindex.ts.
 */

/** IndexOptions bits, as mod_autoindex.c numbers them. */
export const AI = {
  NO_OPTIONS: 1 << 0,
  ICONS_ARE_LINKS: 1 << 1,
  SCAN_HTML_TITLES: 1 << 2,
  SUPPRESS_ICON: 1 << 3,
  SUPPRESS_LAST_MOD: 1 << 4,
  SUPPRESS_SIZE: 1 << 5,
  SUPPRESS_DESC: 1 << 6,
  SUPPRESS_PREAMBLE: 1 << 7,
  SUPPRESS_COLSORT: 1 << 8,
  SUPPRESS_RULES: 1 << 9,
  FOLDERS_FIRST: 1 << 10,
  VERSION_SORT: 1 << 11,
  TRACK_MODIFIED: 1 << 12,
  FANCY_INDEXING: 1 << 13,
  TABLE_INDEXING: 1 << 14,
  IGNORE_CLIENT: 1 << 15,
  IGNORE_CASE: 1 << 16,
  EMIT_XHTML: 1 << 17,
  SHOW_FORBIDDEN: 1 << 18,
  ADDALTCLASS: 1 << 19,
  OPTION_UNSET: 1 << 20,
} as const;

/** How a width is set: a number, `=*` (fit the longest), or not at this level (K_UNSET). */
export type WidthAdjust = 'fixed' | 'adjust' | 'unset';

/** One AddIcon* / AddAlt* item (`struct item`): BY_PATH, BY_TYPE or BY_ENCODING, its pattern and data. */
export interface IconItem {
  by: 'path' | 'type' | 'encoding';
  /** apply_to: a path pattern gets a leading `*` unless it has wildcards already. */
  applyTo: string;
  data: string;
}

/** One AddDescription (`ai_desc_t`). */
export interface DescriptionItem {
  pattern: string;
  description: string;
  /** The pattern has a '/': it is matched against the full file name. */
  fullPath: boolean;
  /** The pattern's test, compiled with the line: apr_fnmatch when it has wildcards, else a substring search. */
  matches: (name: string) => boolean;
}

/** `autoindex_config_rec`, all but the IndexIgnore list. */
export interface AutoindexSettings {
  opts: number;
  incremented: number;
  decremented: number;
  nameWidth: number;
  nameAdjust: WidthAdjust;
  descWidth: number;
  descAdjust: WidthAdjust;
  iconWidth: number;
  iconHeight: number;
  ctype?: string;
  charset?: string;
  dateFormat?: 'old';
  defaultKey?: 'N' | 'M' | 'S' | 'D';
  defaultDirection?: 'A' | 'D';
  header?: string;
  readme?: string;
  styleSheet?: string;
  headInsert?: string;
  defaultIcon?: string;
  icons: readonly IconItem[];
  alts: readonly IconItem[];
  descriptions: readonly DescriptionItem[];
  /** ign_list: IndexIgnore patterns. */
  ignore: readonly string[];
  /** ign_noinherit: `IndexIgnoreReset On` at this level (a merged configuration has it off). */
  noInherit: boolean;
}
