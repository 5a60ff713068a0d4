/**
 * What a decision says about its per-directory configuration: plain data, not the compiled
 * configuration. A `DirConfig` holds compiled values (`<Files>` matchers, regexes, rewrite
 * rules) and is shared by every request of a directory, memoised by identity so that a
 * `.htaccess` is paid for once (style.md practice 9). Copying its slices into each decision as
 * data would cost per request, and the response side reads most of them; so a decision carries
 * a `ConfigRef` — the configuration sections and files that built it, in merge order, which
 * prints, clones and compares — and the engine keeps the compiled configuration it stands for,
 * found again with `dirConfigOf` (as Apache's r->per_dir_config points at merged vectors).
 */
import type { DirConfig } from './dir-config.js';

/** A per-directory configuration as data: the sections and files merged to build it, outermost first. */
export interface ConfigRef {
  /** Which configuration object, among those this process built (two builds of the same levels differ once a file changed). */
  readonly id: number;
  /** `server`, then each `<Directory>` section, `.htaccess` file, `<Files>` and `<If>` section merged, as `file:line <Section …>` or the file's path. */
  readonly levels: readonly string[];
}

const refs = new WeakMap<DirConfig, ConfigRef>();
const configs = new WeakMap<ConfigRef, DirConfig>();
/** By id, for a copy of a reference (a waiting decision cloned or read back): held weakly, dropped with the configuration. */
const byId = new Map<number, WeakRef<DirConfig>>();
const forget = new FinalizationRegistry<number>((id) => byId.delete(id));
let lastId = 0;
/** dirConfigOf's last engine-made reference and its configuration (the reference keeps it alive anyway). */
let lastRef: ConfigRef | undefined;
let lastConfig: DirConfig | undefined;

/** How a reference was made: its parent's reference and the label of the level merged onto it. */
const madeFrom = new WeakMap<ConfigRef, { parent: ConfigRef | undefined; label: string | undefined }>();

/** The levels of `ref`, outermost first, walking up its parents once (linear in the depth). */
function levelsOf(ref: ConfigRef): readonly string[] {
  const labels: string[] = [];
  for (let r: ConfigRef | undefined = ref; r; ) {
    const from = madeFrom.get(r);
    if (!from) break;
    if (from.label !== undefined) labels.push(from.label);
    r = from.parent;
  }
  return Object.freeze(labels.reverse());
}

/**
 * `parent` undefined: the server's own configuration (level "server"); `label` undefined: a copy
 * naming the same levels as `parent`.
 */
function register(cfg: DirConfig, parent: ConfigRef | undefined, label: string | undefined): ConfigRef {
  let made: readonly string[] | undefined;
  const ref = { id: ++lastId } as ConfigRef;
  // The list is built when first read (explain, the dashboard, a copied reference), not per
  // merge: 8,000 nested <If> sections would otherwise copy a growing list 8,000 times (quadratic
  // memory, seconds of garbage collection). Enumerable, so JSON and structuredClone see it.
  Object.defineProperty(ref, 'levels', { enumerable: true, get: () => (made ??= levelsOf(ref)) });
  Object.freeze(ref);
  madeFrom.set(ref, { parent, label: parent === undefined ? 'server' : label });
  refs.set(cfg, ref);
  configs.set(ref, cfg);
  byId.set(ref.id, new WeakRef(cfg));
  forget.register(cfg, ref.id);
  return ref;
}

/** The reference a decision carries for `cfg`: made once per configuration object, then looked up. */
export function refOf(cfg: DirConfig): ConfigRef {
  // A configuration no level was noted for is the server's own (the root every walk starts from).
  return refs.get(cfg) ?? register(cfg, undefined, undefined);
}

/**
 * Notes that `next` is `base` with one more level merged (`label` names it). The merge is
 * memoised, so the same object comes back for the same levels and is noted once.
 */
export function noteLevel(base: DirConfig, next: DirConfig, label: () => string): DirConfig {
  if (next !== base && !refs.has(next)) {
    register(next, refOf(base), label());
  }
  return next;
}

/** Notes that `copy` is `cfg` with bookkeeping changed, no level merged: it names the same levels. */
export function noteCopy(cfg: DirConfig, copy: DirConfig): DirConfig {
  if (copy !== cfg && !refs.has(copy)) {
    register(copy, refOf(cfg), undefined);
  }
  return copy;
}

/**
 * The compiled configuration a decision's reference stands for: the engine's own reference,
 * or a copy of it (by id) while this process still holds that configuration. A reference from
 * another process, or to a configuration since dropped, leads nowhere: that is an error.
 */
export function dirConfigOf(ref: ConfigRef): DirConfig {
  // A request asks for its decision's configuration a dozen times: the last answer is kept
  // (a WeakMap lookup per call showed in the per-request profile).
  if (ref === lastRef) return lastConfig!;
  const own = configs.get(ref);
  if (own) {
    lastRef = ref;
    lastConfig = own;
    return own;
  }
  const cfg = byId.get(ref.id)?.deref();
  const levels = cfg && refs.get(cfg)?.levels;
  if (!cfg || !levels || levels.length !== ref.levels.length || levels.some((l, i) => l !== ref.levels[i])) {
    throw new Error(`no configuration of this process answers to reference ${ref.id}: ${ref.levels.join(' > ')}`);
  }
  return cfg;
}

/** A decision (or any plain value) as JSON: Maps as objects, bigints as decimal strings. */
export function printDecision(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v), 2);
}
