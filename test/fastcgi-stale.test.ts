/**
 * Stale code, the seed's caveat: an app edited in place keeps serving old code (as on the
 * host), and htsandbox says so; with --reload-on-change the next request gets the new code.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';
import { isAlive } from './helpers/processes.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

const base = mkdtempSync(join(tmpdir(), 'htsandbox-stale-'));
/** Servers still running when a test fails half-way; stopped in afterAll. */
const running = new Set<ServeChild>();
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop();
  rmSync(base, { recursive: true, force: true });
});

const app = (version: string): string =>
  `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) {\n  sleep 1 if ($ENV{QUERY_STRING} // '') eq 'slow';\n  print "Content-Type: text/plain\\r\\n\\r\\n${version} $$\\n";\n}\n`;

describe.runIf(havePerlFcgi)('FastCGI stale code', () => {
  it('an idle process edited in place keeps its old code, and htsandbox says so', async () => {
    const site = join(base, 'seq');
    mkdirSync(site);
    writeFileSync(join(site, '.htaccess'), '<Files "server-status">\nSetHandler server-status\n</Files>\n');
    const file = join(site, 'app.fcgi');
    writeFileSync(file, app('v1'));
    chmodSync(file, 0o755);
    const conf = join(base, 'host-seq.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\n`);
    const s = await spawnServe([site, '--port', '0', '--config', conf]);
    running.add(s);
    const first = (await get(s.port, '/app.fcgi')).body.toString();
    writeFileSync(file, app('v2'));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect((await get(s.port, '/app.fcgi')).body.toString()).toBe(first);
    for (let i = 0; i < 40 && !s.log().includes('changed on disk'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(s.log()).toContain('app.fcgi changed on disk; 1 process still runs the old code, as it would on the host (mod_fcgid never reloads). Use --reload-on-change');
    // The status data says it too: mod_status's page with mod_fcgid's section, and ?auto.
    const page = (await get(s.port, '/server-status')).body.toString();
    expect(page).toContain('<h1>mod_fcgid status:</h1>');
    expect(page).toContain(`<b>Process: app.fcgi</b>&nbsp;&nbsp;(${file})`);
    expect(page).toContain('app.fcgi changed on disk; 1 process still runs the old code, as on the host.');
    expect(page).toMatch(new RegExp(`<tr><td>${first.split(' ')[1]!.trim()}</td><td>\\d+</td><td>\\d+</td><td>2</td><td>Ready \\(old code\\)</td></tr>`));
    const auto = (await get(s.port, '/server-status?auto')).body.toString();
    expect(auto).toMatch(/^FcgidProcesses: 1$/m);
    expect(auto).toMatch(/^FcgidStale: 1$/m);
    await s.stop();
  }, 20_000);

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
      running.add(s);
      const first = (await get(s.port, '/app.fcgi')).body.toString();
      expect(first).toMatch(/^v1 \d+\n$/);
      const oldPid = Number(first.split(' ')[1]);
      // A request in flight on the old process while the file is edited in place.
      const inFlight = get(s.port, '/app.fcgi?slow');
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(file, app('v2'));
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      const after = (await get(s.port, '/app.fcgi')).body.toString();
      const slow = await inFlight;
      expect(slow.status).toBe(200);
      expect(slow.body.toString()).toBe(`v1 ${oldPid}\n`);
      for (let i = 0; i < 40 && !s.log().includes('changed on disk'); i++) await new Promise((r) => setTimeout(r, 50));
      if (reload) {
        // The next request got new code at once; the old process finished its request, then went.
        expect(after).toMatch(/^v2 \d+\n$/);
        for (let i = 0; i < 40 && isAlive(oldPid); i++) await new Promise((r) => setTimeout(r, 50));
        expect(isAlive(oldPid)).toBe(false);
        expect((await get(s.port, '/app.fcgi')).body.toString()).toMatch(/^v2 /);
      } else {
        // As on the host: the process busy with the slow request started a second one of the same
        // class (same inode), which reads the file as it is now; the first keeps the old code.
        expect(after).toMatch(/^v2 \d+\n$/);
        expect(s.log()).toContain('app.fcgi changed on disk; 1 process still runs the old code, as it would on the host');
        expect((await get(s.port, '/app.fcgi')).body.toString()).toMatch(/^v[12] /);
      }
      await s.stop();
    }, 20_000);
  }
});
