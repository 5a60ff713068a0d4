/**
 * Loads the host's server configuration from disk: a bundled profile or a user's file,
 * with `Include` resolved (globs in the last component, as Apache allows).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import { builtInModules, hostFacts, readHostConfig, type HostConfig } from '../grammar/host-config.js';
import { moduleIdFromSymbol } from '../grammar/module-catalog.js';
import { parseConfig, type IncludeResult } from '../grammar/parser.js';
import { validateNodes } from '../grammar/validate.js';
import { textAsBytes } from '../grammar/byte-strings.js';
import type { HostFacts } from '../grammar/conditions.js';
// Installs the directive registry (the modules' command tables) before any file is read.
import '../modules/index.js';

/** The directory of the bundled profiles (`profiles/` in the package). */
export const PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../profiles');

/** Names of the bundled host profiles. */
export const PROFILE_NAMES = ['scripts', 'apache'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface LoadedHost {
  host: HostConfig;
  facts: HostFacts;
  /** Problems in the server configuration itself. */
  diagnostics: Diagnostic[];
  /** The file the configuration came from. */
  source: string;
}

export interface HostSource {
  /** A server configuration file (`--config`). */
  configFile?: string;
  /** A bundled profile (`--profile`), used when no file is given. Default `scripts`. */
  profile?: string;
  /** Absolute site root; profiles refer to it as `${HTSANDBOX_SITE_ROOT}`. */
  siteRoot: string;
  /** `--userdir`: defines `HTSANDBOX_USERDIR` for the profiles' user-site sections. */
  userDir?: string;
}

function includeResolver(serverRoot: string) {
  return (pattern: string, optional: boolean): IncludeResult => {
    const abs = isAbsolute(pattern) ? pattern : join(serverRoot, pattern);
    const dir = dirname(abs);
    const base = abs.slice(dir.length + 1);
    let candidates: string[];
    if (/[*?[]/.test(base)) {
      let names: string[] = [];
      try {
        names = readdirSync(dir).sort();
      } catch {
        names = [];
      }
      const isMatch = picomatch(base, { dot: false });
      candidates = names.filter((n) => isMatch(n)).map((n) => join(dir, n));
    } else {
      candidates = [abs];
    }
    const files: { file: string; text: string }[] = [];
    for (const c of candidates) {
      try {
        if (statSync(c).isDirectory()) {
          for (const n of readdirSync(c).sort()) files.push({ file: join(c, n), text: readFileSync(join(c, n), 'latin1') });
        } else files.push({ file: c, text: readFileSync(c, 'latin1') });
      } catch (err) {
        if (!optional) return { error: `Include: could not open ${c}: ${(err as Error).message}` };
      }
    }
    if (files.length === 0 && !optional) {
      return { error: `Include: No matches for the wildcard '${base}' in '${dir}', failing` };
    }
    return { files };
  };
}

/** Resolves `--config`/`--profile` to a file path, or an error message. */
export function resolveHostFile(src: HostSource): { file: string } | { error: string } {
  if (src.configFile) {
    const file = resolve(src.configFile);
    if (!existsSync(file)) return { error: `no such configuration file: ${src.configFile}` };
    return { file };
  }
  const name = src.profile ?? 'scripts';
  if (!(PROFILE_NAMES as readonly string[]).includes(name)) {
    return { error: `unknown profile '${name}' (known: ${PROFILE_NAMES.join(', ')})` };
  }
  return { file: join(PROFILES_DIR, `${name}.conf`) };
}

/** Reads and checks the host's configuration. */
export function loadHost(src: HostSource): LoadedHost | { error: string } {
  const where = resolveHostFile(src);
  if ('error' in where) return where;
  let text: string;
  try {
    text = readFileSync(where.file, 'latin1');
  } catch (err) {
    return { error: `cannot read ${where.file}: ${(err as Error).message}` };
  }
  const defines = new Map<string, string>([
    // The configuration is read as bytes (latin1): paths from the command line join it as theirs.
    ['HTSANDBOX_SITE_ROOT', textAsBytes(src.siteRoot)],
    ['HTSANDBOX_PROFILES', PROFILES_DIR],
  ]);
  if (src.userDir) defines.set('HTSANDBOX_USERDIR', textAsBytes(src.userDir));
  // As in Apache, a module counts for <IfModule> from its LoadModule line on.
  const loaded = builtInModules();
  const parsed = parseConfig(text, {
    file: where.file,
    kind: 'server',
    host: hostFacts(loaded, defines),
    include: includeResolver(dirname(where.file)),
    defines: new Map(defines),
    onLoadModule: (symbol) => {
      const id = moduleIdFromSymbol(symbol);
      if (id) loaded.add(id);
    },
  });
  const host = readHostConfig(parsed.nodes);
  const walk = validateNodes(parsed.nodes, {
    kind: 'server',
    override: 0,
    overrideOpts: 0,
    overrideList: new Set(),
    hasModule: (m) => host.modules.has(m),
  }).filter((d) => d.code !== 'HT200');
  return { host, facts: hostFacts(host.modules, defines), diagnostics: [...parsed.diagnostics, ...walk], source: where.file };
}
