/**
 * A resolver context over a site written to a temporary directory, for tests that call the
 * engine directly (no server): the files given, under a stock profile's host configuration.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHost } from '../../src/adapters/server-config-loader.js';
import { siteResolveContext } from '../../src/adapters/site-resolve-context.js';
import type { DiskFsView } from '../../src/adapters/disk-fs-view.js';
import type { ResolveContext } from '../../src/engine/resolve.js';

/** Writes `files` (path → text) under a new directory below `parent` (the system's temp dir by default). */
export function writeSite(files: Record<string, string>, parent?: string): string {
  const dir = parent ?? mkdtempSync(join(tmpdir(), 'htsandbox-site-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** The resolver's context for the site at `root` under a stock profile (`apache` by default), without watching it. */
export function profileContext(root: string, profile = 'apache'): ResolveContext & { fs: DiskFsView } {
  const loaded = loadHost({ profile, siteRoot: root });
  if ('error' in loaded) throw new Error(loaded.error);
  const made = siteResolveContext(loaded, root, { watch: false });
  if ('error' in made) throw new Error(made.error);
  return made;
}
