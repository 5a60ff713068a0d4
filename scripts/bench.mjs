#!/usr/bin/env node
// `npm run bench`: htsandbox against the host it emulates (Apache 2.4 + mod_fcgid) and the
// servers a user could pick instead (nginx + spawn-fcgi + fcgiwrap, lighttpd), in ONE run:
// every server serves its own copy of the same site (scripts/bench/apps), every endpoint is
// checked for the right body on every server first, then `wrk -t1 -cC -dDs --latency` rounds
// rotate through the servers (each round starts one server later, so drift spreads evenly),
// and the medians are printed as a table with htsandbox/Apache and htsandbox/best-peer ratios.
// Then the memory benchmark (scripts/bench-memory.mjs). Only ratios within one run mean
// anything: wrk shares the cores with the servers.
//
//   npm run bench [-- OPTIONS]
//     --quick                  2 rounds of 1 s after a 1 s warm-up (about 1.5 minutes in all)
//     --smoke                  start every installed server, check every endpoint, stop (no timing)
//     --endpoints LIST|all     fcgi-perl,fcgi-c,cgi,static-1k,static-10m,static-htaccess (default all)
//     --servers LIST           apache,htsandbox,nginx,lighttpd (default all; missing peers are skipped);
//                              add apache2 for a second Apache timed as a candidate: its ratio to
//                              the first is the run's noise floor (issue 16's Apache-against-Apache)
//     --build 'NAME=DIR[ ARGS]'  also time the htsandbox build in DIR (repeatable), e.g. a baseline;
//                              ARGS go to its `serve` (e.g. 'nodash=. --no-dashboard': the record off)
//     --compare 'A,B/C,D'      also print, round by round, builds A and B (geometric mean) over C
//                              and D, e.g. 'nodash,nodash2/base,base2' (repeatable; with apache2
//                              the table adds Apache again over Apache as the floor)
//     --duration S --rounds N --warmup S --connections C   (default 5, 3, 2, 16: about 7 minutes in all)
//     --json FILE --markdown FILE   write the results
//     --no-memory              skip the memory benchmark
//     --keep                   keep the run directory (configurations, logs)
// With HTSANDBOX_REQUIRE_PEERS=1 a missing server is an error instead of a skip.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownTable, parseComparison, summarize } from './bench/report.mjs';
import { Server, fetchBody, freePort, processesOf, serverMissing, startApache, startHtsandbox, startLighttpd, startNginx } from './bench/servers.mjs';
import { ENDPOINTS, buildSite, copySite, siteToolsMissing } from './bench/site.mjs';
import { runWrk, stopWrk } from './bench/wrk.mjs';

const startedAt = performance.now();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    endpoints: { type: 'string', default: 'all' },
    servers: { type: 'string', default: 'apache,htsandbox,nginx,lighttpd' },
    build: { type: 'string', multiple: true, default: [] },
    compare: { type: 'string', multiple: true, default: [] },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '16' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    'no-memory': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  const lines = spawnSync('sed', ['-n', '2,/^import/p', fileURLToPath(import.meta.url)], { encoding: 'utf8' }).stdout.split('\n');
  process.stdout.write(
    `${lines
      .filter((l) => l.startsWith('//'))
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n')}\n`,
  );
  process.exit(0);
}
const usage = (msg) => {
  console.error(`bench: ${msg} (see npm run bench -- --help)`);
  process.exit(2);
};
const positiveInt = (name, v, fallback) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) usage(`--${name} takes a whole number (got ${v})`);
  return n;
};
const duration = positiveInt('duration', opt.duration, opt.quick ? 1 : 5);
const rounds = positiveInt('rounds', opt.rounds, opt.quick ? 2 : 3);
const warmup = positiveInt('warmup', opt.warmup, opt.quick ? 1 : 2);
const connections = positiveInt('connections', opt.connections, 16);
const endpointNames = opt.endpoints === 'all' ? Object.keys(ENDPOINTS) : opt.endpoints.split(',').map((s) => s.trim());
for (const n of endpointNames) if (!ENDPOINTS[n]) usage(`unknown endpoint ${n}; known: ${Object.keys(ENDPOINTS).join(', ')}`);
const kinds = opt.servers.split(',').map((s) => s.trim());
for (const k of kinds) if (!['apache', 'apache2', 'htsandbox', 'nginx', 'lighttpd'].includes(k)) usage(`unknown server ${k}`);
const builds = [];
if (kinds.includes('htsandbox')) builds.push({ name: 'htsandbox', dir: root });
for (const b of opt.build) {
  const m = /^([A-Za-z][\w.-]*)=(\S+)((?:\s+\S+)*)\s*$/.exec(b);
  if (!m) usage(`--build takes NAME=DIR, then serve's arguments if any (got ${b})`);
  if (['apache', 'apache2', 'htsandbox', 'nginx', 'lighttpd'].includes(m[1])) usage(`--build ${m[1]}: the name is taken`);
  if (builds.some((x) => x.name === m[1])) usage(`--build ${m[1]}: given twice`);
  builds.push({ name: m[1], dir: resolve(m[2]), args: m[3].split(/\s+/).filter(Boolean) });
}
const comparisons = opt.compare.map((c) => {
  const parsed = parseComparison(c);
  if (!parsed) usage(`--compare takes NAMES/NAMES, e.g. nodash,nodash2/base,base2 (got ${c})`);
  for (const name of [...parsed.numerator, ...parsed.denominator])
    if (!builds.some((b) => b.name === name) && !['apache', 'apache2', 'nginx', 'lighttpd'].includes(name)) usage(`--compare ${c}: no server or build named ${name}`);
  return parsed;
});
const requirePeers = process.env.HTSANDBOX_REQUIRE_PEERS === '1';

