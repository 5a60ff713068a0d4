/**
 * Stale code, the seed's caveat: an app edited in place keeps serving old code (as on the
 * host), and htsandbox says so; with --reload-on-change the next request gets the new code.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, spawnServe } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

const base = mkdtempSync(join(tmpdir(), 'htsandbox-stale-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const app = (version: string): string =>
  `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) {\n  print "Content-Type: text/plain\\r\\n\\r\\n${version}\\n";\n}\n`;

describe.runIf(havePerlFcgi)('FastCGI stale code', () => {
  for (const reload of [false, true]) {
    it(reload ? '--reload-on-change serves the new code next' : 'keeps the old code and warns', async () => {
      const site = join(base, reload ? 'r' : 'w');
      mkdirSync(site);
      const file = join(site, 'app.fcgi');
      writeFileSync(file, app('v1'));
      chmodSync(file, 0o755);
      const conf = join(base, `host-${reload}.conf`);
      writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\n`);
      const s = await spawnServe([site, '--port', '0', '--config', conf, ...(reload ? ['--reload-on-change'] : [])]);
      expect((await get(s.port, '/app.fcgi')).body.toString()).toBe('v1\n');
      writeFileSync(file, app('v2'));
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      const after = (await get(s.port, '/app.fcgi')).body.toString();
      await new Promise((r) => setTimeout(r, 100));
      if (reload) {
        expect(after).toBe('v2\n');
      } else {
        expect(after).toBe('v1\n');
        expect(s.log()).toContain('app.fcgi changed on disk; 1 process still runs the old code, as it would on the host');
      }
      await s.stop();
    }, 20_000);
  }
});
