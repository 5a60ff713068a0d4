/**
 * Run-time failures carry a catalog code (docs/errors.md): the log names it with the catalog's
 * advice, and the answer's status is the one the catalog gives for it.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry, type ErrorCode } from '../src/vocabulary/error-catalog.js';
import { PROFILES_DIR } from './helpers/private-apache.js';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';

let base: string;
let server: RunningServer;

const script = (name: string, body: string): void => {
  writeFileSync(join(base, 'site', name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(base, 'site', name), 0o755);
};

function post(port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { Connection: 'close', 'Content-Length': Buffer.byteLength(body) } }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-codes-'));
  chmodSync(base, 0o755);
  mkdirSync(join(base, 'site'));
  chmodSync(join(base, 'site'), 0o755);
  script('bad-header.cgi', 'printf "Content-Type text/plain\\r\\n\\r\\nbody\\n"');
  script('silent.cgi', 'exit 0');
  script('slow.cgi', 'sleep 5\nprintf "Content-Type: text/plain\\r\\n\\r\\nlate\\n"');
  mkdirSync(join(base, 'site', 'small'));
  chmodSync(join(base, 'site', 'small'), 0o755);
  writeFileSync(join(base, 'site', 'small', '.htaccess'), 'LimitRequestBody 10\n');
  writeFileSync(join(base, 'site', 'small', 'echo.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n');
  chmodSync(join(base, 'site', 'small', 'echo.cgi'), 0o755);
  writeFileSync(join(base, 'host.conf'), `Include "${PROFILES_DIR}/apache.conf"\nTimeout 1\n`);
  server = await serveInProcess(join(base, 'site'), { config: join(base, 'host.conf'), errorLog: join(base, 'error.log') });
});

afterAll(async () => {
  await server.stop();
  rmSync(base, { recursive: true, force: true });
});

const errorLog = (): string => (existsSync(join(base, 'error.log')) ? readFileSync(join(base, 'error.log'), 'utf8') : '');

/** The error log written since `from`, once it names `code` (lines are written as the answer ends). */
async function logAfter(from: number, code: string): Promise<string> {
  for (let i = 0; i < 100 && !errorLog().slice(from).includes(code); i++) await new Promise((r) => setTimeout(r, 20));
  return errorLog().slice(from);
}

describe('run-time failures', () => {
  const cases: [what: string, code: ErrorCode, send: () => Promise<number>][] = [
    ['a malformed header line', 'HT500', async () => (await get(server.port, '/bad-header.cgi')).status],
    ['no header block at all', 'HT501', async () => (await get(server.port, '/silent.cgi')).status],
    ['silence past Timeout', 'HT502', async () => (await get(server.port, '/slow.cgi')).status],
    ['a body over LimitRequestBody', 'HT504', () => post(server.port, '/small/echo.cgi', 'x'.repeat(100))],
  ];
  for (const [what, code, send] of cases) {
    it(`${what}: ${code}, its status, and the catalog's advice in the log`, async () => {
      const from = errorLog().length;
      const status = await send();
      const entry = catalogEntry(code);
      expect(status).toBe(entry.status);
      const lines = (await logAfter(from, code))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { code?: string; msg?: string });
      // The plain-words line: the code and the catalog's advice.
      expect(lines.find((l) => l.code === code && l.msg?.startsWith(code))?.msg).toBe(`${code}: ${entry.hint}`);
    }, 15_000);
  }
});
