/**
 * mod_proxy_fcgi's answers when the backend misbehaves (each as Apache 2.4's mod_proxy_fcgi
 * returns it): nothing listening is a 503, a reset before any answer a 503, silence past the
 * timeout a 504, and the server keeps serving.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { freePort, PROFILES_DIR } from './helpers/private-apache.js';

const base = mkdtempSync(join(tmpdir(), 'htsandbox-proxy-fcgi-'));
let server: ServeChild;
const backends: Server[] = [];
const sockets = new Set<Socket>();

/** A TCP "FastCGI server" that does `behaviour` with every connection. */
async function backend(behaviour: (s: Socket) => void): Promise<number> {
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    behaviour(s);
  });
  backends.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as { port: number }).port;
}

beforeAll(async () => {
  const silent = await backend(() => undefined);
  const resets = await backend((s) => s.once('data', () => s.resetAndDestroy()));
  const nothing = await freePort();
  const site = join(base, 'site');
  for (const [dir, port] of [
    ['silent', silent],
    ['resets', resets],
    ['nothing', nothing],
  ] as const) {
    mkdirSync(join(site, dir), { recursive: true });
    writeFileSync(join(site, dir, 'app.php'), '<?php echo 1;\n');
    writeFileSync(join(site, dir, '.htaccess'), `SetHandler "proxy:fcgi://127.0.0.1:${port}"\n`);
  }
  writeFileSync(join(site, 'plain.txt'), 'still here\n');
  writeFileSync(
    join(base, 'host.conf'),
    `Include "${PROFILES_DIR}/apache.conf"\nLoadModule proxy_module modules/mod_proxy.so\nLoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so\nTimeout 2\n`,
  );
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
});

afterAll(async () => {
  await server?.stop();
  for (const s of sockets) s.destroy();
  for (const b of backends) b.close();
  rmSync(base, { recursive: true, force: true });
});

describe('mod_proxy_fcgi backends that fail', () => {
  it('nothing listening: 503, with the address in the log', async () => {
    expect((await get(server.port, '/nothing/app.php')).status).toBe(503);
    for (let i = 0; i < 40 && !server.log().includes('AH01079'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.log()).toContain('Nothing accepts FastCGI connections at 127.0.0.1:');
  });

  it('a reset before any answer: 503', async () => {
    expect((await get(server.port, '/resets/app.php')).status).toBe(503);
  });

  it('silent past the timeout: 504, and the server keeps serving', async () => {
    expect((await get(server.port, '/silent/app.php')).status).toBe(504);
    expect((await get(server.port, '/plain.txt')).body.toString()).toBe('still here\n');
  }, 15_000);
});
