/** `htsandbox serve` over real sockets: edits, caching, hostile URLs, shutdown. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';

let base: string;
let root: string;
let server: RunningServer;
const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-serve-'));
  root = join(base, 'site');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(root, 'index.html'), '<p>home</p>\n');
  writeFileSync(join(root, 'page.txt'), 'page\n');
  writeFileSync(join(root, '.htpasswd'), `user:${SECRET}\n`);
  writeFileSync(join(root, 'sub', 'a.txt'), 'a\n');
  writeFileSync(join(root, 'sub', '.htaccess'), 'Header set X-Sub one\n');
  server = await serveInProcess(root, { profile: 'apache' });
});

afterAll(async () => {
  const code = await server.stop();
  expect(code).toBe(0);
  rmSync(base, { recursive: true, force: true });
});

describe('serve', () => {
  it('writes one combined-format access line per answer, after it went out', async () => {
    const logged = await serveInProcess(root, { profile: 'apache', accessLog: '-' });
    try {
      await get(logged.port, '/page.txt', 'GET', { Referer: 'http://ref.example/', 'User-Agent': 'probe/1' });
      await get(logged.port, '/missing.txt', 'HEAD');
      const lines = logged
        .output()
        .split('\n')
        .filter((l) => l.includes(' HTTP/1.1" '));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/page\.txt HTTP\/1\.1" 200 5 "http:\/\/ref\.example\/" "probe\/1"$/);
      expect(lines[1]).toMatch(/"HEAD \/missing\.txt HTTP\/1\.1" 404 \S+ "-" "-"$/);
    } finally {
      expect(await logged.stop()).toBe(0);
    }
  });

  it("prints exactly the ready line, then the dashboard's address, on stdout", () => {
    expect(server.output()).toBe(
      `htsandbox: serving ${root} at http://127.0.0.1:${server.port}/\ndashboard: http://127.0.0.1:${server.port}/.htsandbox/ (loopback clients only)\n`,
    );
  });

  it("serves a static file with Apache's ETag format and no type for unknown extensions", async () => {
    const r = await get(server.port, '/page.txt');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers.etag).toMatch(/^"5-[0-9a-f]+"$/);
  });

  it('an .htaccess edit shows on the next request, and each version is parsed once', async () => {
    const first = await get(server.port, '/sub/a.txt');
    expect(first.headers['x-sub']).toBe('one');
    await get(server.port, '/sub/a.txt');
    writeFileSync(join(root, 'sub', '.htaccess'), 'Header set X-Sub two-changed\n');
    const second = await get(server.port, '/sub/a.txt');
    expect(second.headers['x-sub']).toBe('two-changed');
    writeFileSync(join(root, 'sub', '.htaccess'), 'RewriteEngin On\n');
    expect((await get(server.port, '/sub/a.txt')).status).toBe(500);
    expect((await get(server.port, '/sub/.htaccess')).status).toBe(500);
    rmSync(join(root, 'sub', '.htaccess'));
    const gone = await get(server.port, '/sub/a.txt');
    expect(gone.status).toBe(200);
    expect(gone.headers['x-sub']).toBeUndefined();
  });

  const vectors = [
    '/../secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/%2e./secret.txt',
    '/sub/../../secret.txt',
    '/sub/%2e%2e/%2e%2e/secret.txt',
    '/./../secret.txt',
    '//../secret.txt',
    '/sub//..//..//secret.txt',
    '/..\\secret.txt',
    '/%2e%2e%5csecret.txt',
    '/..%5csecret.txt',
    '/sub/..%2f..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%00/secret.txt',
    '/%00',
    '/page.txt%00.html',
    '/secret.txt%00',
    '/%c0%ae%c0%ae/secret.txt',
    '/%c0%ae%c0%ae%c0%afsecret.txt',
    '/%e0%80%ae%e0%80%ae/secret.txt',
    '/..;/secret.txt',
    '/;/../secret.txt',
    '/sub;x/../../secret.txt',
    '/%252e%252e/secret.txt',
    '/..%252fsecret.txt',
    '/.htpasswd',
    '/%2ehtpasswd',
    '/.htpasswd/',
    '/.htpasswd/x',
    '/sub/../.htpasswd',
    '/%2e%68%74%70%61%73%73%77%64',
    '/.HTPASSWD',
    '/.htpasswd%00',
    '/.htpasswd;',
    '/.ht*',
    '/sub/%2e%2e/.htpasswd',
    '/./.htpasswd',
    '//.htpasswd',
    '/%2F..%2Fsecret.txt',
    '/sub%2f..%2f..%2fsecret.txt',
    '/...//secret.txt',
    '/..../secret.txt',
    '/%u002e%u002e/secret.txt',
    '/%%32%65%%32%65/secret.txt',
    '/%ZZ/secret.txt',
    '/../../../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/sub/../../../../etc/passwd',
    '/..%c0%afsecret.txt',
  ];
  it(`never serves content from outside the root or from .ht* files (${vectors.length} vectors)`, async () => {
    expect(vectors.length).toBeGreaterThanOrEqual(50);
    for (const v of vectors) {
      const r = await get(server.port, v);
      const body = r.body.toString('latin1');
      expect(body, v).not.toContain(SECRET);
      expect(body, v).not.toContain('root:x:0:0');
      expect([200, 301, 400, 403, 404], v).toContain(r.status);
    }
  });

  it("gives Apache's statuses for malformed paths", async () => {
    expect((await get(server.port, '/../x')).status).toBe(400);
    expect((await get(server.port, '/a%2Fb')).status).toBe(404);
    expect((await get(server.port, '/a%00b')).status).toBe(404);
    expect((await get(server.port, '/a%zz')).status).toBe(400);
    expect((await get(server.port, '/.htnothere')).status).toBe(403);
  });

  it('answers conditional and range requests', async () => {
    const r = await get(server.port, '/page.txt');
    const etag = String(r.headers.etag);
    expect((await get(server.port, '/page.txt', 'GET', { 'If-None-Match': etag })).status).toBe(304);
    const part = await get(server.port, '/page.txt', 'GET', { Range: 'bytes=1-2' });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe('ag');
    expect((await get(server.port, '/page.txt', 'GET', { Range: 'bytes=100-200' })).status).toBe(416);
    expect((await get(server.port, '/page.txt', 'DELETE')).status).toBe(405);
  });

  it('follows symlinks only as Options allow', async () => {
    symlinkSync(join(root, 'page.txt'), join(root, 'link.txt'));
    expect((await get(server.port, '/link.txt')).status).toBe(200);
    mkdirSync(join(root, 'nofollow'));
    symlinkSync(join(root, 'page.txt'), join(root, 'nofollow', 'link.txt'));
    writeFileSync(join(root, 'nofollow', '.htaccess'), 'Options -FollowSymLinks\n');
    expect((await get(server.port, '/nofollow/link.txt')).status).toBe(403);
    utimesSync(join(root, 'page.txt'), new Date(), new Date());
  });
});
