/**
 * mod_dir (modules/mappers/mod_dir.c): `DirectoryIndex`, `DirectorySlash`,
 * `DirectoryIndexRedirect`, `DirectoryCheckHandler` and `FallbackResource`, which htsandbox applies, and the rest of its table, accepted as Apache accepts it. Its fixups
 * hook (`fixup_dir`: the trailing-slash redirect, then the index files) is the engine's
 * `fixups` phase (src/engine/resolve.ts), which reads the file system.
 */
import { splitWords } from '../grammar/words.js';
import { finding, refused, type CompiledLine, type DirectiveDefinition, type ModuleDefinition, compileFlag } from './module.js';

/** mod_dir's slice of the per-directory configuration. */
export interface DirDirConfig {
  /** DirectoryIndex names in order (`disabled`: none). Default `index.html`. */
  directoryIndex: readonly string[];
  /** DirectorySlash (default on). */
  directorySlash: boolean;
  /**
   * DirectoryCheckHandler (default off): when on, a directory whose handler another module set
   * (SetHandler, RewriteRule [H=]) is not searched for its index files; the trailing-slash
   * redirect happens either way (fixup_dir checks it after the redirect).
   */
  directoryCheckHandler: boolean;
  /** FallbackResource as written (`disabled` turns an inherited one off); unset by default. */
  fallbackResource?: string;
  /** DirectoryIndexRedirect: the 3xx status that sends a client to the index file, 0 (the default) serves it. */
  directoryIndexRedirect: number;
}

/**
 * One `DirectoryIndex` line as add_index reads it: its names, or `disabled` written alone
 * (which empties the level's list so far; `disabled` among other names is a file name).
 */
type DirectoryIndexLine = { disabled: true } | { disabled: false; names: readonly string[] };

const directoryIndex: DirectiveDefinition<DirectoryIndexLine> = {
  name: 'DirectoryIndex',
  shape: 'RAW_ARGS',
  override: 'DIR_CMD_PERMS',
  help: 'a list of file names',
  compile: ({ rawArgs }) => {
    const list = splitWords(rawArgs).map((x) => x.value);
    // A name longer than a path component may be is accepted, and can never be found.
    const long = list.find((w) => w.split('/').some((c) => Buffer.byteLength(c, 'latin1') > 255));
    const findings =
      long === undefined
        ? []
        : [{ code: 'HT208' as const, message: `DirectoryIndex name of ${long.length} characters: a directory with no other index file answers 403 (file name too long)` }];
    const value: DirectoryIndexLine = list.length === 1 && list[0]!.toLowerCase() === 'disabled' ? { disabled: true } : { disabled: false, names: list };
    return { findings, value };
  },
};

const directorySlash: DirectiveDefinition<boolean> = {
  name: 'DirectorySlash',
  shape: 'FLAG',
  override: 'DIR_CMD_PERMS',
  help: 'On or Off',
  compile: compileFlag,
};

const directoryCheckHandler: DirectiveDefinition<boolean> = {
  name: 'DirectoryCheckHandler',
  shape: 'FLAG',
  override: 'DIR_CMD_PERMS',
  help: 'On or Off',
  compile: compileFlag,
};

/** `configure_redirect`: the status DirectoryIndexRedirect answers with (0: off). */
const directoryIndexRedirect: DirectiveDefinition<number> = {
  name: 'DirectoryIndexRedirect',
  shape: 'TAKE1',
  override: 'DIR_CMD_PERMS',
  help: 'On, Off, or a 3xx status code.',
  compile: ({ words }) => {
    const w = (words[0] ?? '').toLowerCase();
    const named: Record<string, number> = { on: 302, off: 0, permanent: 301, temp: 302, seeother: 303 };
    if (named[w] !== undefined) return { findings: [], value: named[w]! };
    if (!/^[0-9]/.test(w)) return refused(finding('DirectoryIndexRedirect ON|OFF|permanent|temp|seeother|3xx'));
    // atoi: the leading digits.
    const n = Number.parseInt(w, 10);
    if (n < 300 || n > 399) return refused(finding('DirectoryIndexRedirect only accepts values between 300 and 399'));
    return { findings: [], value: n };
  },
};

/**
 * `merge_dir_configs`: what a level sets replaces what it inherits. Within a level, each
 * `DirectoryIndex` line adds its names to the level's list (add_index pushes onto one array),
 * and `DirectoryIndex disabled` alone empties it.
 */
function mergeDir(base: Readonly<DirDirConfig>, lines: readonly CompiledLine[]): Partial<DirDirConfig> {
  const out: Partial<DirDirConfig> = {};
  let names: string[] | undefined;
  for (const l of lines) {
    if (l.key === 'directoryindex') {
      const line = l.value as DirectoryIndexLine;
      names = line.disabled ? [] : [...(names ?? []), ...line.names];
    } else if (l.key === 'fallbackresource') out.fallbackResource = l.value as string;
    else if (l.key === 'directoryindexredirect') out.directoryIndexRedirect = l.value as number;
    else if (l.key === 'directorycheckhandler') out.directoryCheckHandler = l.value as boolean;
    else out.directorySlash = l.value as boolean;
  }
  if (names) out.directoryIndex = names;
  return out;
}

/** mod_dir as Apache loads it. */
export const dirModule: ModuleDefinition<DirDirConfig> = {
  name: 'dir',
  directives: [
    { name: 'FallbackResource', shape: 'TAKE1', override: 'DIR_CMD_PERMS', help: 'Set a default handler', compile: ({ words }) => ({ findings: [], value: words[0] ?? '' }) },
    directoryIndex,
    directorySlash,
    directoryCheckHandler,
    directoryIndexRedirect,
  ],
  dirConfig: { empty: { directoryIndex: ['index.html'], directorySlash: true, directoryCheckHandler: false, directoryIndexRedirect: 0 }, merge: mergeDir },
  hooks: { fixups: 'fixups' },
};
