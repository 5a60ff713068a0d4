#!/usr/bin/env node
// `npm run bench`: throughput against Apache in the same run (the oracle's bench.mjs, which
// starts a private Apache + mod_fcgid and htsandbox on copies of one site and alternates wrk
// rounds), then the memory benchmark. Arguments go to bench.mjs, e.g.
//   npm run bench -- --endpoints fcgi-c,fcgi-perl --duration 5 --rounds 2 --connections 16
// The oracle is looked for in $HTSANDBOX_ORACLE, else ../shared/oracle next to the checkout.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const oracle = process.env.HTSANDBOX_ORACLE ?? join(root, '..', 'shared', 'oracle');
const bin = join(root, 'bin', 'htsandbox.js');
let status = 0;
if (existsSync(join(oracle, 'bench.mjs'))) {
  const args = process.argv.slice(2);
  const candidate = `node ${bin} serve {root} --port {port} --host 127.0.0.1 --config {config}`;
  const r = spawnSync(
    process.execPath,
    [join(oracle, 'bench.mjs'), '--candidate', candidate, ...(args.length ? args : ['--endpoints', 'all', '--duration', '5', '--rounds', '2', '--connections', '16'])],
    { stdio: 'inherit' },
  );
  status = r.status ?? 1;
} else {
  console.error(`bench: no oracle at ${oracle} (set HTSANDBOX_ORACLE); skipping the comparison with Apache`);
}
const m = spawnSync(process.execPath, [join(root, 'scripts', 'bench-memory.mjs')], { stdio: 'inherit' });
process.exit(status || (m.status ?? 1));
