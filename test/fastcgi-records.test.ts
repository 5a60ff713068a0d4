/** FastCGI codec: limits, pair encoding, and decoding independent of chunking. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePairs,
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  encodeRequest,
  encodeStream,
  FCGI_MAX_CONTENT,
  ParamsMemory,
  RecordDecoder,
  RecordType,
  type FcgiRecord,
} from '../src/grammar/fastcgi-records.js';

const decodeAll = (chunks: Buffer[]): { records: FcgiRecord[]; error?: string } => {
  const d = new RecordDecoder();
  const records: FcgiRecord[] = [];
  let error: string | undefined;
  for (const c of chunks) {
    const r = d.push(c);
    records.push(...r.records);
    if (r.error) {
      error = r.error;
      break;
    }
  }
  return error ? { records, error } : { records };
};

describe('FastCGI records', () => {
  it('never puts more than 65535 bytes in a record and keeps pairs whole', () => {
    const env: Record<string, string> = {};
    for (let i = 0; i < 40; i++) env[`VAR_${i}`] = 'x'.repeat(5000);
    const records = encodeParams(1, env)!;
    expect(records.length).toBeGreaterThan(1);
    const seen: [string, string][] = [];
    for (const r of records) {
      const len = r.readUInt16BE(4);
      expect(len).toBeLessThanOrEqual(FCGI_MAX_CONTENT);
      const pairs = decodePairs(r.subarray(8, 8 + len));
      expect(pairs).toBeDefined();
      seen.push(...pairs!);
    }
    expect(Object.fromEntries(seen)).toEqual(env);
    expect(encodeParams(1, { BIG: 'y'.repeat(70000) })).toBeUndefined();
  });
  it('uses 1-byte lengths below 128 and 4-byte lengths from 128', () => {
    const r = encodeParams(1, { A: 'b', ['N'.repeat(200)]: 'v'.repeat(127) })![0]!;
    const body = r.subarray(8);
    expect([...body.subarray(0, 2)]).toEqual([1, 1]);
    expect(body[4]! & 0x80).toBe(0x80);
    expect(decodePairs(body)).toEqual([
      ['A', 'b'],
      ['N'.repeat(200), 'v'.repeat(127)],
    ]);
  });
  it('encodes a whole request that decodes back to its parts, for any body size and role', () => {
    const env: Record<string, string> = { A: 'b', ['N'.repeat(200)]: 'v'.repeat(300), EMPTY: '' };
    for (let i = 0; i < 30; i++) env[`BIG_${i}`] = 'x'.repeat(5000);
    for (const size of [0, 1, 65535, 65536, 4 * 65535, 4 * 65535 + 1, 1_000_000]) {
      const body = Buffer.alloc(size, 7);
      const wire = encodeRequest(1, 1, 1, env, body)!;
      const { records, error } = decodeAll([Buffer.concat(wire)]);
      expect(error).toBeUndefined();
      expect(records[0]!.type).toBe(RecordType.BEGIN_REQUEST);
      expect([...records[0]!.content]).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
      const params = records.filter((r) => r.type === RecordType.PARAMS);
      expect(params.at(-1)!.content.length).toBe(0);
      expect(Object.fromEntries(params.flatMap((r) => decodePairs(r.content)!))).toEqual(env);
      const stdin = records.filter((r) => r.type === RecordType.STDIN);
      expect(stdin.at(-1)!.content.length).toBe(0);
      expect(stdin.every((r) => r.content.length <= FCGI_MAX_CONTENT)).toBe(true);
      expect(Buffer.concat(stdin.map((r) => r.content)).equals(body)).toBe(true);
      // The record sequence is the one encodeParams/encodeStream give separately.
      expect(
        Buffer.concat(wire).equals(
          Buffer.concat([
            encodeBeginRequest(1, 1, 1),
            ...encodeParams(1, env)!,
            encodeRecord(RecordType.PARAMS, 1),
            ...encodeStream(RecordType.STDIN, 1, body),
            encodeRecord(RecordType.STDIN, 1),
          ]),
        ),
      ).toBe(true);
    }
    const auth = decodeAll(encodeRequest(1, 2, 0, { X: 'y' }, null)!).records;
    expect(auth.map((r) => r.type)).toEqual([RecordType.BEGIN_REQUEST, RecordType.PARAMS, RecordType.PARAMS]);
    expect(encodeRequest(1, 1, 0, { BIG: 'y'.repeat(70000) }, Buffer.alloc(0))).toBeUndefined();
  });
  it('encodes successive requests with a memory of the previous PARAMS byte for byte as without one', () => {
    // Each request's environment: the same names in the same order (some left out), values
    // drawn from a small pool, so that consecutive requests share runs of equal pairs that start
    // and end anywhere; large values push a request past one PARAMS record and back.
    const names = fc.uniqueArray(fc.constantFrom('A', 'PATH', 'HTTP_HOST', 'N'.repeat(130), 'REMOTE_PORT', 'X_é', 'B', 'C'), { minLength: 1, maxLength: 8 });
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('', 'v', 'w') },
      { weight: 3, arbitrary: fc.constantFrom('x'.repeat(200), 'y'.repeat(40_000), 'ÿ€') },
      { weight: 1, arbitrary: fc.string({ maxLength: 60, unit: 'binary' }) },
    );
    // Explicitly: a run reused at the end that no longer fits in one record with what precedes it.
    const big = 'y'.repeat(40_000);
    const memory = new ParamsMemory();
    for (const e of [
      { A: 'v', B: big },
      { A: big, B: big },
      { A: 'v', B: big },
    ]) {
      expect(Buffer.concat(encodeRequest(1, 1, 1, e, null, memory)!).equals(Buffer.concat(encodeRequest(1, 1, 1, e, null)!))).toBe(true);
    }
    const step = fc.array(fc.option(value, { freq: 8 }), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(names, fc.array(step, { minLength: 1, maxLength: 10 }), fc.uint8Array({ maxLength: 20 }), (keys, steps, bodyBytes) => {
        const memory = new ParamsMemory();
        const body = Buffer.from(bodyBytes);
        for (const values of steps) {
          const e: Record<string, string> = {};
          keys.forEach((k, i) => {
            if (values[i] !== null) e[k] = values[i]!;
          });
          const plain = encodeRequest(1, 1, 1, e, body);
          const remembered = encodeRequest(1, 1, 1, e, body, memory);
          expect(remembered === undefined).toBe(plain === undefined);
          if (plain) expect(Buffer.concat(remembered!).equals(Buffer.concat(plain))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('splits streams into 65535-byte records', () => {
    const parts = encodeStream(RecordType.STDIN, 1, Buffer.alloc(200_000, 1));
    expect(parts.map((p) => p.readUInt16BE(4))).toEqual([65535, 65535, 65535, 3395]);
  });
  it('decodes the same records for any chunking', () => {
    const padded = Buffer.concat([Buffer.from([1, 6, 0, 1, 0, 3, 5, 0]), Buffer.from('abc'), Buffer.alloc(5)]);
    const stream = Buffer.concat([
      encodeBeginRequest(1, 1, 0),
      padded,
      encodeRecord(RecordType.STDOUT, 1, Buffer.from('hello')),
      encodeRecord(RecordType.END_REQUEST, 1, Buffer.alloc(8)),
    ]);
    const whole = decodeAll([stream]);
    expect(whole.records.map((r) => r.type)).toEqual([1, 6, 6, 3]);
    expect(whole.records[1]!.content.toString()).toBe('abc');
    for (let i = 0; i <= stream.length; i++) expect(decodeAll([stream.subarray(0, i), stream.subarray(i)])).toEqual(whole);
    expect(decodeAll([...stream].map((b) => Buffer.from([b])))).toEqual(whole);
  });
  it('random bytes: never throws, same answer for any chunking (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const b = Buffer.from(bytes);
        const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(b.subarray(prev, p));
          prev = p;
        }
        chunks.push(b.subarray(prev));
        expect(decodeAll(chunks)).toEqual(decodeAll([b]));
      }),
      { numRuns: 5000 },
    );
  });
  it('rejects a bad version', () => {
    expect(decodeAll([Buffer.from([2, 6, 0, 1, 0, 0, 0, 0])]).error).toMatch(/version 2/);
  });
});