// ---- what can run here --------------------------------------------------------------------------
const tools = siteToolsMissing();
if (tools) {
  console.error(`bench: cannot build the bench site: missing ${tools}`);
  process.exit(3);
}
if (!opt.smoke && spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status !== 0) {
  console.error('bench: wrk not found (apt-get install wrk)');
  process.exit(3);
}
const plan = []; // [name, kind, buildDir?] in the order servers start and appear in the table
for (const kind of ['apache', 'apache2', 'htsandbox', 'nginx', 'lighttpd']) {
  if (!kinds.includes(kind) && !(kind === 'htsandbox' && builds.length)) continue;
  if (kind === 'htsandbox') for (const b of builds) plan.push({ name: b.name, kind, dir: b.dir, args: b.args ?? [] });
  else if (kind === 'apache2') plan.push({ name: kind, kind: 'apache' });
  else plan.push({ name: kind, kind });
}
const skipped = [];
let exitCode = 0;
for (const p of [...plan]) {
  const missing = serverMissing(p.kind);
  if (!missing) continue;
  if (requirePeers) {
    console.error(`bench: HTSANDBOX_REQUIRE_PEERS=1 but ${p.name} cannot run: ${missing}`);
    process.exit(3);
  }
  console.error(`bench: skipping ${p.name}: ${missing}`);
  skipped.push({ name: p.name, reason: missing });
  plan.splice(plan.indexOf(p), 1);
}

