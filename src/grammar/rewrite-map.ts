/**
 * `RewriteMap` (server context only): declarations, the text-map file format and the built-in
 * `int:` functions, as mod_rewrite reads them (`cmd_rewritemap`, `lookup_map_txtfile`,
 * `select_random_value_part`, `rewrite_mapfunc_*`). Pure: reading files and running `prg:`
 * programs is the adapter's job.
 */

export type RewriteMapSpec =
  | { name: string; type: 'txt' | 'rnd'; file: string }
  | { name: string; type: 'prg'; argv: string[]; user?: string; group?: string }
  | { name: string; type: 'int'; func: InternalMapName }
  | { name: string; type: 'dbm' | 'dbd'; source: string };

export type InternalMapName = 'tolower' | 'toupper' | 'escape' | 'unescape';
const INTERNAL_MAPS: ReadonlySet<string> = new Set(['tolower', 'toupper', 'escape', 'unescape']);

/**
 * One `RewriteMap NAME TYPE:SOURCE [USER:GROUP]` line. `resolvePath` makes a path absolute as
 * `ap_server_root_relative` does. An error is Apache's start-up message.
 */
export function parseRewriteMap(args: readonly string[], resolvePath: (p: string) => string): RewriteMapSpec | { error: string } {
  const [name = '', source = '', owner] = args;
  const lower = source.toLowerCase();
  if (lower.startsWith('txt:') || lower.startsWith('rnd:')) {
    return { name, type: lower.startsWith('txt:') ? 'txt' : 'rnd', file: resolvePath(source.slice(4)) };
  }
  if (lower.startsWith('prg:')) {
    // apr_tokenize_to_argv: whitespace-separated words, double or single quotes group.
    const argv = (source.slice(4).match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
    if (argv.length === 0) return { error: `RewriteMap: bad path to prg map: ` };
    argv[0] = resolvePath(argv[0]!);
    const [user, group] = owner ? owner.split(':') : [];
    return { name, type: 'prg', argv, ...(user ? { user } : {}), ...(group ? { group } : {}) };
  }
  if (lower.startsWith('int:')) {
    const func = source.slice(4);
    if (!INTERNAL_MAPS.has(func)) return { error: `RewriteMap: internal map not found:${func}` };
    return { name, type: 'int', func: func as InternalMapName };
  }
  if (lower.startsWith('dbm') || lower.startsWith('dbd:') || lower.startsWith('fastdbd:')) {
    return { name, type: lower.startsWith('dbm') ? 'dbm' : 'dbd', source };
  }
  return { name, type: 'txt', file: resolvePath(source) };
}

const isSpace = (c: string | undefined): boolean => c !== undefined && /[ \t\n\r\f\v]/.test(c);

/**
 * `lookup_map_txtfile`: the first line whose first word is `key` gives its second word.
 * Lines starting with `#` or whitespace are skipped, as is a key with no value.
 */
export function lookupTextMap(content: string, key: string): string | undefined {
  for (const line of content.split('\n')) {
    if (line === '' || line[0] === '#' || isSpace(line[0])) continue;
    if (!line.startsWith(key) || !isSpace(line[key.length])) continue;
    const m = /^[ \t\n\r\f\v]*([^ \t\n\r\f\v]+)/.exec(line.slice(key.length));
    if (m) return m[1];
  }
  return undefined;
}

/** `select_random_value_part`: one of the `|`-separated alternatives, chosen by `pick(n)` ∈ [0, n). */
export function pickRandomPart(value: string, pick: (n: number) => number): string {
  const parts = value.split('|');
  return parts.length > 1 ? parts[pick(parts.length)]! : value;
}

/** Characters `ap_escape_uri` leaves alone (gen_test_char's T_OS_ESCAPE_PATH complement). */
const URI_SAFE = /[A-Za-z0-9$\-_.+!*'(),:;@&=/~]/;

/** The `int:` maps: tolower, toupper, escape (`ap_escape_uri`), unescape (`ap_unescape_url`). */
export function internalMap(func: InternalMapName, key: string): string {
  switch (func) {
    case 'tolower':
      return key.replace(/[A-Z]+/g, (s) => s.toLowerCase());
    case 'toupper':
      return key.replace(/[a-z]+/g, (s) => s.toUpperCase());
    case 'escape': {
      let out = '';
      for (const b of Buffer.from(key, 'latin1')) {
        const c = String.fromCharCode(b);
        out += URI_SAFE.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`;
      }
      return out;
    }
    case 'unescape': {
      const decoded = key.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
      // The C string ends at a decoded NUL.
      const nul = decoded.indexOf('\0');
      return nul === -1 ? decoded : decoded.slice(0, nul);
    }
  }
}
