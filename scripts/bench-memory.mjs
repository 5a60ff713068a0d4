#!/usr/bin/env node
// Memory benchmark: how much the server's resident memory grows while it carries a large body
// through a FastCGI application (Perl FCGI) — a POST of N MiB and a response of N MiB — and a
// large static download. Prints the server's RSS before and its peak (VmHWM, reset before each
// case through /proc/PID/clear_refs) during each case.
//
//   node scripts/bench-memory.mjs [--mib 10] [--static-mib 1024]
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: { mib: { type: 'string', default: '10' }, 'static-mib': { type: 'string', default: '1024' } } });
const MIB = 1024 * 1024;
const n = Number(opt.mib) * MIB;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = mkdtempSync(join(tmpdir(), 'htsandbox-bench-mem-'));
const site = join(base, 'site');
execFileSync('mkdir', ['-p', site]);
writeFileSync(
  join(site, 'app.fcgi'),
  `#!/usr/bin/perl
use FCGI;
my $req = FCGI::Request();
my $block = 'x' x 65536;
while ($req->Accept() >= 0) {
  if (($ENV{QUERY_STRING} // '') =~ /^big=(\\d+)$/) {
    my $want = $1;
    print "Content-Type: application/octet-stream\\r\\n\\r\\n";
    while ($want > 0) { my $p = $want > 65536 ? 65536 : $want; print substr($block, 0, $p); $want -= $p; }
    next;
  }
  binmode STDIN;
  my ($len, $buf) = (0, '');
  while ((my $r = read(STDIN, $buf, 65536)) > 0) { $len += $r; }
  print "Content-Type: text/plain\\r\\n\\r\\nlen=$len\\n";
}
`,
);
chmodSync(join(site, 'app.fcgi'), 0o755);
const big = openSync(join(site, 'big.bin'), 'w');
ftruncateSync(big, Number(opt['static-mib']) * MIB);
closeSync(big);
writeFileSync(join(base, 'host.conf'), `Include "${root}/profiles/apache.conf"\n`);

const server = spawn(process.execPath, [join(root, 'bin/htsandbox.js'), 'serve', site, '--port', '0', '--host', '127.0.0.1', '--config', join(base, 'host.conf')], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
const port = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (c) => {
    out += c;
    const m = /:(\d+)\//.exec(out);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
});

const status = () => readFileSync(`/proc/${server.pid}/status`, 'utf8');
const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())[1]);
const resetPeak = () => writeFileSync(`/proc/${server.pid}/clear_refs`, '5');

function send(path, method, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: body ? { 'Content-Length': body.length } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(name, run) {
  await send('/app.fcgi', 'GET');
  global.gc?.();
  await new Promise((r) => setTimeout(r, 300));
  const before = kib('VmRSS');
  resetPeak();
  const r = await run();
  const peak = kib('VmHWM');
  console.log(
    `${name.padEnd(28)} status ${r.status}  RSS before ${(before / 1024).toFixed(0)} MiB  peak ${(peak / 1024).toFixed(0)} MiB  growth ${((peak - before) / 1024).toFixed(1)} MiB`,
  );
}

try {
  const body = Buffer.alloc(n, 7);
  await measure(`FastCGI POST ${opt.mib} MiB`, () => send('/app.fcgi', 'POST', body));
  await measure(`FastCGI response ${opt.mib} MiB`, () => send(`/app.fcgi?big=${n}`, 'GET'));
  await measure(`static download ${opt['static-mib']} MiB`, () => send('/big.bin', 'GET'));
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
  rmSync(base, { recursive: true, force: true });
}
