/** FastCGI applications are accounted for: shutdown ends them within 2 s; crashes are clean 500s. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, spawnServe } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

const base = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-life-'));
const MARK = `fcgi-life-${process.pid}`;
afterAll(() => rmSync(base, { recursive: true, force: true }));

function alive(): string[] {
  try {
    return execFileSync('pgrep', ['-f', MARK]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe.runIf(havePerlFcgi)('FastCGI lifecycle', () => {
  it('SIGTERM ends every application within 2 s; a crashing app gives a clean 500 and is replaced', async () => {
    const site = join(base, 'site');
    mkdirSync(site);
    const app = join(site, `${MARK}.fcgi`);
    writeFileSync(
      app,
      `#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nmy $n = 0;\nwhile ($r->Accept() >= 0) {\n  $n++;\n  if ($ENV{QUERY_STRING} eq 'crash') { exit 3; }\n  print "Content-Type: text/plain\\r\\n\\r\\nn=$n pid=$$\\n";\n}\n`,
    );
    chmodSync(app, 0o755);
    const conf = join(base, 'host.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\n`);
    const server = await spawnServe([site, '--port', '0', '--config', conf]);
    const port = server.port;
    const path = `/${MARK}.fcgi`;
    const a = await get(port, path);
    const b = await get(port, path);
    expect(a.body.toString()).toMatch(/^n=1 /);
    expect(b.body.toString()).toMatch(/^n=2 /);
    expect((await get(port, `${path}?crash`)).status).toBe(500);
    const c = await get(port, path);
    expect(c.status).toBe(200);
    expect(c.body.toString()).toMatch(/^n=1 /);
    expect(alive().length).toBeGreaterThan(0);
    expect(await server.stop()).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive()).toEqual([]);
    expect(existsSync(app)).toBe(true);
  }, 30_000);
});
