/**
 * The last-resort guard without an async scope (request-guard.ts): an exception thrown later, in
 * a callback nothing bound by hand, still ends its own request's response (500) and the process
 * serves on. Each path here is one way the guard finds the request: the connection's current
 * response behind a nextTick ('end' of the request body), a CGI script's pipe tagged when it was
 * started, a body spool calling back as its request, a bound callback called from elsewhere, and
 * a FastCGI exchange's callbacks (bindExchange) called from another request's turn, the way a kept
 * connection or the process pool calls them: a throw inside one, and a script started inside one
 * (an ErrorDocument's CGI from `end`), whose pipe is tagged only because the callback was bound.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/private-apache.js';

interface Answer {
  status: number;
  body: string;
  error?: string;
}

const dist = (p: string): string => JSON.stringify(join(PROJECT_ROOT, 'dist', p));

// A real process with the serve command's final net; each path throws in a different callback.
const PROGRAM = `
  import { createServer } from 'node:http';
  import { inRequestScope, bindToRequest, bindExchange, recoverRequestFrom } from ${dist('server/request-guard.js')};
  import { spawnCgi } from ${dist('adapters/cgi-process.js')};
  import { RequestBodySpool } from ${dist('adapters/request-body-spool.js')};
  process.on('uncaughtException', (err) => { process.stderr.write('recovered=' + recoverRequestFrom(err) + ' ' + err.message + '\\n'); });
  const later = [];
  setInterval(() => { while (later.length) later.shift()(); }, 5);
  const server = createServer((req, res) => {
    const scope = { res, method: req.method, url: req.url, serverAdmin: 'admin@example', report: (err, outcome) => process.stderr.write('report: ' + req.url + ' ' + outcome + '\\n') };
    inRequestScope(scope, () => {
      if (req.url === '/ok') { req.resume(); res.end('fine'); return; }
      if (req.url === '/body-end') {
        req.resume();
        req.on('end', () => { throw new Error('thrown at the end of the body'); });
        return;
      }
      if (req.url === '/cgi') {
        const child = spawnCgi({ program: '/bin/echo', args: ['x'], cwd: '/', env: {} });
        child.stdout.on('data', () => { throw new Error('thrown in the script pipe'); });
        child.stdin.end();
        return;
      }
      if (req.url === '/spool') {
        const spool = new RequestBodySpool(1024);
        req.on('data', (c) => spool.push(c, () => undefined));
        req.on('end', () => setTimeout(() => spool.finish(() => { throw new Error('thrown when the body was kept'); }), 10));
        return;
      }
      if (req.url === '/bound') {
        req.resume();
        later.push(bindToRequest(() => { throw new Error('thrown in a bound callback'); }));
        return;
      }
      const none = () => undefined;
      if (req.url === '/exchange-throw') {
        req.resume();
        const exchange = bindExchange({ stdout: () => { throw new Error('thrown in a FastCGI callback'); }, stderr: none, end: none, error: none });
        later.push(() => exchange.stdout(Buffer.from('x')));
        return;
      }
      if (req.url === '/exchange-spawn') {
        req.resume();
        const end = () => {
          const child = spawnCgi({ program: '/bin/echo', args: ['x'], cwd: '/', env: {} });
          child.stdout.on('data', () => { throw new Error('thrown in the pipe of a script started from a FastCGI callback'); });
          child.stdin.end();
        };
        const exchange = bindExchange({ stdout: none, stderr: none, end, error: none });
        later.push(() => exchange.end());
        return;
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

describe('the last-resort guard, without an async scope', () => {
  it('ends only the response whose callback threw, found from what fired, and the process serves on', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROGRAM], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const port = await new Promise<number>((res, rej) => {
        child.stdout.once('data', (c: Buffer) => res(Number(c.toString().trim())));
        child.once('exit', (code) => rej(new Error(`exited ${code}: ${log}`)));
      });
      const send = (path: string, body?: string): Promise<Answer> =>
        new Promise((res) => {
          const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST' }, (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          });
          req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
          req.on('error', (e) => res({ status: 0, body: '', error: e.message }));
          req.end(body);
        });
      const paths = ['/body-end', '/cgi', '/spool', '/bound', '/exchange-throw', '/exchange-spawn'];
      const answers = await Promise.all([...paths.map((p) => send(p, 'some body')), send('/ok')]);
      expect(answers.map((a) => a.status)).toEqual([...paths.map(() => 500), 200]);
      for (const a of answers.slice(0, paths.length)) expect(a.body).toContain('<title>500 Internal Server Error</title>');
      expect(await send('/ok')).toEqual({ status: 200, body: 'fine' });
      expect(child.exitCode).toBeNull();
      for (const p of paths) expect(log).toContain(`report: ${p} answered 500`);
      expect(log).not.toContain('recovered=false');
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);
});
