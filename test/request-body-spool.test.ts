/** Request bodies past FcgidMaxRequestInMem go to an unlinked temporary file, read back whole. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSpooled, RequestBodySpool, type RequestBody } from '../src/adapters/request-body-spool.js';

const dir = mkdtempSync(join(tmpdir(), 'htsandbox-spool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const finish = (s: RequestBodySpool): Promise<RequestBody> => new Promise((res, rej) => s.finish((err, b) => (err ? rej(err) : res(b))));

async function readAll(b: RequestBody): Promise<Buffer> {
  if (!isSpooled(b)) return b;
  const parts: Buffer[] = [];
  for (let pos = 0; pos < b.size; ) {
    const data = await new Promise<Buffer>((res, rej) => b.read(pos, 65535, (err, d) => (err ? rej(err) : res(d))));
    parts.push(data);
    pos += data.length;
  }
  return Buffer.concat(parts);
}

describe('request body spool', () => {
  it('keeps a body up to the limit in memory', async () => {
    const s = new RequestBodySpool(100, dir);
    expect(s.push(Buffer.alloc(60, 1), () => undefined)).toBe(true);
    expect(s.push(Buffer.alloc(40, 2), () => undefined)).toBe(true);
    const b = await finish(s);
    expect(isSpooled(b)).toBe(false);
    expect(await readAll(b)).toEqual(Buffer.concat([Buffer.alloc(60, 1), Buffer.alloc(40, 2)]));
  });

  it('spools past the limit, in order, and leaves no file behind', async () => {
    const s = new RequestBodySpool(1000, dir);
    const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + ((i * 37) % 5000), i & 0xff));
    let paused = 0;
    for (const c of chunks) if (!s.push(c, () => undefined)) paused++;
    expect(paused).toBeGreaterThan(0);
    const b = await finish(s);
    expect(isSpooled(b)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    expect(isSpooled(b) && b.size).toBe(chunks.reduce((a, c) => a + c.length, 0));
    expect((await readAll(b)).equals(Buffer.concat(chunks))).toBe(true);
    if (isSpooled(b)) {
      b.close();
      b.close();
    }
  });

  it('discard closes the file only after pending writes', async () => {
    const s = new RequestBodySpool(10, dir);
    s.push(Buffer.alloc(5000), () => undefined);
    s.discard();
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).toEqual([]);
  });
});
