/** `serve --trace-fcgi`: every FastCGI record in words, in the order it crossed the socket. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRecord, previewBytes } from '../src/grammar/fastcgi-describe.js';
import { encodePair, RecordType } from '../src/grammar/fastcgi-records.js';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR } from './helpers/private-apache.js';

const record = (type: number, requestId: number, content: Buffer = Buffer.alloc(0)) => ({ type, requestId, content });

describe('describeRecord', () => {
  it('names each record type with its request id and what its content means', () => {
    const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]);
    expect(describeRecord(record(RecordType.BEGIN_REQUEST, 1, begin))).toBe('BEGIN_REQUEST #1 role RESPONDER, FCGI_KEEP_CONN');
    expect(describeRecord(record(RecordType.BEGIN_REQUEST, 3, Buffer.from([0, 2, 0, 0, 0, 0, 0, 0])))).toBe(
      'BEGIN_REQUEST #3 role AUTHORIZER, no FCGI_KEEP_CONN (close after the request)',
    );
    const params = Buffer.concat([encodePair('SCRIPT_NAME', '/a.fcgi'), encodePair('QUERY_STRING', '')]);
    expect(describeRecord(record(RecordType.PARAMS, 1, params))).toBe(`PARAMS #1 ${params.length} bytes, 2 pairs: SCRIPT_NAME=/a.fcgi QUERY_STRING=`);
    expect(describeRecord(record(RecordType.PARAMS, 1))).toBe('PARAMS #1 empty: end of PARAMS');
    expect(describeRecord(record(RecordType.PARAMS, 1, Buffer.from([5, 1, 65])))).toBe('PARAMS #1 3 bytes, not whole name-value pairs');
    expect(describeRecord(record(RecordType.STDOUT, 2, Buffer.from('Status: 404\r\n\r\n')))).toBe('STDOUT #2 15 bytes "Status: 404\\r\\n\\r\\n"');
    expect(describeRecord(record(RecordType.STDIN, 1))).toBe('STDIN #1 empty: end of STDIN');
    const end = Buffer.from([0, 0, 0, 7, 1, 0, 0, 0]);
    expect(describeRecord(record(RecordType.END_REQUEST, 1, end))).toBe('END_REQUEST #1 appStatus 7, CANT_MPX_CONN');
    expect(describeRecord(record(RecordType.GET_VALUES, 0, encodePair('FCGI_MPXS_CONNS', '')))).toBe('GET_VALUES #0 17 bytes, 1 pair: FCGI_MPXS_CONNS');
    expect(describeRecord(record(RecordType.ABORT_REQUEST, 4))).toBe('ABORT_REQUEST #4 the client went away');
    expect(describeRecord(record(RecordType.UNKNOWN_TYPE, 0, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])))).toBe('UNKNOWN_TYPE #0 the peer does not know type 9');
  });
  it('escapes control and non-ASCII bytes and cuts long data, saying how much is left', () => {
    expect(previewBytes(Buffer.from([0x00, 0x22, 0x5c, 0xe9, 0x41]))).toBe('"\\x00\\"\\\\\\xe9A"');
    expect(previewBytes(Buffer.alloc(100, 0x61), 10)).toBe('"aaaaaaaaaa"… (90 more bytes)');
  });
});

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const base = mkdtempSync(join(tmpdir(), 'htsandbox-trace-'));
const running = new Set<ServeChild>();
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop();
  rmSync(base, { recursive: true, force: true });
});

describe.runIf(havePerlFcgi)('serve --trace-fcgi', () => {
  it('logs a request and its answer record by record, and nothing without the flag', async () => {
    const file = join(base, 'app.fcgi');
    writeFileSync(
      file,
      '#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) {\n  my $in = <STDIN>;\n  print "Content-Type: text/plain\\r\\n\\r\\ngot $in";\n}\n',
    );
    chmodSync(file, 0o755);
    const conf = join(base, 'host.conf');
    writeFileSync(conf, `Include "${PROFILES_DIR}/apache.conf"\n`);
    for (const traced of [true, false]) {
      const s = await spawnServe([base, '--port', '0', '--config', conf, ...(traced ? ['--trace-fcgi'] : [])]);
      running.add(s);
      const res = await new Promise<string>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request({ host: '127.0.0.1', port: s.port, path: '/app.fcgi?q=1', method: 'POST', headers: { 'Content-Type': 'text/plain', Connection: 'close' } }, (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end('hello');
        }, reject);
      });
      expect(res).toBe('got hello');
      expect((await get(s.port, '/app.fcgi')).status).toBe(200);
      await s.stop();
      const lines = s
        .log()
        .split('\n')
        .filter((l) => l.includes('"module":"fcgi-trace"'))
        .map((l) => JSON.parse(l) as { msg: string; peer: string; direction: string });
      if (!traced) {
        expect(lines).toEqual([]);
        continue;
      }
      const pid = /^app\.fcgi\[(\d+)\]$/.exec(lines[0]!.peer)?.[1];
      expect(pid).toBeDefined();
      const first = lines.slice(0, 7).map((l) => l.msg.replace(`app.fcgi[${pid}] `, ''));
      expect(first[0]).toBe('<- BEGIN_REQUEST #1 role RESPONDER, FCGI_KEEP_CONN');
      expect(first[1]).toMatch(/^<- PARAMS #1 \d+ bytes, \d+ pairs: /);
      expect(first[1]).toContain(' QUERY_STRING=q=1 ');
      expect(first[1]).toContain(' CONTENT_LENGTH=5 ');
      expect(first.slice(2)).toEqual([
        '<- PARAMS #1 empty: end of PARAMS',
        '<- STDIN #1 5 bytes "hello"',
        '<- STDIN #1 empty: end of STDIN',
        '-> STDOUT #1 37 bytes "Content-Type: text/plain\\r\\n\\r\\ngot hello"',
        '-> STDOUT #1 empty: end of STDOUT',
      ]);
      expect(lines[7]!.msg).toBe(`app.fcgi[${pid}] -> END_REQUEST #1 appStatus 0, REQUEST_COMPLETE`);
      expect(lines.slice(0, 4).every((l) => l.direction === 'sent')).toBe(true);
      // The second request went to the same process on the kept connection.
      expect(lines.slice(8).map((l) => l.peer)).toEqual(Array(lines.length - 8).fill(`app.fcgi[${pid}]`));
      expect(lines.filter((l) => l.msg.includes('BEGIN_REQUEST')).length).toBe(2);
    }
  }, 20_000);
});
