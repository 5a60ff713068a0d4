#!/usr/bin/env node
// Time from spawn to the ready line of `serve fixtures/example-site --port 0` (issue 19 item 3).
//
//   node scripts/bench-ready.mjs [BUILD_DIR=.] [RUNS=10]
//
// Prints the median and every run, and `node -e` alone timed the same way (Node's own start).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const dir = resolve(process.argv[2] ?? '.');
const runs = Number(process.argv[3] ?? 10);
const timed = async (args, until) => {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((done) => {
    let out = '';
    let seen = false;
    const on = (c) => {
      out += c;
      if (!seen && until && until.test(out)) {
        seen = true;
        done();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', done);
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  child.kill('SIGTERM');
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  return ms;
};
const ready = [];
for (let i = 0; i < runs; i++) ready.push(await timed([`${dir}/bin/htsandbox.js`, 'serve', `${dir}/fixtures/example-site`, '--port', '0'], /serving .* at http/));
const alone = [];
for (let i = 0; i < runs; i++) alone.push(await timed(['-e', '0']));
const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`${dir}: ready median ${med(ready).toFixed(0)} ms [${ready.map((t) => t.toFixed(0)).join(' ')}]; node -e 0 median ${med(alone).toFixed(0)} ms`);
