/** Each .htaccess is parsed once per change, however many requests read it. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSiteContext } from '../src/server/site-context.js';
import { resolveRequest } from '../src/engine/resolve.js';
import { fastSpawn } from '../src/adapters/fast-spawn.js';

describe('htaccess cache', () => {
  const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('parses once per change', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-cache-'));
    writeFileSync(join(root, 'a.txt'), 'a');
    writeFileSync(join(root, '.htaccess'), 'Header set X-A 1\n');
    const site = createSiteContext({ siteRoot: root, profile: 'apache' });
    if ('error' in site) throw new Error(site.error);
    const req = { method: 'GET', rawPath: '/a.txt', query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' };
    // As the server does: each request starts with sync() (drops what a change made stale); a
    // request sent after an edit is handled in a later turn of the event loop.
    const resolve = async (): Promise<ReturnType<typeof resolveRequest>> => {
      await nextTurn();
      site.fs.sync();
      return resolveRequest(site, req);
    };
    for (let i = 0; i < 20; i++) expect((await resolve()).kind).toBe('file');
    expect(site.fs.parseCount).toBe(1);
    writeFileSync(join(root, '.htaccess'), 'Header set X-A 22\n');
    for (let i = 0; i < 20; i++) await resolve();
    expect(site.fs.parseCount).toBe(2);
    rmSync(root, { recursive: true, force: true });
  });

  it('the native helper lets the event loop poll the inotify queue', () => {
    if (!fastSpawn) return;
    expect(typeof fastSpawn.inotifyPollInLoop).toBe('function');
  });

  it('sees every kind of change on the next request: queue polled by the loop, read per turn, no inotify', async () => {
    for (const mode of ['polled', 'per-turn', 'none'] as const) {
      const root = mkdtempSync(join(tmpdir(), 'htsandbox-cache-'));
      mkdirSync(join(root, 'sub'));
      writeFileSync(join(root, 'sub', 'a.txt'), 'a');
      if (mode === 'none') process.env.HTSANDBOX_NO_INOTIFY = '1';
      if (mode === 'per-turn') process.env.HTSANDBOX_INOTIFY_PER_TURN = '1';
      const site = createSiteContext({ siteRoot: root, profile: 'apache' });
      delete process.env.HTSANDBOX_NO_INOTIFY;
      delete process.env.HTSANDBOX_INOTIFY_PER_TURN;
      if ('error' in site) throw new Error(site.error);
      const req = { method: 'GET', rawPath: '/sub/a.txt', query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' };
      const status = async (): Promise<number> => {
        await nextTurn();
        site.fs.sync();
        const d = resolveRequest(site, req);
        return d.kind === 'error' ? d.status : d.kind === 'file' ? 200 : -1;
      };
      expect(await status()).toBe(200);
      writeFileSync(join(root, 'sub', '.htaccess'), 'Require all denied\n');
      expect(await status()).toBe(403);
      rmSync(join(root, 'sub', '.htaccess'));
      expect(await status()).toBe(200);
      writeFileSync(join(root, '.htaccess'), 'Require all denied\n');
      expect(await status()).toBe(403);
      rmSync(join(root, '.htaccess'));
      rmSync(join(root, 'sub', 'a.txt'));
      expect(await status()).toBe(404);
      // The directory itself replaced by another: its new contents count.
      rmSync(join(root, 'sub'), { recursive: true });
      mkdirSync(join(root, 'sub'));
      writeFileSync(join(root, 'sub', 'a.txt'), 'again');
      expect(await status()).toBe(200);
      writeFileSync(join(root, 'sub', '.htaccess'), 'this is not a directive\n');
      expect(await status()).toBe(500);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reuses a walk only while nothing it read can have changed: the size of a file, the target of a symlink outside the site', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-cache-'));
    const outside = mkdtempSync(join(tmpdir(), 'htsandbox-cache-outside-'));
    writeFileSync(join(root, 'a.txt'), 'a');
    writeFileSync(join(outside, 'target.txt'), 'b');
    symlinkSync(join(outside, 'target.txt'), join(root, 'link.txt'));
    const site = createSiteContext({ siteRoot: root, profile: 'apache' });
    if ('error' in site) throw new Error(site.error);
    const size = async (rawPath: string): Promise<number> => {
      await nextTurn();
      site.fs.sync();
      const d = resolveRequest(site, { method: 'GET', rawPath, query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' });
      return d.kind === 'file' ? d.entry.size : -d.kind.length;
    };
    for (let i = 0; i < 3; i++) expect(await size('/a.txt')).toBe(1);
    writeFileSync(join(root, 'a.txt'), 'abc');
    expect(await size('/a.txt')).toBe(3);
    for (let i = 0; i < 3; i++) expect(await size('/link.txt')).toBe(1);
    // Nothing in the site changed (no event), but the link's target did.
    writeFileSync(join(outside, 'target.txt'), 'bcde');
    expect(await size('/link.txt')).toBe(4);
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('reads files for RewriteCond expr as for <If> (one view of the request for both)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-expr-'));
    mkdirSync(join(root, 'rw'));
    mkdirSync(join(root, 'if'));
    for (const d of ['rw', 'if']) writeFileSync(join(root, d, 'a.txt'), 'a');
    writeFileSync(
      join(root, 'rw', '.htaccess'),
      "RewriteEngine On\nRewriteCond expr \"filesize('%{DOCUMENT_ROOT}/flag') -gt 0 && -e '%{DOCUMENT_ROOT}/flag'\"\nRewriteRule ^ - [F]\n",
    );
    writeFileSync(join(root, 'if', '.htaccess'), "<If \"filesize('%{DOCUMENT_ROOT}/flag') -gt 0 && -e '%{DOCUMENT_ROOT}/flag'\">\nRequire all denied\n</If>\n");
    const site = createSiteContext({ siteRoot: root, profile: 'apache' });
    if ('error' in site) throw new Error(site.error);
    const status = async (rawPath: string): Promise<number> => {
      await nextTurn();
      site.fs.sync();
      const d = resolveRequest(site, { method: 'GET', rawPath, query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' });
      return d.kind === 'error' ? d.status : 200;
    };
    expect([await status('/rw/a.txt'), await status('/if/a.txt')]).toEqual([200, 200]);
    writeFileSync(join(root, 'flag'), 'on');
    expect([await status('/rw/a.txt'), await status('/if/a.txt')]).toEqual([403, 403]);
    rmSync(root, { recursive: true, force: true });
  });
});
