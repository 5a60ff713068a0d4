/**
 * FastCGI applications that misbehave: malformed records, a hang (FcgidIOTimeout), an app that
 * never accepts, a crash mid-response. Each is a clean 5xx with a log line, the server keeps
 * serving, and no application process is left after shutdown. A wrong Content-Length goes out
 * as the application wrote it (as mod_fcgid sends it: the fastcgi-content-length conformance
 * case), and the server keeps serving.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const base = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-faults-'));
const MARK = `fcgi-fault-${process.pid}`;
let server: ServeChild;

/** A raw FastCGI "application" in Python: reads the request, then misbehaves as told. */
const app = (behaviour: string): string => `#!/usr/bin/env python3
# ${MARK}
import socket, struct, sys, time
listener = socket.socket(fileno=0)
def record(t, body):
    return struct.pack('>BBHHBB', 1, t, 1, len(body), 0, 0) + body
while True:
    ${behaviour === 'never-accept' ? 'time.sleep(60)' : 'conn, _ = listener.accept()'}
    conn.recv(65536)
    ${
      behaviour === 'malformed'
        ? "conn.sendall(b'\\x09\\x06\\x00\\x01\\x00\\x05\\x00\\x00hello')"
        : behaviour === 'hang'
          ? 'time.sleep(60)'
          : behaviour === 'crash-mid'
            ? "conn.sendall(record(6, b'Content-Type: text/plain\\r\\n\\r\\npartial')); sys.exit(3)"
            : behaviour.startsWith('length-')
              ? `conn.sendall(record(6, b'Content-Type: text/plain\\r\\nContent-Length: ${behaviour.slice(7)}\\r\\n\\r\\nfine\\n') + record(6, b'') + record(3, b'\\x00' * 8))`
              : "conn.sendall(record(6, b'Content-Type: text/plain\\r\\n\\r\\nfine\\n') + record(6, b'') + record(3, b'\\x00' * 8))"
    }
    conn.close()
`;

/** Content-Length values for a 5-byte body: too long, too short, not a number. */
const WRONG_LENGTHS = ['100', '2', '5x'];

/** What a keep-alive connection receives for one request within `ms`. */
function rawAnswer(port: number, path: string, ms: number, method = 'GET'): Promise<string> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    setTimeout(() => {
      s.destroy();
      res(got);
    }, ms);
  });
}

function alive(): string[] {
  try {
    return execFileSync('pgrep', ['-f', MARK]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  // The mark is in the path, so the apps' command lines carry it (for pgrep).
  const site = join(base, MARK);
  mkdirSync(site);
  for (const b of ['malformed', 'hang', 'never-accept', 'crash-mid', 'fine', ...WRONG_LENGTHS.map((n) => `length-${n}`)]) {
    writeFileSync(join(site, `${b}.fcgi`), app(b));
    chmodSync(join(site, `${b}.fcgi`), 0o755);
  }
  writeFileSync(join(base, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nFcgidIOTimeout 2\n`);
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
});

afterAll(async () => {
  await server?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('FastCGI faults', () => {
  it('a well-behaved raw app answers (the harness works)', async () => {
    const r = await get(server.port, '/fine.fcgi');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('fine\n');
  });

  for (const [name, logText] of [
    ['malformed', 'bad FastCGI record version'],
    ['hang', 'read data timeout in 2 seconds'],
    ['never-accept', 'read data timeout in 2 seconds'],
    ['crash-mid', 'mod_fcgid: error reading data'],
  ] as const) {
    it(`${name}: a clean 500, a log line, and the server keeps serving`, async () => {
      const r = await get(server.port, `/${name}.fcgi`);
      expect(r.status).toBe(500);
      expect(r.body.toString()).toContain('<title>500 Internal Server Error</title>');
      for (let i = 0; i < 20 && !server.log().includes(logText); i++) await new Promise((res) => setTimeout(res, 50));
      expect(server.log()).toContain(logText);
      expect((await get(server.port, '/fine.fcgi')).status).toBe(200);
    }, 15_000);
  }

  for (const length of WRONG_LENGTHS) {
    it(`Content-Length: ${length} for a 5-byte body goes out as written, with the body; the server keeps serving`, async () => {
      const answer = await rawAnswer(server.port, `/length-${length}.fcgi`, 500);
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 200 OK\\r\\n[^]*\\r\\nContent-Length: ${length}\\r\\n[^]*\\r\\n\\r\\nfine\\n$`));
      expect(answer).not.toMatch(/Transfer-Encoding/i);
      expect((await get(server.port, '/fine.fcgi')).body.toString()).toBe('fine\n');
      expect(await rawAnswer(server.port, `/length-${length}.fcgi`, 300, 'HEAD')).toMatch(new RegExp(`\\r\\nContent-Length: ${length}\\r\\n[^]*\\r\\n\\r\\n$`));
    });
  }

  it('after shutdown no application process remains', async () => {
    expect(alive().length).toBeGreaterThan(0);
    expect(await server.stop()).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive()).toEqual([]);
  }, 15_000);
});
