/**
 * Huge access files (issue 14 point 3): reading one must not hold up other clients, and what
 * the host applies from it is the same as when it is read in one go. No timing asserts: the
 * test asserts the order in which the answers come back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';

/** A 20,000-line `.htaccess` of many directive kinds, the last lines deciding what a request sees. */
function hugeHtaccess(lines: number): string {
  const kinds = [
    (i: number) => `SetEnvIf User-Agent "^bot${i}$" IS_BOT${i}=1`,
    (i: number) => `Header set X-Line v${i}`,
    (i: number) => `RewriteCond %{HTTP_HOST} ^h${i}\\.example$\nRewriteRule ^p${i}$ x.txt [L]`,
    (i: number) => `<Files f${i}.txt>\nRequire all denied\n</Files>`,
    (i: number) => `<IfModule mod_headers.c>\nHeader unset X-Gone-${i}\n</IfModule>`,
    (i: number) => `<RequireAny>\nRequire ip 10.${(i >> 8) & 255}.${i & 255}.0/24\nRequire all granted\n</RequireAny>`,
    (i: number) => `AddType text/x-k${i} .k${i}`,
    (i: number) => `Redirect /big/r${i} http://example.org/${i}`,
  ];
  const out = ['RewriteEngine On'];
  for (let i = 0; out.length < lines; i++) out.push(kinds[i % kinds.length]!(i));
  out.push('SetEnvIf User-Agent "^final-bot$" FINAL_BOT=1', 'Header set X-Final-Bot yes env=FINAL_BOT');
  return `${out.join('\n')}\n`;
}

describe('a huge .htaccess', () => {
  let root: string;
  let server: RunningServer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'htsandbox-scale-'));
    mkdirSync(join(root, 'big'));
    writeFileSync(join(root, 'other.txt'), 'other\n');
    writeFileSync(join(root, 'big', 'x.txt'), 'big\n');
    writeFileSync(join(root, 'big', '.htaccess'), hugeHtaccess(20_000));
    server = await serveInProcess(root, { profile: 'apache' });
  });

  afterAll(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('does not hold up a client asking for another file: that one is answered first', async () => {
    const order: string[] = [];
    // The first request to the huge file's directory; sent completely before the other one.
    const big = new Promise<{ status: number; header: string | string[] | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/big/x.txt', headers: { Connection: 'close', 'User-Agent': 'final-bot' } }, (res) => {
        res.resume();
        res.on('end', () => {
          order.push('big');
          resolve({ status: res.statusCode ?? 0, header: res.headers['x-final-bot'] });
        });
      });
      req.on('error', reject);
      req.end();
    });
    // Let the server take the first request in before the second one is sent.
    await new Promise((r) => setTimeout(r, 50));
    const other = get(server.port, '/other.txt').then((r) => {
      order.push('other');
      return r;
    });
    const [b, o] = await Promise.all([big, other]);
    expect(o.status).toBe(200);
    expect(order).toEqual(['other', 'big']);
    // What the file says still applies, down to its last lines.
    expect(b.status).toBe(200);
    expect(b.header).toBe('yes');
    // And the rest of it: a <Files> section, a rewrite rule, a Redirect from the middle.
    expect((await get(server.port, '/big/f3.txt')).status).toBe(403);
    expect((await get(server.port, '/big/r7')).status).toBe(302);
    expect((await get(server.port, '/big/p2', 'GET', { Host: 'h2.example' })).status).toBe(200);
  }, 60_000);
});
