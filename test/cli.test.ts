/** The command line itself: argument checking, start-up errors in words, help with examples. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: process.cwd() }).then((code) => ({
    code,
    out,
    err,
  }));
}

const root = mkdtempSync(join(tmpdir(), 'htsandbox-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('htsandbox serve arguments', () => {
  for (const port of ['80a', '8o', '1e3', '-1', '65536', '', ' 80', '0x50']) {
    it(`refuses --port ${JSON.stringify(port)} with exit 2`, async () => {
      const r = await run(['serve', root, '--port', port]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`bad port ${JSON.stringify(port)}`);
      expect(r.out).not.toContain('serving');
    });
  }

  it('says which port is busy and suggests --port 0', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await run(['serve', root, '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`cannot listen on 127.0.0.1:${port}: port ${port} is already in use`);
      expect(r.err).toContain('--port 0');
    } finally {
      busy.close();
    }
  });
});

describe('help', () => {
  for (const args of [['--help'], ['serve', '--help'], ['check', '--help'], ['help', 'serve']]) {
    it(`${args.join(' ')} shows examples`, async () => {
      const r = await run(args);
      expect(r.code).toBe(0);
      expect(r.out).toContain('Examples:');
      expect(r.out).toMatch(/\n {2}htsandbox (serve|check)/);
    });
  }
});
