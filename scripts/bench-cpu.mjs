#!/usr/bin/env node
// Server CPU per request, several builds side by side (docs/performance.md, session 7).
//
//   node scripts/bench-cpu.mjs SITE HOST.CONF URLPATH SECS ROUNDS label=BUILD_DIR[|--v8-flag][ serve args] ...
//   node scripts/bench-cpu.mjs SITE HOST.CONF URLPATH SECS ROUNDS bare=bare   (Node's bare http
//                                                                  server, 1 KiB from memory)
//
// Starts each build's `serve SITE` on its own port, then runs `wrk -t1 -c16 -dSECSs` against each
// in turn, ROUNDS times, and prints per build the median req/s and the median CPU time
// (utime + stime of the server process, /proc/PID/stat) per request. Wall-clock rates move by
// ±30 % on a shared VM; CPU per request moves too, in slow stretches of the machine, so each
// build after the first is also given as a paired quotient to the first (session 12): use short
// rounds and many of them (e.g. SECS 1, ROUNDS 25), e.g. `main=DIR "nodash=DIR --no-dashboard"`.
// SITE and HOST.CONF: e.g. what `node ../shared/oracle/bench.mjs --keep` leaves
// (RUN/candidate/site and RUN/candidate/state/host.conf). Run it under the benchmark lock.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

const [site, config, urlPath, secs, rounds, ...specs] = process.argv.slice(2);
if (!specs.length) {
  console.error('usage: bench-cpu.mjs SITE HOST.CONF URLPATH SECS ROUNDS label=BUILD_DIR[ args] ...');
  process.exit(2);
}
const BARE = `import { createServer } from 'node:http';
const line = 'oracle bench static file: abcdefghijklmnopqrstuvwxyz0123456789\\n';
const body = Buffer.from(line.repeat(Math.ceil(1024 / line.length)).slice(0, 1024));
createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length }); res.end(body); })
  .listen(Number(process.argv[1]), '127.0.0.1');`;
const servers = [];
let port = 18700;
for (const spec of specs) {
  const label = spec.slice(0, spec.indexOf('='));
  const [dirSpec, ...extra] = spec.slice(spec.indexOf('=') + 1).split(' ');
  // DIR|--node-flag|… : V8 flags for that build's process (e.g. --max-semi-space-size=32).
  const [dir, ...nodeFlags] = dirSpec.split('|');
  const p = port++;
  const args =
    dir === 'bare'
      ? ['--input-type=module', '-e', BARE, String(p)]
      : [...nodeFlags, `${dir}/bin/htsandbox.js`, 'serve', site, '--port', String(p), '--host', '127.0.0.1', '--config', config, ...extra.filter(Boolean)];
  servers.push({ label, port: p, child: spawn('node', args, { stdio: ['ignore', 'ignore', 'inherit'] }), rps: [], us: [] });
}
const stopAll = () => servers.forEach((s) => s.child.kill('SIGTERM'));
process.on('SIGINT', () => (stopAll(), process.exit(130)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  for (const s of servers) {
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${s.port}${urlPath}`]);
        break;
      } catch {
        await sleep(100);
      }
    }
  }
  const cpu = (pid) => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const wrk = (p, d) => execFileSync('wrk', ['-t1', '-c16', `-d${d}s`, `http://127.0.0.1:${p}${urlPath}`], { encoding: 'utf8' });
  for (const s of servers) wrk(s.port, 1);
  const tick = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  for (let r = 0; r < Number(rounds); r++) {
    for (const s of servers) {
      const c0 = cpu(s.child.pid);
      const out = wrk(s.port, secs);
      const c1 = cpu(s.child.pid);
      const n = Number(/(\d+) requests in/.exec(out)[1]);
      s.rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]));
      s.us.push(((c1 - c0) * tick) / n);
    }
  }
  const med = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  // Paired in time (docs/performance.md, session 12): the machine has slow stretches of several
  // seconds that change every process's CPU per request by up to 1.6×. Each build's round is
  // divided by the first build's rounds just before and after it; the median and quartiles of
  // those quotients compare builds. Quartiles wider than ±5 % mean a noisy stretch: run again.
  for (const s of servers.slice(1)) {
    const a = servers[0].us;
    const q = s.us
      .slice(0, -1)
      .map((u, i) => u / ((a[i] + a[i + 1]) / 2))
      .sort((x, y) => x - y);
    if (q.length === 0) continue;
    const at = (f) => q[Math.min(q.length - 1, Math.floor(f * q.length))].toFixed(3);
    console.log(`${s.label} / ${servers[0].label}: median ${at(0.5)}, quartiles ${at(0.25)}–${at(0.75)} (${q.length} pairs)`);
  }
  for (const s of servers) {
    console.log(
      `${s.label.padEnd(12)} req/s ${med(s.rps).toFixed(0).padStart(6)}  cpu µs/req ${med(s.us).toFixed(1).padStart(7)}   [${s.rps.map((x) => x.toFixed(0)).join(' ')}] [${s.us.map((x) => x.toFixed(1)).join(' ')}]`,
    );
  }
} finally {
  stopAll();
}
