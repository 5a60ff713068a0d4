/**
 * The scripts profile runs scripts the Scripts way: `.php` through `php-cgi -f` with PHPRC and no
 * execute bit, everything through suexec's safe-environment filter.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerAvailable } from './helpers/peers.js';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';

const havePhp = peerAvailable('php-cgi', existsSync('/usr/bin/php-cgi') ? undefined : '/usr/bin/php-cgi not found (apt-get install php-cgi)');
let base: string;
let server: RunningServer;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-scripts-'));
  const site = join(base, 'site');
  mkdirSync(join(site, 'sub'), { recursive: true });
  writeFileSync(join(site, 'index.php'), '<?php echo "sum=", 6 * 7, " rc=", getenv("PHPRC"), " ini=", ini_get("memory_limit"), "\\n";');
  chmodSync(join(site, 'index.php'), 0o644);
  writeFileSync(join(site, 'sub', 'php.ini'), 'memory_limit = 77M\n');
  writeFileSync(join(site, 'sub', 'page.php'), '<?php echo ini_get("memory_limit"), "\\n";');
  writeFileSync(join(site, 'env.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "MINE=[${MINE-unset}] XC=[${HTTP_X_CUSTOM-unset}] PATH=[$PATH]"\n');
  chmodSync(join(site, 'env.cgi'), 0o755);
  writeFileSync(join(site, '.htaccess'), 'SetEnv MINE yes\n');
  server = await serveInProcess(site, { profile: 'scripts' });
});

afterAll(async () => {
  await server.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('scripts profile', () => {
  it.runIf(havePhp)('renders a PHP page without the execute bit, as the DirectoryIndex', async () => {
    const r = await get(server.port, '/');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`sum=42 rc=${join(base, 'site')} ini=128M\n`);
  });
  it.runIf(havePhp)("reads php.ini from the script's own directory (PHPRC)", async () => {
    expect((await get(server.port, '/sub/page.php')).body.toString()).toBe('77M\n');
  });
  it('filters the environment as suexec does', async () => {
    const r = await get(server.port, '/env.cgi', 'GET', { 'X-Custom': 'v' });
    expect(r.body.toString()).toBe('MINE=[unset] XC=[v] PATH=[/usr/local/bin:/usr/bin:/bin]\n');
  });
});
