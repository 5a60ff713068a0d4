/**
 * Without the native helper (HTSANDBOX_NODE_SPAWN=1 forces Node's own spawn and listener, as on a
 * machine where it could not be built), CGI and FastCGI still work: a FastCGI application keeps
 * answering on its socket, and nothing is left running after the server stops.
 */
import { describe, expect, it } from 'vitest';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { get, spawnServe } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

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
