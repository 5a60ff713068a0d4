import { openSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, sendFileBytes } from '../src/server/file-sender.js';

const dir = mkdtempSync(join(tmpdir(), 'htsandbox-sender-'));
const file = join(dir, 'big.bin');
const size = 3 * FILE_CHUNK_BYTES + 12345;
const content = Buffer.alloc(size);
for (let i = 0; i < size; i++) content[i] = (i * 7 + (i >> 11)) & 0xff;
let server: Server;
let port = 0;
/** How each request is sent: [start, length], and the size announced. */
let plan = (_url: string): { start: number; length: number; announce: number } => ({ start: 0, length: size, announce: size });

const openFds = (): number => readdirSync('/proc/self/fd').length;

beforeAll(async () => {
  writeFileSync(file, content);
  server = createServer((req, res) => {
    const p = plan(req.url ?? '/');
    res.writeHead(200, { 'Content-Length': String(p.announce) });
    sendFileBytes(openSync(file, 'r'), res, p.start, p.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function fetchAll(path: string): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ body: Buffer.concat(chunks), complete: false }));
    });
    req.on('error', () => resolve({ body: Buffer.alloc(0), complete: false }));
  });
}

const settle = async (fds: number): Promise<number> => {
  for (let i = 0; i < 50 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 20));
  return openFds();
};

describe('sending a large file in reused chunks', () => {
  it('sends every byte, in order, for whole files and slices, concurrently', async () => {
    const fds = openFds();
    plan = (url) => (url === '/slice' ? { start: 1000, length: FILE_CHUNK_BYTES + 5, announce: FILE_CHUNK_BYTES + 5 } : { start: 0, length: size, announce: size });
    const answers = await Promise.all([fetchAll('/'), fetchAll('/slice'), fetchAll('/'), fetchAll('/slice')]);
    expect(answers[0]!.body.equals(content)).toBe(true);
    expect(answers[1]!.body.equals(content.subarray(1000, 1000 + FILE_CHUNK_BYTES + 5))).toBe(true);
    expect(answers[2]!.body.equals(content)).toBe(true);
    expect(answers[3]!.body.equals(answers[1]!.body)).toBe(true);
    // The same buffers serve the next responses: still the right bytes.
    expect((await fetchAll('/')).body.equals(content)).toBe(true);
    expect(await settle(fds)).toBe(fds);
  });

  it('cuts the connection when the file is shorter than the length promised, and closes the file', async () => {
    const fds = openFds();
    plan = () => ({ start: 0, length: size + 10, announce: size + 10 });
    const a = await fetchAll('/');
    expect(a.complete).toBe(false);
    expect(a.body.length).toBe(size);
    expect(await settle(fds)).toBe(fds);
  });

  it('closes the file when the client leaves half-way', async () => {
    const fds = openFds();
    plan = () => ({ start: 0, length: size, announce: size });
    await new Promise<void>((resolve) => {
      const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
    });
    expect(await settle(fds)).toBe(fds);
    expect((await fetchAll('/')).body.equals(content)).toBe(true);
  });
});
