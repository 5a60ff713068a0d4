/**
 * Without the native helper (HTSANDBOX_NODE_SPAWN=1 forces Node's own spawn and listener, as on a
 * machine where it could not be built), CGI and FastCGI still work: a FastCGI application keeps
 * answering on its socket, and nothing is left running after the server stops; a script gets
 * the bytes of its variables (a decoded %E9 is the byte 0xE9), as with the helper.
 */
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { get, spawnServe } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { writeSite } from './helpers/site-context.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(havePerlFcgi)('the fallback without the native helper', () => {
  it('serves CGI and a persistent FastCGI application, and ends it at shutdown', async () => {
    const server = await spawnServe([STARTER_SITE, '--port', '0', '--host', '127.0.0.1'], { ...process.env, HTSANDBOX_NODE_SPAWN: '1' });
    let pid = 0;
    try {
      expect((await get(server.port, '/hello.cgi')).status).toBe(200);
      const first = (await get(server.port, '/counter.fcgi')).body.toString();
      const second = (await get(server.port, '/counter.fcgi')).body.toString();
      const [, p1, n1] = /pid (\d+)\) has answered (\d+)/.exec(first)!;
      const [, p2, n2] = /pid (\d+)\) has answered (\d+)/.exec(second)!;
      expect(p2).toBe(p1);
      expect(Number(n2)).toBe(Number(n1) + 1);
      pid = Number(p1);
      expect(alive(pid)).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    for (let i = 0; i < 60 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });
});

describe('variables without the native helper', () => {
  it('gives a CGI script the bytes of its variables, not their UTF-8', async () => {
    const site = writeSite({
      // Written as UTF-8: the script gets those two bytes for é (scripts profile: suexec passes HTTP_*).
      '.htaccess': 'SetEnv HTTP_U café\n',
      'hex.cgi':
        '#!/usr/bin/perl\nprint "Content-Type: text/plain\\r\\n\\r\\n", unpack("H*", $ENV{PATH_INFO}), " ", unpack("H*", $ENV{HTTP_U}), " ", (defined $ENV{PWD} ? "PWD" : "-");\n',
    });
    chmodSync(join(site, 'hex.cgi'), 0o755);
    const server = await spawnServe([site, '--port', '0', '--host', '127.0.0.1'], { ...process.env, HTSANDBOX_NODE_SPAWN: '1' });
    try {
      const r = await get(server.port, '/hex.cgi/caf%e9%0a');
      expect(r.body.toString()).toBe('2f636166e90a 636166c3a9 -');
    } finally {
      await server.stop();
      rmSync(site, { recursive: true, force: true });
    }
  });
});
