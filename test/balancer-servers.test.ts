/**
 * `serve --servers N`: the host's load balancer in front of N simulated servers, each with its
 * own FastCGI processes; a client stays on its server for the persistence time.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { balancerClientKey, PersistenceTable } from '../src/engine/lvs-persistence.js';
import { get, serveInProcess, type SimpleResponse } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

describe("the balancer's persistence table", () => {
  it('sends new clients to the servers in turn and keeps each on its server', () => {
    const t = new PersistenceTable(3, 600_000);
    expect(['a', 'b', 'c', 'd'].map((c) => t.route(c, 0))).toEqual([0, 1, 2, 0]);
    expect(['c', 'b', 'a', 'd'].map((c) => t.route(c, 1000))).toEqual([2, 1, 0, 0]);
    expect(t.clientsPerServer(1000)).toEqual([2, 1, 1]);
  });

  it('lets a client move once its persistence expired, and renews it on each request', () => {
    const t = new PersistenceTable(2, 10_000);
    expect(t.route('a', 0)).toBe(0);
    expect(t.route('a', 9_000)).toBe(0);
    expect(t.route('a', 18_000)).toBe(0); // renewed at 9 s: kept until 19 s
    expect(t.route('b', 18_000)).toBe(1);
    expect(t.route('a', 40_000)).toBe(0); // expired: the next in turn, which is server 0 again
    expect(t.route('c', 40_000)).toBe(1);
    expect(t.clientsPerServer(100_000)).toEqual([0, 0]);
  });

  it("keys a client on X-Forwarded-For's first address, else the source address", () => {
    expect(balancerClientKey('127.0.0.1', '10.1.2.3, 127.0.0.1')).toBe('10.1.2.3');
    expect(balancerClientKey('127.0.0.2', undefined)).toBe('127.0.0.2');
    expect(balancerClientKey('127.0.0.2', ' ')).toBe('127.0.0.2');
  });
});

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** GET from a given loopback source address. */
function getFrom(port: number, path: string, localAddress: string): Promise<SimpleResponse> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, headers: { Connection: 'close' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', rej);
    req.end();
  });
}

interface Api {
  processes: { app: string; pid: number; oldCode: boolean; server: number }[];
  requests: { url: string; server: number; pid?: number }[];
  server: { servers: number; clientsPerServer: number[] };
}

describe.runIf(havePerlFcgi)('serve --servers 3', () => {
  const APP = (v: number): string =>
    `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\nversion ${v} pid $$\\n"; }\n`;

  it('spreads clients over the servers, each with its own process, and keeps a client on its server', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-lvs-'));
    dirs.push(root);
    writeFileSync(join(root, 'app.fcgi'), APP(1), { mode: 0o755 });
    const server = await serveInProcess(root, { servers: 3 });
    try {
      const pids = new Map<string, string>();
      for (const addr of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
        const body = (await getFrom(server.port, `/app.fcgi?${addr}`, addr)).body.toString();
        pids.set(addr, /pid (\d+)/.exec(body)![1]!);
      }
      // The same client again: the same server, so the same process.
      for (const addr of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
        expect(/pid (\d+)/.exec((await getFrom(server.port, '/app.fcgi', addr)).body.toString())![1]).toBe(pids.get(addr));
      }
      expect(new Set(pids.values()).size).toBe(3);
      const api = JSON.parse((await get(server.port, '/.htsandbox/api/status')).body.toString()) as Api;
      expect(api.server.servers).toBe(3);
      expect(api.processes.map((p) => p.server).sort()).toEqual([1, 2, 3]);
      const served = new Set(api.requests.filter((r) => r.url.startsWith('/app.fcgi?')).map((r) => r.server));
      expect(served.size).toBe(3);
      for (const r of api.requests.filter((x) => x.url === '/app.fcgi')) {
        expect(api.processes.find((p) => p.pid === r.pid)?.server).toBe(r.server);
      }
    } finally {
      await server.stop();
    }
  });

  it("shows the FAQ's caveat: after an update, the old process on each server still answers with the old code", async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-lvs-'));
    dirs.push(root);
    const file = join(root, 'app.fcgi');
    writeFileSync(file, APP(1), { mode: 0o755 });
    const server = await serveInProcess(root, { servers: 2 });
    try {
      const as = (who: string): Promise<string> => get(server.port, '/app.fcgi', 'GET', { 'X-Forwarded-For': who }).then((r) => r.body.toString());
      expect(await as('18.0.0.1')).toMatch(/^version 1/);
      expect(await as('18.0.0.2')).toMatch(/^version 1/);
      writeFileSync(file, APP(2));
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      // Both servers' processes keep the code they started with, as on the host.
      expect(await as('18.0.0.1')).toMatch(/^version 1/);
      expect(await as('18.0.0.2')).toMatch(/^version 1/);
      const api = JSON.parse((await get(server.port, '/.htsandbox/api/status')).body.toString()) as Api;
      expect(api.processes.map((p) => [p.server, p.oldCode]).sort()).toEqual([
        [1, true],
        [2, true],
      ]);
    } finally {
      await server.stop();
    }
  });
});
