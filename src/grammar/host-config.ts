/**
 * The host, read from its server configuration (pure): which modules it loads, which
 * `<Directory>` sections apply where, and what `.htaccess` files may override.
 */
import { BUILT_IN_MODULES, HTSANDBOX_MODULE, moduleIdFromSymbol, moduleNames } from './module-catalog.js';
import type { HostFacts } from './conditions.js';
import { lookupDirective, OR_ALL, OR_AUTHCFG, OR_FILEINFO, OR_INDEXES, OR_LIMIT, OR_OPTIONS, OR_UNSET, NONFATAL_OVERRIDE, NONFATAL_UNKNOWN } from './directive-registry.js';
import { OPT_ALL, OPTION_KEYWORDS } from './options.js';
import { DEFAULT_OVERRIDE_OPTS } from './validate.js';
import type { ConfigNode, SectionNode } from './syntax-tree.js';
import { walkActive } from './syntax-tree.js';
import { getWordConf, splitWords } from './words.js';
import picomatch from 'picomatch';

/** The version of Apache htsandbox emulates (what `<IfVersion>` compares against). */
export const EMULATED_APACHE_VERSION = '2.4.62';

/** What `AllowOverride` (and `AllowOverrideList`) allow in one directory. */
export interface OverridePolicy {
  /** OR_* mask, possibly with NONFATAL_* bits; OR_UNSET when nothing set it. */
  mask: number;
  /** Options an `.htaccess` may set (`AllowOverride Options=…`). */
  opts: number;
  /** Individually allowed directive names (lower-case). */
  list: ReadonlySet<string>;
}

/** A non-regex `<Directory>` section of the server configuration. */
export interface DirectorySection {
  /** Path as written, trailing slash removed (`/` stays `/`). */
  path: string;
  /** Number of path components (`/` has 0), Apache's sort key. */
  components: number;
  regex: boolean;
  node: SectionNode;
}

export interface HostConfig {
  /** Loaded module ids (`rewrite`, `fcgid`, …), built-ins included. */
  modules: ReadonlySet<string>;
  directories: readonly DirectorySection[];
  /** Top-level server nodes (in order, includes spliced in). */
  nodes: readonly ConfigNode[];
  documentRoot: string | undefined;
  accessFileNames: readonly string[];
  user: string | undefined;
  group: string | undefined;
  typesConfig: string | undefined;
}

/** `set_override`: parses the words of an `AllowOverride` line. */
export function parseAllowOverride(words: readonly string[]): { mask: number; opts: number } | { error: string } {
  let mask = 0;
  let opts = DEFAULT_OVERRIDE_OPTS;
  for (const w of words) {
    const [k, v] = w.split('=', 2) as [string, string | undefined];
    const lk = k.toLowerCase();
    if (lk === 'limit') mask |= OR_LIMIT;
    else if (lk === 'options') {
      mask |= OR_OPTIONS;
      opts = v !== undefined ? parseOverrideOptions(v) : OPT_ALL;
    } else if (lk === 'fileinfo') mask |= OR_FILEINFO;
    else if (lk === 'authconfig') mask |= OR_AUTHCFG;
    else if (lk === 'indexes') mask |= OR_INDEXES;
    else if (lk === 'nonfatal') {
      const lv = (v ?? '').toLowerCase();
      if (lv === 'override') mask |= NONFATAL_OVERRIDE;
      else if (lv === 'unknown') mask |= NONFATAL_UNKNOWN;
      else if (lv === 'all') mask |= NONFATAL_OVERRIDE | NONFATAL_UNKNOWN;
      else return { error: `=Override, =Unknown or =All expected after ${k}` };
    } else if (lk === 'none') mask = 0;
    else if (lk === 'all') {
      mask = OR_ALL;
      opts = DEFAULT_OVERRIDE_OPTS;
    } else return { error: `Illegal override option ${w}` };
  }
  return { mask, opts };
}

function parseOverrideOptions(list: string): number {
  const extra: Record<string, number> = { all: OPT_ALL, none: 0 };
  let opts = 0;
  for (const part of list.split(',')) {
    const k = part.toLowerCase();
    opts |= OPTION_KEYWORDS[k] ?? extra[k] ?? 0;
  }
  return opts;
}

function stripSectionArg(section: SectionNode): string {
  const raw = section.rawArgs;
  const gt = raw.lastIndexOf('>');
  return getWordConf(gt === -1 ? raw : raw.slice(0, gt), 0).value;
}

/** Modules every host has before its first LoadModule line. */
export function builtInModules(): Set<string> {
  return new Set<string>([...BUILT_IN_MODULES, HTSANDBOX_MODULE, 'mpm_event']);
}

