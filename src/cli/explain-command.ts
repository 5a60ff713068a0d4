/**
 * `htsandbox explain SITE URL`: the story of one request (adapters/request-story.ts), without
 * starting a server or running a script: it says what would run.
 */
import { statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { loadHost } from '../adapters/server-config-loader.js';
import { siteResolveContext } from '../adapters/site-resolve-context.js';
import { formatStory, tellStory } from '../adapters/request-story.js';
import type { CommandIo } from './io.js';

export interface ExplainOptions {
  root: string;
  url: string;
  method: string;
  headers: string[];
  data?: string;
  config?: string;
  profile?: string;
  format: 'text' | 'json';
}

/** Runs `explain`: 0 told, 2 usage (no site, bad configuration). */
export function runExplain(opts: ExplainOptions, io: CommandIo): number {
  const root = resolve(io.cwd, opts.root);
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
  } catch {
    io.stderr.write(`htsandbox explain: ${opts.root} is not a directory\n`);
    return 2;
  }
  const loaded = loadHost({ siteRoot: root, ...(opts.config ? { configFile: resolve(io.cwd, opts.config) } : {}), ...(opts.profile ? { profile: opts.profile } : {}) });
  if ('error' in loaded) {
    io.stderr.write(`htsandbox explain: ${loaded.error}\n`);
    return 2;
  }
  const ctx = siteResolveContext(loaded, root, { watch: false });
  if ('error' in ctx) {
    io.stderr.write(`htsandbox explain: ${ctx.error}\n`);
    return 2;
  }
  const shown = (p: string): string => {
    const rel = relative(io.cwd, p);
    return rel.startsWith('..') ? p : rel;
  };
  const story = tellStory(
    ctx,
    { method: opts.method, url: opts.url, headers: opts.headers, ...(opts.data !== undefined ? { data: opts.data } : {}) },
    loaded.host.modules.has('suexec'),
    shown,
  );
  if ('error' in story) {
    io.stderr.write(`htsandbox explain: ${story.error}\n`);
    return 2;
  }
  io.stdout.write(opts.format === 'json' ? `${JSON.stringify(story, null, 2)}\n` : formatStory(story));
  return 0;
}
