/** `--userdir`: one server for a whole class, /~NAME/ from NAME/web_scripts (Scripts layout). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, serveInProcess, type RunningServer } from './helpers/serve-in-process.js';

let base: string;
let server: RunningServer;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'htsandbox-userdir-'));
  mkdirSync(join(base, 'site'));
  writeFileSync(join(base, 'site', 'index.html'), 'root\n');
  mkdirSync(join(base, 'users', 'alice', 'web_scripts', 'sub'), { recursive: true });
  writeFileSync(join(base, 'users', 'alice', 'web_scripts', 'index.html'), 'alice\n');
  writeFileSync(join(base, 'users', 'alice', 'web_scripts', '.htaccess'), 'Header set X-Alice 1\n');
  writeFileSync(join(base, 'users', 'alice', 'web_scripts', 'sub', 'a.txt'), 'a\n');
  mkdirSync(join(base, 'users', 'bob', 'web_scripts'), { recursive: true });
  writeFileSync(join(base, 'users', 'bob', 'web_scripts', '.htaccess'), 'Require all denied\n');
  server = await serveInProcess(join(base, 'site'), { userDir: join(base, 'users') });
});

afterAll(async () => {
  await server.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('--userdir', () => {
  it("serves each user's web_scripts with its own .htaccess", async () => {
    const r = await get(server.port, '/~alice/');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('alice\n');
    expect(r.headers['x-alice']).toBe('1');
    expect((await get(server.port, '/~alice/sub/a.txt')).body.toString()).toBe('a\n');
  });
  it('redirects /~alice to /~alice/', async () => {
    const r = await get(server.port, '/~alice');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe(`http://127.0.0.1:${server.port}/~alice/`);
  });
  it("applies a user's access rules and 404s unknown users", async () => {
    expect((await get(server.port, '/~bob/')).status).toBe(403);
    expect((await get(server.port, '/~carol/')).status).toBe(404);
    expect((await get(server.port, '/')).body.toString()).toBe('root\n');
  });
});