/** Reads the host from parsed server-config nodes. */
export function readHostConfig(nodes: readonly ConfigNode[]): HostConfig {
  const modules = builtInModules();
  const directories: DirectorySection[] = [];
  let documentRoot: string | undefined;
  let accessFileNames: string[] = ['.htaccess'];
  let user: string | undefined;
  let group: string | undefined;
  let typesConfig: string | undefined;
  for (const { node, parents } of walkActive(nodes)) {
    const inVhostOrTop = parents.every((p) => p.key === '<ifmodule' || p.key === '<ifdefine' || p.key === '<ifversion');
    if (node.kind === 'section') {
      if ((node.key === '<directory' || node.key === '<directorymatch') && inVhostOrTop) {
        let path = stripSectionArg(node);
        let regex = node.key === '<directorymatch';
        if (path === '~') {
          regex = true;
          const raw = node.rawArgs.slice(0, node.rawArgs.lastIndexOf('>'));
          const first = getWordConf(raw, 0);
          path = getWordConf(raw, first.next).value;
        }
        if (!regex && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
        const components = path === '/' ? 0 : path.split('/').filter(Boolean).length;
        directories.push({ path, components, regex, node });
      }
      continue;
    }
    if (!inVhostOrTop) continue;
    const first = node.args[0]?.value;
    switch (node.key) {
      case 'loadmodule': {
        const id = first ? moduleIdFromSymbol(first) : undefined;
        if (id) modules.add(id);
        break;
      }
      case 'documentroot':
        documentRoot = first;
        break;
      case 'accessfilename':
        accessFileNames = splitWords(node.rawArgs).map((w) => w.value);
        break;
      case 'user':
        user = first;
        break;
      case 'group':
        group = first;
        break;
      case 'typesconfig':
        typesConfig = first;
        break;
    }
  }
  return { modules, directories, nodes, documentRoot, accessFileNames, user, group, typesConfig };
}

/** Host facts for reading `.htaccess` files on this host. */
export function hostFacts(modules: ReadonlySet<string>, defines: ReadonlyMap<string, string> = new Map()): HostFacts {
  // Looked up live: while a server config is read, LoadModule lines add to `modules`.
  return {
    hasModule: (name) => [...modules].some((id) => moduleNames(id).includes(name)),
    isDefined: (name) => defines.has(name),
    defineValue: (name) => defines.get(name),
    hasDirective: (key) => {
      const spec = lookupDirective(key);
      return spec !== undefined && spec.modules.some((m) => modules.has(m));
    },
    fileExists: () => false,
    version: EMULATED_APACHE_VERSION,
  };
}

function sectionMatches(section: DirectorySection, dir: string): boolean {
  if (section.path === '/') return true;
  const parts = dir.split('/').filter(Boolean);
  if (parts.length < section.components) return false;
  const prefix = `/${parts.slice(0, section.components).join('/')}`;
  if (!/[*?[]/.test(section.path)) return prefix === section.path;
  // apr_fnmatch with APR_FNM_PATHNAME: wildcards never cross a slash.
  return picomatch.isMatch(prefix, section.path, { dot: true, nonegate: true, noextglob: true, nobrace: true });
}

// The host configuration is frozen once read, so per-directory answers are memoised.
const sectionsMemo = new WeakMap<HostConfig, Map<string, DirectorySection[]>>();
const policyMemo = new WeakMap<HostConfig, Map<string, OverridePolicy>>();

function memo<T>(store: WeakMap<HostConfig, Map<string, T>>, host: HostConfig, dir: string, make: () => T): T {
  let m = store.get(host);
  if (!m) store.set(host, (m = new Map()));
  let v = m.get(dir);
  if (v === undefined) {
    v = make();
    if (m.size > 10_000) m.clear();
    m.set(dir, v);
  }
  return v;
}

/** The non-regex `<Directory>` sections that apply to an absolute directory, in Apache's order. */
export function directorySectionsFor(host: HostConfig, dir: string): DirectorySection[] {
  return memo(sectionsMemo, host, dir, () => computeSections(host, dir));
}

function computeSections(host: HostConfig, dir: string): DirectorySection[] {
  return host.directories
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => !s.regex && sectionMatches(s, dir))
    .sort((a, b) => a.s.components - b.s.components || a.index - b.index)
    .map(({ s }) => s);
}

/** What `.htaccess` in `dir` (absolute, no trailing slash) may override. */
export function overridePolicyFor(host: HostConfig, dir: string): OverridePolicy {
  return memo(policyMemo, host, dir, () => computePolicy(host, dir));
}

function computePolicy(host: HostConfig, dir: string): OverridePolicy {
  let mask = OR_UNSET;
  let opts = DEFAULT_OVERRIDE_OPTS;
  let list = new Set<string>();
  for (const section of directorySectionsFor(host, dir)) {
    for (const { node } of walkActive(section.node.children)) {
      if (node.kind !== 'directive') continue;
      if (node.key === 'allowoverride') {
        const r = parseAllowOverride(splitWords(node.rawArgs).map((w) => w.value));
        if (!('error' in r)) {
          mask = r.mask;
          opts = r.opts;
        }
      } else if (node.key === 'allowoverridelist') {
        const words = node.args.map((a) => a.value);
        list = words.length === 1 && words[0]!.toLowerCase() === 'none' ? new Set() : new Set(words.map((w) => w.toLowerCase()));
      }
    }
  }
  return { mask, opts, list };
}

/** True when Apache would not even open `.htaccess` in that directory. */
export function htaccessIgnored(policy: OverridePolicy): boolean {
  return policy.mask === 0 && policy.list.size === 0;
}
