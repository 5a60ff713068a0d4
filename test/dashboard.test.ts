/**
 * The teaching dashboard: its JSON API lists processes and requests (with the reason for an
 * error), streams changes as Server-Sent Events, redacts credentials, is for loopback clients
 * only, and links every answer to its story unless --strict. Also the warning when a running
 * FastCGI script is replaced by a new file.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { isLoopback, serveDashboard } from '../src/server/dashboard.js';
import { RequestJournal, recordOf, redactValue } from '../src/server/request-journal.js';
import type { HostResponse } from '../src/server/response-sink.js';
import type { SiteContext } from '../src/server/site-context.js';
import { get, serveInProcess } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface ApiStatus {
  processes: { app: string; pid: number; state: string; requests: number; oldCode: boolean; server: number }[];
  requests: { id: number; method: string; url: string; status: number; handler: string; server: number; pid?: number; reason?: string }[];
  events: { kind: string; message: string }[];
  server: { cgiSpawns: number };
}

async function status(port: number): Promise<ApiStatus> {
  const r = await get(port, '/.htsandbox/api/status');
  expect(r.status).toBe(200);
  return JSON.parse(r.body.toString()) as ApiStatus;
}

describe.runIf(havePerlFcgi)('the dashboard API', () => {
  it('lists FastCGI processes and recent requests, with the plain-words reason of an error', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const fcgi = await get(server.port, '/counter.fcgi');
      expect(fcgi.status).toBe(200);
      expect((await get(server.port, '/hello.cgi')).status).toBe(200);
      expect((await get(server.port, '/errors/not-executable.cgi')).status).toBe(500);
      const s = await status(server.port);
      const proc = s.processes.find((p) => p.app.endsWith('/counter.fcgi'));
      expect(proc).toMatchObject({ state: 'idle', requests: 1, oldCode: false, server: 1 });
      const byUrl = new Map(s.requests.map((r) => [r.url, r]));
      expect(byUrl.get('/counter.fcgi')).toMatchObject({ method: 'GET', status: 200, handler: 'fcgid-script', server: 1, pid: proc!.pid });
      expect(byUrl.get('/hello.cgi')).toMatchObject({ status: 200, handler: 'cgi-script' });
      expect(byUrl.get('/hello.cgi')!.reason).toBeUndefined();
      expect(byUrl.get('/errors/not-executable.cgi')).toMatchObject({ status: 500, handler: 'cgi-script' });
      expect(byUrl.get('/errors/not-executable.cgi')!.reason).toMatch(/not executable: run "chmod \+x not-executable.cgi"/);
      expect(s.server.cgiSpawns).toBeGreaterThanOrEqual(1);
      expect(s.events.some((e) => e.kind === 'spawn' && e.message.includes('counter.fcgi'))).toBe(true);
      // Each answer points at its own story.
      const id = byUrl.get('/errors/not-executable.cgi')!.id;
      const page = await get(server.port, `/.htsandbox/r/${id}`);
      expect(page.status).toBe(200);
      expect(page.body.toString()).toContain('chmod +x not-executable.cgi');
    } finally {
      await server.stop();
    }
  });

  it('streams a change as a Server-Sent Event without a reload', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const seen = await new Promise<string>((resolve, reject) => {
        let text = '';
        let asked = false;
        const req = request({ host: '127.0.0.1', port: server.port, path: '/.htsandbox/api/events' }, (res: IncomingMessage) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          res.on('data', (c: Buffer) => {
            text += c.toString();
            if (!asked && text.includes('\n\n')) {
              asked = true;
              void get(server.port, '/counter.fcgi?from-sse-test');
            }
            if (text.includes('/counter.fcgi?from-sse-test')) {
              req.destroy();
              resolve(text);
            }
          });
        });
        req.on('error', (err) => (asked && text.includes('from-sse-test') ? undefined : reject(err)));
        req.end();
      });
      expect(seen).toMatch(/^event: status\ndata: \{/);
    } finally {
      await server.stop();
    }
  });

  it('redacts credentials and adds X-Htsandbox-Explain, which --strict leaves out', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const r = await get(server.port, '/private/', 'GET', { Authorization: 'Basic c3R1ZGVudDpzYW5kYm94', Cookie: 'sid=secret' });
      expect(r.status).toBe(200);
      const link = String(r.headers['x-htsandbox-explain']);
      expect(link).toMatch(/^\/\.htsandbox\/r\/\d+$/);
      const one = JSON.parse((await get(server.port, link.replace('/r/', '/api/requests/'))).body.toString()) as { headers: Record<string, string> };
      expect(one.headers.Authorization).toBe('[redacted]');
      expect(one.headers.Cookie).toBe('[redacted]');
      expect(JSON.stringify(one)).not.toContain('c3R1ZGVudDpzYW5kYm94');
    } finally {
      await server.stop();
    }
    const strict = await serveInProcess(STARTER_SITE, { strict: true });
    try {
      expect((await get(strict.port, '/')).headers['x-htsandbox-explain']).toBeUndefined();
    } finally {
      await strict.stop();
    }
  });

  it('keeps the FastCGI records of each request when asked, also on a process started before', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      expect((await get(server.port, '/counter.fcgi')).status).toBe(200);
      const before = JSON.parse((await get(server.port, '/.htsandbox/api/status')).body.toString()) as { requests: { id: number; url: string }[] };
      const firstId = before.requests.find((r) => r.url === '/counter.fcgi')!.id;
      const on = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/.htsandbox/api/fcgi-records?on=1', method: 'POST' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      expect(on).toBe(200);
      const second = await get(server.port, '/counter.fcgi?traced');
      const id = Number(String(second.headers['x-htsandbox-explain']).split('/').pop());
      const one = JSON.parse((await get(server.port, `/.htsandbox/api/requests/${id}`)).body.toString()) as { fcgiRecords?: string[] };
      expect(one.fcgiRecords?.[0]).toMatch(/^<- BEGIN_REQUEST #1/);
      expect(one.fcgiRecords?.some((r) => /^-> STDOUT #1/.test(r))).toBe(true);
      expect(one.fcgiRecords?.some((r) => /^-> END_REQUEST #1/.test(r))).toBe(true);
      const first = JSON.parse((await get(server.port, `/.htsandbox/api/requests/${firstId}`)).body.toString()) as { fcgiRecords?: string[] };
      expect(first.fcgiRecords).toBeUndefined();
      expect((await get(server.port, `/.htsandbox/r/${id}`)).body.toString()).toContain('BEGIN_REQUEST');
      // Each request's page tells its story, with the directive's place.
      expect((await get(server.port, '/front/articles/42')).status).toBe(200);
      const all = JSON.parse((await get(server.port, '/.htsandbox/api/status')).body.toString()) as { requests: { id: number; url: string }[] };
      const frontId = all.requests.find((r) => r.url === '/front/articles/42')!.id;
      const told = JSON.parse((await get(server.port, `/.htsandbox/api/requests/${frontId}`)).body.toString()) as {
        story?: { steps: { file?: string; line?: number; text: string }[]; answer: { kind: string } };
      };
      expect(told.story?.steps.some((s) => s.file === '/front/.htaccess' && s.line === 11 && s.text.startsWith('RewriteRule ^ index.cgi'))).toBe(true);
      expect(told.story?.answer.kind).toBe('cgi-script');
      expect((await get(server.port, `/.htsandbox/r/${frontId}`)).body.toString()).toContain("The request's story");
    } finally {
      await server.stop();
    }
  });

  it('says so when a running FastCGI script is replaced by a new file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-dash-'));
    dirs.push(root);
    const app = (n: number): string =>
      `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\nversion ${n} pid $$\\n"; }\n`;
    writeFileSync(join(root, 'app.fcgi'), app(1), { mode: 0o755 });
    const server = await serveInProcess(root);
    try {
      const first = (await get(server.port, '/app.fcgi')).body.toString();
      expect(first).toMatch(/^version 1 /);
      writeFileSync(join(root, 'app.fcgi.new'), app(2), { mode: 0o755 });
      renameSync(join(root, 'app.fcgi.new'), join(root, 'app.fcgi'));
      const second = (await get(server.port, '/app.fcgi')).body.toString();
      expect(second).toMatch(/^version 2 /);
      const s = await status(server.port);
      const oldPid = Number(/pid (\d+)/.exec(first)![1]);
      expect(s.events.some((e) => e.message.includes('replaced by a new file') && e.message.includes(String(oldPid)))).toBe(true);
      expect(s.processes.map((p) => p.pid)).toContain(oldPid);
    } finally {
      await server.stop();
    }
  });
});

describe('SetHandler server-status on the Scripts profile', () => {
  it('is a 404 whose reason says why, in plain words', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-dash-'));
    dirs.push(root);
    writeFileSync(join(root, '.htaccess'), '<Files status>\n    SetHandler server-status\n</Files>\n');
    const server = await serveInProcess(root);
    try {
      const r = await get(server.port, '/status');
      expect(r.status).toBe(404);
      const s = await status(server.port);
      expect(s.requests.find((x) => x.url === '/status')?.reason).toMatch(/SetHandler server-status has no effect in a \.htaccess on the Scripts host/);
    } finally {
      await server.stop();
    }
  });
});

describe("the dashboard's rules", () => {
  it('is for loopback clients only unless public', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.5')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.5')).toBe(false);
    expect(isLoopback('::ffff:192.0.2.1')).toBe(false);
    const journal = new RequestJournal();
    const site = { server: 1, fcgiPool: { status: () => [] }, stats: { startedAt: Date.now(), requests: 0 } } as unknown as SiteContext;
    const fake = (addr: string) => ({ method: 'GET', socket: { remoteAddress: addr, once() {} }, resume() {} }) as unknown as IncomingMessage;
    let written = '';
    const res = {
      writeHead() {},
      end(b?: string) {
        written += b ?? '';
      },
    } as unknown as ServerResponse;
    expect(serveDashboard([site], journal, { prefix: '/.htsandbox/', public: false }, fake('192.0.2.1'), res, '/.htsandbox/api/status')).toBe(false);
    expect(serveDashboard([site], journal, { prefix: '/.htsandbox/', public: true }, fake('192.0.2.1'), res, '/.htsandbox/api/status')).toBe(true);
    expect(JSON.parse(written)).toHaveProperty('processes');
    expect(serveDashboard([site], journal, { prefix: '/.htsandbox/', public: false }, fake('127.0.0.1'), res, '/other/')).toBe(false);
  });

  it('keeps the last 300 requests in a ring: newest first, older ids gone, each found by id', () => {
    const journal = new RequestJournal();
    const req = (i: number) => ({ method: 'GET', rawHeaders: ['Host', `h${i}`] }) as unknown as IncomingMessage;
    for (let i = 1; i <= 305; i++) {
      const res = {} as HostResponse;
      const rec = journal.begin(req(i), res, `/r${i}`);
      expect(recordOf(res)).toBe(rec);
      if (i % 2 === 0) journal.finish(rec, 200);
    }
    const recent = journal.recent();
    expect(recent).toHaveLength(300);
    expect(recent[0]!.url).toBe('/r305');
    expect(recent[299]!.url).toBe('/r6');
    expect(journal.recent(2).map((r) => r.id)).toEqual([305, 304]);
    expect(journal.get(5)).toBeUndefined();
    expect(journal.get(6)?.url).toBe('/r6');
    expect(journal.get(305)?.status).toBe(0);
    expect(journal.get(304)?.status).toBe(200);
    expect(journal.get(306)).toBeUndefined();
    expect(journal.get(0)).toBeUndefined();
  });

  it('redacts values by header or variable name', () => {
    expect(redactValue('Authorization', 'Basic abc')).toBe('[redacted]');
    expect(redactValue('HTTP_COOKIE', 'a=b')).toBe('[redacted]');
    expect(redactValue('DB_PASSWORD', 'x')).toBe('[redacted]');
    expect(redactValue('Accept', 'text/html')).toBe('text/html');
  });
});
