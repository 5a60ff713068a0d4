/**
 * What the resolver needs to know about a site, built from its loaded host configuration: the
 * file system view, the server-level configuration, the media types. `serve` adds its process
 * pool and rewrite maps; `check` uses it as it is to see which files a request would run.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { applyLevel, EMPTY_DIR_CONFIG } from '../engine/dir-config.js';
import { startMergeChain } from '../modules/autoindex.js';
import type { ResolveContext } from '../engine/resolve.js';
import { parseMimeTypes } from '../grammar/mime-types.js';
import { textAsBytes } from '../grammar/byte-strings.js';
import { DiskFsView } from './disk-fs-view.js';
import { ChangeWatcher } from './change-watcher.js';
import { systemHostNames } from './host-names.js';
import type { LoadedHost } from './server-config-loader.js';

export function siteResolveContext(
  loaded: LoadedHost,
  siteRoot: string,
  /** Watch directories so answers can be kept between requests (`serve`); a one-shot walk (`check`) does not. */
  opts: { watch: boolean },
): (ResolveContext & { fs: DiskFsView }) | { error: string } {
  const host = loaded.host;
  const hasModule = (m: string): boolean => host.modules.has(m);
  let mimeTypes = new Map<string, string>();
  if (host.typesConfig) {
    const file = isAbsolute(host.typesConfig) ? host.typesConfig : join(dirname(loaded.source), host.typesConfig);
    try {
      mimeTypes = parseMimeTypes(readFileSync(file, 'utf8'));
    } catch (err) {
      return { error: `cannot read TypesConfig ${file}: ${(err as Error).message}` };
    }
  }
  const serverConfig = applyLevel(EMPTY_DIR_CONFIG, host.nodes, hasModule);
  return {
    host,
    fs: new DiskFsView(host, loaded.facts, opts.watch ? ChangeWatcher.create() : undefined),
    // A byte string, as every path the resolver makes (byte-paths.ts); the configuration's is one.
    documentRoot: host.documentRoot !== undefined ? resolve(host.documentRoot) : textAsBytes(resolve(siteRoot)),
    // Sections and .htaccess files then merge as a request's walk does (mod_autoindex cares).
    serverConfig: { ...serverConfig, ...startMergeChain(serverConfig) },
    mimeTypes,
    hasModule,
    // The Scripts host (the profile that loads suexec) patches mod_status to ignore .htaccess use.
    statusHandlerPermitted: !host.modules.has('suexec'),
    hostNames: systemHostNames(),
  };
}
