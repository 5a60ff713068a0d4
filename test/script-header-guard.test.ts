/**
 * Never down for a script's header block (issue 14, point 1): a CGI or FastCGI answer with any
 * byte in any header, or any Status, gets an answer and the server goes on serving the others;
 * and the last-resort guard ends only the response an escaped exception came from.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perlFcgiMissing, peerAvailable } from './helpers/peers.js';
import { PROFILES_DIR, PROJECT_ROOT, writeHostConfig } from './helpers/private-apache.js';
import { spawnServe, type ServeChild } from './helpers/serve-in-process.js';

const hasPerlFcgi = peerAvailable('Perl FCGI for the FastCGI header tests', perlFcgiMissing());
const base = mkdtempSync(join(tmpdir(), 'htsandbox-hdr-guard-'));
const site = join(base, 'site');
const backendSocket = join(base, 'fcgi.sock');
let server: ServeChild;
/** The external FastCGI server behind px/ (proxy:fcgi), the conformance case's backend.pl. */
let backend: ChildProcess | undefined;

/** Percent-encodes every byte but the plainest, so the script gets exactly these bytes. */
const encode = (bytes: Buffer): string =>
  [...bytes].map((b) => (/[A-Za-z0-9._~/-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');

interface Answer {
  status: number;
  body: string;
  error?: string;
}

function send(path: string, method = 'GET'): Promise<Answer> {
  return new Promise((res) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { Connection: 'close' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      r.on('error', (e) => res({ status: r.statusCode ?? 0, body: '', error: e.message }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => res({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

const CT = 'Content-Type: text/plain\r\n';
/** Every kind of bad header byte the issue lists (and Apache's answer to each, recorded in the conformance case script-header-bytes). */
const BAD_BLOCKS: [string, string, number][] = [
  ['control byte in a value', `${CT}X-A: a\x01b\r\n\r\nok\n`, 500],
  ['NUL in a value', `${CT}X-A: a\x00b\r\n\r\nok\n`, 200],
  ['DEL in a value', `${CT}X-A: a\x7fb\r\n\r\nok\n`, 500],
  ['a name with a space', `${CT}X A: b\r\n\r\nok\n`, 500],
  ['an empty name', `${CT}: b\r\n\r\nok\n`, 500],
  ['an 8-bit name', `${CT}X-\xe9: b\r\n\r\nok\n`, 500],
  ['a control byte in Content-Type', 'Content-Type: text/pl\x01ain\r\n\r\nok\n', 500],
  ['a control byte in an absolute Location', 'Location: http://example.com/a\x01b\r\n\r\n', 500],
  ['a control byte in the Status text', `Status: 404 Not\x01Here\r\n${CT}\r\nbody\n`, 404],
  ['Status: 99999', `Status: 99999\r\n${CT}\r\nbody\n`, 500],
  ['Status: abc', `Status: abc\r\n${CT}\r\nbody\n`, 500],
  ['Status: 099', `Status: 099\r\n${CT}\r\nbody\n`, 99],
];

beforeAll(async () => {
  cpSync(join(PROJECT_ROOT, 'fixtures/conformance/script-header-bytes/site'), site, { recursive: true });
  writeFileSync(join(site, 'slow.cgi'), '#!/bin/sh\nsleep 1.5\nprintf "Content-Type: text/plain\\r\\n\\r\\nslow done\\n"\n');
  chmodSync(join(site, 'slow.cgi'), 0o755);
  if (hasPerlFcgi) {
    backend = spawn('perl', [join(PROJECT_ROOT, 'fixtures/conformance/script-header-bytes/backend.pl'), backendSocket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(backendSocket); i++) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(site, 'px/.htaccess'), `SetHandler "proxy:unix:${backendSocket}|fcgi://localhost/"\n`);
  }
  writeHostConfig(
    join(base, 'host.conf'),
    site,
    join(PROFILES_DIR, 'apache.conf'),
    'LoadModule proxy_module modules/mod_proxy.so\nLoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so\n',
  );
  server = await spawnServe([site, '--port', '0', '--host', '127.0.0.1', '--config', join(base, 'host.conf')]);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  backend?.kill('SIGTERM');
  rmSync(base, { recursive: true, force: true });
});

describe('a script printing bad header bytes', () => {
  const targets = hasPerlFcgi ? ['/raw.cgi', '/raw.fcgi', '/px/app.x'] : ['/raw.cgi'];
  it("gets Apache's status for each kind while another request in flight completes, and the server stays up", async () => {
    const slow = send('/slow.cgi');
    for (const target of targets) {
      const answers = await Promise.all(BAD_BLOCKS.map(([, block]) => send(`${target}?${encode(Buffer.from(block, 'latin1'))}`)));
      expect(answers.map((a, i) => `${BAD_BLOCKS[i]![0]}: ${a.status}${a.error ? ` (${a.error})` : ''}`)).toEqual(BAD_BLOCKS.map(([what, , status]) => `${what}: ${status}`));
    }
    expect(await slow).toEqual({ status: 200, body: 'slow done\n' });
    expect(server.child.exitCode).toBeNull();
    expect((await send('/target.txt')).status).toBe(200);
    // Each refusal says what the script printed, with Apache's AH code.
    expect(server.log()).toContain("AH02430: Response header 'X-A' value of 'a\\\\x01b' contains invalid characters");
    expect(server.log()).toContain("Invalid status line from script 'raw.cgi': 99999");
  }, 60_000);

  it('answers any header block (random bytes, control and 8-bit ones, random Status) through the real response path (property)', async () => {
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...Buffer.from(':\r\n \tA-z09')));
    const name = fc.oneof(
      fc.constantFrom('X-A', 'Content-Type', 'Location', 'Status', 'Set-Cookie', 'Vary', 'Last-Modified'),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const statusValue = fc.oneof(fc.integer({ min: -1000, max: 100_000 }).map(String), fc.stringMatching(/^[0-9]{1,4}[ \x01\x7f\t]?[ -~\x80-\xff\x00-\x1f]{0,6}$/));
    const value = fc.oneof(
      statusValue,
      fc.constantFrom('/target.txt', 'http://example.com/x', 'text/html'),
      fc.array(byte, { maxLength: 16 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const block = fc.tuple(fc.array(fc.tuple(name, value), { maxLength: 5 }), fc.array(byte, { maxLength: 20 }), fc.constantFrom(...targets)).map(([fields, tail, target]) => ({
      target,
      bytes: Buffer.concat([Buffer.from(fields.map(([n, v]) => `${n}: ${v}\r\n`).join(''), 'latin1'), Buffer.from('\r\n'), Buffer.from(tail)]),
    }));
    await fc.assert(
      fc.asyncProperty(block, async ({ target, bytes }) => {
        const a = await send(`${target}?${encode(bytes)}`);
        // Some answer (a status line a client can read), never a dropped connection or a dead server.
        expect(a.error, `${target} ${JSON.stringify(bytes.toString('latin1'))}`).toBeUndefined();
        expect(a.status).toBeGreaterThanOrEqual(100);
        expect(server.child.exitCode).toBeNull();
      }),
      { numRuns: 150 },
    );
    expect((await send('/target.txt')).status).toBe(200);
  }, 120_000);
});

describe('the last-resort guard', () => {
  it('ends only the response whose handling threw later (in a stream callback), and the process serves on', async () => {
    // A real process with the serve command's final net: a request's child-process callback
    // throws; that request gets a 500, the next one is answered, the process does not exit.
    const guard = join(PROJECT_ROOT, 'dist/server/request-guard.js');
    const program = `
      import { createServer } from 'node:http';
      import { spawn } from 'node:child_process';
      import { inRequestScope, recoverRequestFrom } from ${JSON.stringify(guard)};
      process.on('uncaughtException', (err) => { process.stderr.write('recovered=' + recoverRequestFrom(err) + ' ' + err.message + '\\n'); });
      const server = createServer((req, res) => {
        const scope = { res, method: req.method, url: req.url, serverAdmin: 'admin@example', report: (err, outcome) => process.stderr.write('report: ' + outcome + '\\n') };
        inRequestScope(scope, () => {
          if (req.url === '/ok') { res.end('fine'); return; }
          const child = spawn('echo', ['x']);
          child.stdout.on('data', () => { res.setHeader('X-Bad', 'a\\u0001b'); });
        });
      });
      server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const port = await new Promise<number>((res, rej) => {
        child.stdout.once('data', (c: Buffer) => res(Number(c.toString().trim())));
        child.once('exit', (code) => rej(new Error(`exited ${code}: ${log}`)));
      });
      const get = (path: string): Promise<Answer> =>
        new Promise((res) => {
          const req = request({ host: '127.0.0.1', port, path }, (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          });
          req.on('error', (e) => res({ status: 0, body: '', error: e.message }));
          req.end();
        });
      const [bad, ok] = await Promise.all([get('/bad'), get('/ok')]);
      expect(bad.status).toBe(500);
      expect(bad.body).toContain('<title>500 Internal Server Error</title>');
      expect(ok).toEqual({ status: 200, body: 'fine' });
      expect((await get('/ok')).status).toBe(200);
      expect(child.exitCode).toBeNull();
      expect(log).toContain('report: answered 500');
      expect(log).toContain('recovered=true');
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);
});
