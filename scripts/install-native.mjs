#!/usr/bin/env node
// npm's `install` step: builds the optional native helper (native/fast-spawn.c: posix_spawn, the
// child subreaper, inotify) when this machine can, in about a second, and otherwise says in one
// line what htsandbox uses instead. It never fails the install: every feature of the helper has
// a fallback in Node (src/adapters/fast-spawn.ts, test/node-spawn-fallback.test.ts).
//
// Skipped without trying when: HTSANDBOX_SKIP_NATIVE=1, the system is not Linux (the helper
// uses prctl and inotify), or no C compiler or Python 3 (node-gyp needs both) is on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FALLBACK = "htsandbox uses Node's own spawn and prlimit(1) instead, and re-reads the disk on every request (README, 'Install')";

function onPath(names) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return names.find((n) => (n.includes('/') ? existsSync(n) : dirs.some((d) => existsSync(join(d, n)))));
}

function skip(why) {
  console.error(`htsandbox: native helper not built (${why}); ${FALLBACK}`);
  process.exit(0);
}

if (process.env.HTSANDBOX_SKIP_NATIVE === '1') skip('HTSANDBOX_SKIP_NATIVE=1');
if (process.platform !== 'linux') skip(`it needs Linux, this is ${process.platform}`);
const compiler = onPath([process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean).map((c) => c.split(' ')[0]));
if (!compiler) skip('no C compiler on PATH; install gcc to get it');
if (!onPath(['python3', 'python'])) skip('node-gyp needs Python 3, none on PATH');

// node-gyp from npm's own install (the one `npm run` scripts get), else from PATH.
let nodeGyp = process.env.npm_config_node_gyp;
if (!nodeGyp || !existsSync(nodeGyp)) {
  try {
    nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    nodeGyp = undefined;
  }
}
const args = ['rebuild'];
// Node's headers next to the running node (distribution packages, official tarballs) spare
// node-gyp a download from nodejs.org.
const prefix = join(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const run = nodeGyp ? spawnSync(process.execPath, [nodeGyp, ...args], { cwd: root, encoding: 'utf8' }) : spawnSync('node-gyp', args, { cwd: root, encoding: 'utf8' });
if (run.error || run.status !== 0) {
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n');
  const firstError = output.find((l) => /error/i.test(l)) ?? run.error?.message ?? `node-gyp exited ${run.status}`;
  skip(`node-gyp failed: ${firstError.trim().slice(0, 200)}`);
}
console.error('htsandbox: native helper built (build/Release/fast_spawn.node)');
