/** Each .htaccess is parsed once per change, however many requests read it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSiteContext } from '../src/server/site-context.js';
import { resolveRequest } from '../src/engine/resolve.js';

describe('htaccess cache', () => {
  it('parses once per change', () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-cache-'));
    writeFileSync(join(root, 'a.txt'), 'a');
    writeFileSync(join(root, '.htaccess'), 'Header set X-A 1\n');
    const site = createSiteContext({ siteRoot: root, profile: 'apache' });
    if ('error' in site) throw new Error(site.error);
    const req = { method: 'GET', rawPath: '/a.txt', query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' };
    for (let i = 0; i < 20; i++) expect(resolveRequest(site, req).kind).toBe('file');
    expect(site.fs.parseCount).toBe(1);
    writeFileSync(join(root, '.htaccess'), 'Header set X-A 22\n');
    for (let i = 0; i < 20; i++) resolveRequest(site, req);
    expect(site.fs.parseCount).toBe(2);
    rmSync(root, { recursive: true, force: true });
  });
});