// ---- start --------------------------------------------------------------------------------------
const runDir = mkdtempSync(join(os.tmpdir(), 'htsandbox-bench-'));
chmodSync(runDir, 0o755); // www-data must traverse it
console.error(`bench: working in ${runDir}`);
const servers = [];
let cleaned = false;
function emergencyCleanup() {
  if (cleaned) return;
  cleaned = true;
  stopWrk();
  for (const s of [...servers].reverse()) s.kill();
  if (!opt.keep) rmSync(runDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}: stopping every server`);
    emergencyCleanup();
    process.exit(130);
  });
}
process.on('uncaughtException', (e) => {
  console.error(e);
  emergencyCleanup();
  process.exit(70);
});

const results = {}; // endpoint -> server name -> wrk results of each round
const broken = new Set(); // "server endpoint" that answered wrong: not timed
const leftovers = [];
try {
  const master = buildSite(join(runDir, 'src'));
  for (const p of plan) {
    const server = new Server(p.name, p.kind, join(runDir, p.name));
    servers.push(server);
    const site = copySite(master, join(server.dir, 'site'));
    server.port = await freePort();
    try {
      if (p.kind === 'apache') await startApache(server, site, join(root, 'profiles'));
      else if (p.kind === 'htsandbox') await startHtsandbox(server, site, p.dir, p.args);
      else if (p.kind === 'nginx') await startNginx(server, site);
      else await startLighttpd(server, site);
      server.up = true;
      console.error(`bench: ${p.name} up on 127.0.0.1:${server.port}`);
    } catch (e) {
      console.error(`bench: ${p.name} did not start: ${e.message}`);
      exitCode = 1;
    }
  }
  const up = servers.filter((s) => s.up);

  // Every endpoint must answer 200 with the right body on every server before timing.
  for (const n of endpointNames) {
    for (const s of up) {
      const r = await fetchBody(s.port, ENDPOINTS[n].path);
      if (r.status !== 200 || !ENDPOINTS[n].check(r.body)) {
        console.error(`bench: ${s.name} ${n}: GET ${ENDPOINTS[n].path} -> ${r.status ?? r.error} (${r.body.length} bytes), not the bench body: not timed`);
        broken.add(`${s.name} ${n}`);
        exitCode = 1;
      }
    }
  }
  for (const s of up) s.processes(); // what each server runs now, for the leftover check

  if (!opt.smoke) {
    console.error(
      `# wrk -t1 -c${connections} -d${duration}s --latency, ${rounds} rounds rotating through ${up.map((s) => s.name).join(', ')}, warm-up ${warmup}s; ` +
        `${os.cpus().length} CPUs; load ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}; ${new Date().toISOString()}`,
    );
    for (const n of endpointNames) {
      const active = up.filter((s) => !broken.has(`${s.name} ${n}`));
      results[n] = Object.fromEntries(active.map((s) => [s.name, []]));
      if (warmup > 0) for (const s of active) await runWrk(s.port, ENDPOINTS[n].path, { connections, seconds: warmup });
      for (let round = 0; round < rounds; round++) {
        const order = active.map((_, i) => active[(i + round) % active.length]);
        for (const s of order) {
          const r = await runWrk(s.port, ENDPOINTS[n].path, { connections, seconds: duration });
          results[n][s.name].push(r);
          const bad = r.errors || r.non2xx ? `  socket errors ${r.errors}, non-2xx ${r.non2xx}` : '';
          console.error(
            `  ${n.padEnd(15)} round ${round + 1} ${s.name.padEnd(10)} ${(r.rps ?? 0).toFixed(0).padStart(7)} req/s  p99 ${r.p99 == null ? '-' : r.p99.toFixed(2)} ms${bad}`,
          );
          if (r.rps == null) console.error(r.raw);
        }
      }
    }
  }
} catch (e) {
  console.error(`bench failed: ${e.stack ?? e}`);
  exitCode = 2;
} finally {
  for (const s of [...servers].reverse()) await s.stop();
  // Nothing we started may outlive the run: ask /proc again, for every server's sessions and
  // everything that names the run directory.
  const sessions = new Set(servers.flatMap((s) => [...s.sessions]));
  for (const p of processesOf(runDir, sessions)) {
    leftovers.push(p);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (leftovers.length) {
    console.error(`bench: these processes outlived their server's stop (now killed):\n${leftovers.map((p) => `  ${p.pid} ${p.cmd}`).join('\n')}`);
    exitCode = exitCode || 1;
  }
  cleaned = true;
  if (opt.keep) console.error(`bench: kept ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
  if (!opt.keep && existsSync(runDir)) {
    console.error(`bench: could not remove ${runDir}`);
    exitCode = exitCode || 1;
  }
}

// ---- report ---------------------------------------------------------------------------------------
const meta = {
  date: new Date().toISOString(),
  cpus: os.cpus().length,
  load: os.loadavg(),
  wrk: `wrk -t1 -c${connections} -d${duration}s --latency`,
  rounds,
  warmup,
  endpoints: endpointNames,
  skipped,
};
const serverNames = servers.filter((s) => s.up).map((s) => s.name);
// A second Apache gets the builds' ratio columns: its ratio to the first is the noise floor.
const buildNames = [...(serverNames.includes('apache2') ? ['apache2'] : []), ...builds.map((b) => b.name).filter((n) => serverNames.includes(n))];
const summary = summarize(results, serverNames);
if (opt.smoke) {
  console.log(
    `bench --smoke: ${serverNames.join(', ') || 'no server'} started, ${endpointNames.length} endpoints checked, all stopped${skipped.length ? `; skipped ${skipped.map((s) => s.name).join(', ')}` : ''}`,
  );
} else {
  const table = markdownTable(summary, { servers: serverNames, builds: buildNames, endpoints: endpointNames, meta, comparisons, results });
  console.log(`\n${table}`);
  if (opt.markdown) writeFileSync(opt.markdown, `${table}\n`);
}
if (opt.json) {
  const servers_ = servers.map((s) => ({
    name: s.name,
    kind: s.kind,
    up: Boolean(s.up),
    port: s.port,
    processes: [...s.seen.values()],
  }));
  const strip = (k, v) => (k === 'raw' ? undefined : v);
  writeFileSync(opt.json, `${JSON.stringify({ meta, runDir, servers: servers_, broken: [...broken], leftovers, results, summary }, strip, 1)}\n`);
}

if (!opt.smoke && !opt['no-memory']) {
  console.error('\n# memory (scripts/bench-memory.mjs)');
  const m = spawnSync(process.execPath, [join(root, 'scripts', 'bench-memory.mjs')], { stdio: 'inherit' });
  exitCode = exitCode || (m.status ?? 1);
}
console.error(`bench: ${((performance.now() - startedAt) / 1000).toFixed(0)} s in all`);
process.exit(exitCode);
