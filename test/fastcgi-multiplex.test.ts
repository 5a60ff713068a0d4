/**
 * `HtsandboxFcgidMultiplex On`: requests share one connection to an application that says (in
 * FCGI_GET_VALUES) it multiplexes, and a client that goes away is an FCGI_ABORT_REQUEST, not a
 * closed connection. Without it, the same application gets mod_fcgid's one request at a time
 * and is never asked. The application is test/fixtures/mux_app.py, written from the spec.
 */
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { PROFILES_DIR, PROJECT_ROOT } from './helpers/private-apache.js';

const base = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-mux-'));
const site = join(base, 'site');
let server: ServeChild;

const fields = (body: Buffer): Record<string, string> =>
  Object.fromEntries(
    body
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const events = (dir: string): string[] =>
  existsSync(join(site, dir, 'events.log'))
    ? readFileSync(join(site, dir, 'events.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
    : [];

beforeAll(async () => {
  for (const dir of ['mpx', 'plain']) {
    mkdirSync(join(site, dir), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, 'test/fixtures/mux_app.py'), join(site, dir, 'app.fcgi'));
    chmodSync(join(site, dir, 'app.fcgi'), 0o755);
  }
  // The directive is htsandbox's own: <IfDirective> keeps the file valid on the real host.
  writeFileSync(join(site, 'mpx', '.htaccess'), '<IfDirective HtsandboxFcgidMultiplex>\nHtsandboxFcgidMultiplex On\n</IfDirective>\n');
  writeFileSync(join(base, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nFcgidMaxProcessesPerClass 1\n`);
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
});

afterAll(async () => {
  await server?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('FastCGI multiplexing', () => {
  it('asks with FCGI_GET_VALUES, then runs concurrent requests on one connection of one process', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => get(server.port, `/mpx/app.fcgi?sleep=0.4&n=${i}`)));
    for (const a of answers) expect(a.status).toBe(200);
    const f = answers.map((a) => fields(a.body));
    expect(new Set(f.map((x) => x.pid)).size).toBe(1);
    expect(new Set(f.map((x) => x.conn)).size).toBe(1);
    expect(new Set(f.map((x) => x.id)).size).toBe(6);
    // They overlapped: some request started while others were in flight on the connection.
    expect(Math.max(...f.map((x) => Number(x.inflight_at_start)))).toBeGreaterThan(1);
    expect(events('mpx')[0]).toBe('get_values FCGI_MAX_CONNS,FCGI_MAX_REQS,FCGI_MPXS_CONNS');
  }, 30_000);

  it('request bodies spooled to disk travel on the shared connection too', async () => {
    const body = Buffer.alloc(300_000, 120);
    const answers = await Promise.all(
      [0, 1].map(
        (i) =>
          new Promise<Record<string, string>>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port: server.port, path: `/mpx/app.fcgi?post=${i}`, method: 'POST', headers: { 'Content-Length': body.length } }, (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (c: Buffer) => chunks.push(c));
              r.on('end', () => resolve(fields(Buffer.concat(chunks))));
            });
            req.on('error', reject);
            req.end(body);
          }),
      ),
    );
    for (const f of answers) expect(f.stdin).toBe('300000');
    expect(new Set(answers.map((f) => f.conn)).size).toBe(1);
  }, 30_000);

  it('a client that goes away is an FCGI_ABORT_REQUEST; the process and its connection stay', async () => {
    const before = fields((await get(server.port, '/mpx/app.fcgi')).body);
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/mpx/app.fcgi?sleep=3' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 400);
    });
    for (let i = 0; i < 40 && !events('mpx').some((e) => e.startsWith('abort ')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(events('mpx').filter((e) => e.startsWith('abort '))).toHaveLength(1);
    const after = fields((await get(server.port, '/mpx/app.fcgi')).body);
    expect(after.pid).toBe(before.pid);
    expect(after.conn).toBe(before.conn);
  }, 30_000);

  it('without the directive: never asked, one request at a time (mod_fcgid)', async () => {
    const answers = await Promise.all(Array.from({ length: 3 }, (_, i) => get(server.port, `/plain/app.fcgi?sleep=0.2&n=${i}`)));
    const f = answers.map((a) => fields(a.body));
    expect(f.map((x) => x.inflight_at_start)).toEqual(['1', '1', '1']);
    expect(new Set(f.map((x) => x.pid)).size).toBe(1);
    expect(events('plain').some((e) => e.startsWith('get_values'))).toBe(false);
  }, 30_000);
});
