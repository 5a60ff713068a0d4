#!/usr/bin/env node
// The engine's decision function alone (resolveRequest: walk, merge, access, rewrite, handler),
// with and without the request's story (issue 16: "recording must cost nothing measurable when
// nobody asks"). Two sites: the benchmark's static-htaccess shape (a 1 KiB file under three
// levels of 20-line .htaccess, as ../shared/oracle/bench.mjs builds it) and the real CMS
// .htaccess files of fixtures/conformance/app-cms-htaccess (WordPress, Drupal, Laravel front
// controllers). Rounds alternate off/on so drift hits both alike; prints ns per decision.
// Needs a build (npm run build); BUILD=DIR measures another checkout's build (its dist/) on the
// same sites, to compare story-off with a build that has no story notes. Run under the lock:
//   flock /tmp/htsandbox-bench.lock node scripts/bench-decide.mjs [ITERATIONS] [ROUNDS]
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { htaccess } from './bench/site.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.BUILD ?? root;
const { loadHost } = await import(join(build, 'dist/adapters/server-config-loader.js'));
const { siteResolveContext } = await import(join(build, 'dist/adapters/site-resolve-context.js'));
const { resolveRequest } = await import(join(build, 'dist/engine/resolve.js'));

const iterations = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'htsandbox-bench-decide-'));

/** The static-htaccess endpoint's site: the same 20 ordinary lines at each of three levels. */
function staticHtaccessSite() {
  const site = join(work, 'static-htaccess');
  let dir = site;
  mkdirSync(dir);
  for (const lvl of [1, 2, 3]) {
    dir = join(dir, `l${lvl}`);
    mkdirSync(dir);
    writeFileSync(join(dir, '.htaccess'), htaccess(lvl));
  }
  writeFileSync(join(dir, 'static-1k.txt'), 'x'.repeat(1024));
  return { site, paths: ['/l1/l2/l3/static-1k.txt'] };
}

function cmsSite() {
  const site = join(work, 'cms');
  cpSync(join(root, 'fixtures/conformance/app-cms-htaccess/site'), site, { recursive: true });
  return { site, paths: ['/blog/2024/05/hello-world/', '/drupal/node/1', '/laravel/public/users/5', '/h5bp/about'] };
}

function contextFor(site) {
  const loaded = loadHost({ profile: 'apache', siteRoot: site });
  if ('error' in loaded) throw new Error(loaded.error);
  // As serve builds it: the file view watches directories, so walks are reused between requests.
  const ctx = siteResolveContext(loaded, site, { watch: true });
  if ('error' in ctx) throw new Error(ctx.error);
  return ctx;
}

function facts(path, withStory) {
  const f = { method: 'GET', rawPath: path, query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost', headers: { host: 'localhost' }, rawTarget: path };
  if (withStory) f.story = [];
  return f;
}

/** ns per decision over `iterations` decisions, cycling through the site's paths. */
function measure(ctx, paths, withStory, iterations) {
  let sink = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const d = resolveRequest(ctx, facts(paths[i % paths.length], withStory));
    sink += d.kind.length;
  }
  const ns = Number(process.hrtime.bigint() - t) / iterations;
  if (sink === 0) throw new Error('no decisions');
  return ns;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  // The CMS decisions test files on disk (RewriteCond -f/-d): a hundredth as many of them.
  for (const { name, made, n } of [
    { name: 'static-htaccess', made: staticHtaccessSite(), n: iterations },
    { name: 'cms-rewrite', made: cmsSite(), n: Math.max(500, Math.floor(iterations / 100)) },
  ]) {
    const ctx = contextFor(made.site);
    const kinds = made.paths.map((p) => resolveRequest(ctx, facts(p, false)).kind);
    measure(ctx, made.paths, false, n); // warm-up: JIT and the walk caches
    measure(ctx, made.paths, true, n);
    const off = [];
    const on = [];
    for (let r = 0; r < rounds; r++) {
      off.push(measure(ctx, made.paths, false, n));
      on.push(measure(ctx, made.paths, true, n));
    }
    const m = { off: median(off), on: median(on) };
    console.log(
      `${name.padEnd(16)} story off ${m.off.toFixed(0).padStart(6)} ns/decision   story on ${m.on.toFixed(0).padStart(6)} ns/decision   on/off ${(m.on / m.off).toFixed(2)}   (${kinds.join(', ')}; rounds off ${off.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
