/**
 * mod_expires (modules/metadata/mod_expires.c): `ExpiresActive`, `ExpiresByType` and
 * `ExpiresDefault`, their per-directory merge, and the `Expires` / `Cache-Control: max-age`
 * its output filter adds to a successful answer.
 */
import { parseExpiresCode } from '../grammar/expires-code.js';
import { getWordConf } from '../grammar/words.js';
import type { HeaderTable } from './headers.js';
import { finding, refused, type CompileResult, type CompiledLine, type DirectiveDefinition, type ModuleDefinition, compileFlag } from './module.js';

/** An expiry code read once: counted from access (`A`) or modification (`M`), in seconds. */
export interface ExpiresCode {
  base: 'A' | 'M';
  seconds: number;
}

/** mod_expires' slice of the per-directory configuration. */
export interface ExpiresDirConfig {
  expires: {
    /** ExpiresActive (default off). */
    active: boolean;
    /** ExpiresByType by lower-cased media type (`text/*` for a wildcard). */
    byType: ReadonlyMap<string, ExpiresCode>;
    /**
     * Whether the `major/*` entries are looked at: only when the last level that had any
     * mod_expires line wrote a wildcard (merge_expires_dir_configs takes `add->wildcards`).
     */
    wildcards: boolean;
    default: ExpiresCode | undefined;
  };
}

/** `check_code`'s complaint about a code, or undefined when Apache accepts it. */
function codeProblem(code: string): string | undefined {
  if (code.startsWith('A') || code.startsWith('M')) return undefined;
  let pos = 0;
  const next = (): string => {
    const w = getWordConf(code, pos);
    pos = w.next;
    return w.value;
  };
  let word = next();
  const lw = word.toLowerCase();
  if (!(lw.startsWith('n') || lw.startsWith('a') || lw.startsWith('m')) || word === '') {
    return `bad expires code, unrecognised <base> '${word}'`;
  }
  word = next();
  if (word.toLowerCase().startsWith('p')) word = next();
  while (word !== '') {
    if (!/^\d/.test(word)) return `bad expires code, numeric value expected <num> '${word}'`;
    word = next();
    if (word === '') return 'bad expires code, missing <type>';
    const t = word.toLowerCase();
    const ok = t.startsWith('y') || t.startsWith('mo') || t.startsWith('w') || t.startsWith('d') || t.startsWith('h') || t.startsWith('mi') || t.startsWith('s');
    if (!ok) return `bad expires code, unrecognised <type>'${word}'`;
    word = next();
  }
  return undefined;
}

/** A code Apache accepted, as serve applies it (an `A`/`M` form it cannot read applies nothing). */
function compiledCode(code: string): CompileResult<ExpiresCode> {
  const parsed = parseExpiresCode(code);
  return { findings: [], value: parsed };
}

const expiresActive: DirectiveDefinition<boolean> = {
  name: 'ExpiresActive',
  shape: 'FLAG',
  override: 'DIR_CMD_PERMS',
  help: "Limited to 'on' or 'off'",
  compile: compileFlag,
};

const expiresByType: DirectiveDefinition<{ type: string; code: ExpiresCode }> = {
  name: 'ExpiresByType',
  shape: 'TAKE2',
  override: 'DIR_CMD_PERMS',
  help: 'a MIME type followed by an expiry date code',
  compile: ({ words }) => {
    const [mime = '', code = ''] = words;
    if (!mime.includes('/')) return refused(finding('Invalid mimetype: should contain a slash'));
    const problem = codeProblem(code);
    if (problem) return refused(finding(`'ExpiresByType ${mime} ${code}': ${problem}`));
    const parsed = compiledCode(code).value;
    return { findings: [], value: parsed && { type: mime.toLowerCase(), code: parsed } };
  },
};

const expiresDefault: DirectiveDefinition<ExpiresCode> = {
  name: 'ExpiresDefault',
  shape: 'TAKE1',
  override: 'DIR_CMD_PERMS',
  help: 'an expiry date code',
  compile: ({ words }) => {
    const code = words[0] ?? '';
    const problem = codeProblem(code);
    return problem ? refused(finding(`'ExpiresDefault ${code}': ${problem}`)) : compiledCode(code);
  },
};

/**
 * `merge_expires_dir_configs`: a level's ExpiresActive and ExpiresDefault replace the
 * inherited ones, its ExpiresByType entries are laid over the inherited table, and its own
 * wildcard flag replaces the inherited one: a level with any mod_expires line (Apache merges
 * a module's slice only where the level has one) but no `type/*` entry turns the inherited
 * wildcard entries off, so `ExpiresByType image/*` of a parent no longer applies there.
 */
function mergeExpires(base: Readonly<ExpiresDirConfig>, lines: readonly CompiledLine[]): Partial<ExpiresDirConfig> {
  const e = { ...base.expires, wildcards: false };
  let byType: Map<string, ExpiresCode> | undefined;
  for (const l of lines) {
    if (l.key === 'expiresactive') e.active = l.value as boolean;
    else if (l.key === 'expiresdefault') e.default = l.value as ExpiresCode;
    else {
      const { type, code } = l.value as { type: string; code: ExpiresCode };
      (byType ??= new Map(base.expires.byType)).set(type, code);
      // set_expiresbytype: what follows the last slash is exactly "*".
      if (type.slice(type.lastIndexOf('/') + 1) === '*') e.wildcards = true;
    }
  }
  if (byType) e.byType = byType;
  return { expires: e };
}

/** mod_expires as Apache loads it. */
export const expiresModule: ModuleDefinition<ExpiresDirConfig> = {
  name: 'expires',
  directives: [expiresActive, expiresByType, expiresDefault],
  dirConfig: { empty: { expires: { active: false, byType: new Map(), default: undefined, wildcards: false } }, merge: mergeExpires },
  hooks: { output_filter: 'applyExpires' },
};

/**
 * The EXPIRES output filter (`expires_filter`): `Expires` and a merged `Cache-Control:
 * max-age` on a successful answer that has no `Expires` yet (a script may set its own), by its
 * media type or ExpiresDefault. `A` counts from now, `M` from the file's modification time
 * (`mtimeUs`; none, nothing is set).
 */
export function applyExpires(table: HeaderTable, cfg: ExpiresDirConfig, contentType: string | undefined, mtimeUs: bigint | undefined): void {
  const e = cfg.expires;
  if (!e.active || (e.byType.size === 0 && e.default === undefined)) return;
  // ap_field_noparam for the exact entry; the wildcard one is the type up to its first slash.
  // (The code is found before the table is asked: most answers have none, and asking costs more.)
  let code: ExpiresCode | undefined;
  if (contentType) {
    const semi = contentType.indexOf(';');
    const bare = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    if (bare) code = e.byType.get(bare);
    const slash = contentType.indexOf('/');
    if (code === undefined && e.wildcards && slash !== -1) code = e.byType.get(`${contentType.slice(0, slash).toLowerCase()}/*`);
  }
  code ??= e.default;
  if (code === undefined) return;
  if (table.get('expires') !== undefined) return;
  const nowSec = Math.floor(Date.now() / 1000);
  let baseSec = nowSec;
  if (code.base === 'M') {
    if (mtimeUs === undefined) return;
    baseSec = Number(mtimeUs / 1_000_000n);
  }
  const expires = Math.max(baseSec + code.seconds, nowSec);
  table.set('Expires', [new Date(expires * 1000).toUTCString()]);
  const cc = table.get('cache-control');
  const maxAge = `max-age=${expires - nowSec}`;
  table.set('Cache-Control', [cc ? `${cc.join(', ')}, ${maxAge}` : maxAge]);
}
