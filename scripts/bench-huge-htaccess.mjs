#!/usr/bin/env node
// How long one huge .htaccess holds up other clients (issue 14): starts `htsandbox serve` on a
// site whose big/.htaccess has LINES SetEnvIf lines (default 20,000), sends the first request to
// that directory and, until it is answered (and for MIN_MS at least), keeps asking for another
// file; prints the other client's median and worst wait. Needs a build (npm run build).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lines = Number(process.env.LINES ?? 20000);
const minMs = Number(process.env.MIN_MS ?? 1500);
const root = mkdtempSync(join(tmpdir(), 'htsandbox-huge-'));
mkdirSync(join(root, 'big'));
writeFileSync(join(root, 'other.txt'), 'other\n');
writeFileSync(join(root, 'big', 'x.txt'), 'big\n');
writeFileSync(join(root, 'big', '.htaccess'), Array.from({ length: lines }, (_, i) => `SetEnvIf User-Agent "^bot${i}$" IS_BOT${i}=1\n`).join(''));

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'htsandbox.js');
const server = spawn(process.execPath, [bin, 'serve', root, '--port', '0', '--profile', 'apache'], { stdio: ['ignore', 'pipe', 'ignore'] });
const port = await new Promise((resolve) =>
  server.stdout.on('data', (d) => {
    const m = /:(\d+)\//.exec(String(d));
    if (m) resolve(Number(m[1]));
  }),
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const get = (path) =>
  new Promise((resolve, reject) => {
    const t = performance.now();
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t }));
      })
      .on('error', reject);
  });
for (let i = 0; i < 5; i++) await get('/other.txt');
let done = false;
const big = get('/big/x.txt').then((r) => {
  done = true;
  return r;
});
const waits = [];
const until = performance.now() + minMs;
while (!done || performance.now() < until) {
  waits.push((await get('/other.txt')).ms);
  await new Promise((r) => setTimeout(r, 2));
}
const first = await big;
waits.sort((a, b) => a - b);
console.log(
  `${lines} lines: first request to big/ ${first.status} in ${first.ms.toFixed(0)} ms; another file, ${waits.length} requests meanwhile: median ${waits[waits.length >> 1].toFixed(1)} ms, worst ${waits.at(-1).toFixed(1)} ms`,
);
agent.destroy();
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
rmSync(root, { recursive: true, force: true });
