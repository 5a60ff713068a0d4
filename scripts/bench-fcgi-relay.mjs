#!/usr/bin/env node
// The floor for a Node FastCGI front end on this machine: an HTTP server that does nothing but
// relay each request to one of N kept connections to a FastCGI app (a pre-encoded request, no
// directory walk, no environment, no header parsing, res.end(body)). docs/performance.md
// compares htsandbox against it. Not a server: it answers every URL with the app's body.
//
//   node scripts/bench-fcgi-relay.mjs APP [--port 18099] [--processes 4]
//   wrk -t1 -c16 -d6s http://127.0.0.1:18099/
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fastSpawn } from '../dist/adapters/fast-spawn.js';

const { values: opt, positionals } = parseArgs({ allowPositionals: true, options: { port: { type: 'string', default: '18099' }, processes: { type: 'string', default: '4' } } });
const app = positionals[0];
if (!app || !fastSpawn) {
  console.error('usage: bench-fcgi-relay.mjs APP (needs the native addon: npm ci)');
  process.exit(2);
}
const record = (type, content) => {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h[1] = type;
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(content.length, 4);
  return Buffer.concat([h, content]);
};
const pair = (k, v) => Buffer.concat([Buffer.from([k.length, v.length]), Buffer.from(k), Buffer.from(v)]);
const params = Buffer.concat([
  pair('SCRIPT_FILENAME', app),
  pair('REQUEST_METHOD', 'GET'),
  pair('QUERY_STRING', ''),
  pair('GATEWAY_INTERFACE', 'CGI/1.1'),
  pair('SERVER_PROTOCOL', 'HTTP/1.1'),
]);
const begin = Buffer.alloc(8);
begin.writeUInt16BE(1, 0);
begin[2] = 1; // FCGI_KEEP_CONN
const wire = Buffer.concat([record(1, begin), record(4, params), record(4, Buffer.alloc(0)), record(5, Buffer.alloc(0))]);

const dir = mkdtempSync(join(tmpdir(), 'fcgi-relay-'));
const children = [];
const conns = [];
const idle = [];
const waiting = [];
const go = (c, res) => {
  c.res = res;
  c.sock.write(wire);
};
for (let i = 0; i < Number(opt.processes); i++) {
  const path = join(dir, `s${i}`);
  const fd = fastSpawn.listenUnix(path, 511);
  children.push(spawn(app, [], { stdio: [fd, 'inherit', 'inherit'] }));
  fastSpawn.closeFd(fd);
  const c = { sock: net.connect(path), res: null, chunks: [] };
  c.sock.on('data', (d) => {
    c.chunks.push(d);
    // A small answer arrives whole: STDOUT…, then END_REQUEST (16 bytes) last.
    if (d.length < 16 || d[d.length - 15] !== 3) return;
    const all = Buffer.concat(c.chunks);
    c.chunks = [];
    const out = all.subarray(8, 8 + all.readUInt16BE(4));
    const res = c.res;
    c.res = null;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(out.subarray(out.indexOf('\r\n\r\n') + 4));
    const w = waiting.shift();
    if (w) go(c, w);
    else idle.push(c);
  });
  idle.push(c);
  conns.push(c);
}
const server = http.createServer((req, res) => {
  const c = idle.pop();
  if (c) go(c, res);
  else waiting.push(res);
});
server.listen(Number(opt.port), '127.0.0.1', () => console.log(`relay on http://127.0.0.1:${opt.port}/ (${app}, ${opt.processes} processes)`));
const stop = async () => {
  // libfcgi only acts on SIGTERM between requests: close the kept connections first.
  for (const c of [...idle, ...conns]) c.sock.destroy();
  setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 2000).unref();
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : (c.once('exit', r), c.kill('SIGTERM'))))));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
