/**
 * A script's stderr on its way to the error log (Apache writes it there line by line): every
 * line arrives, a line longer than Apache's MAX_STRING_LEN (8192) is cut with a note of how
 * much was left out, and a flood of stderr — CGI and FastCGI, several at once — leaves the
 * server's memory where it was: the streams wait for the log instead of queueing in memory.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR, PROJECT_ROOT, writeHostConfig } from './helpers/private-apache.js';
import { copySite } from './helpers/site-copy.js';
import { spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { sendRaw, statusLines } from './helpers/raw-http.js';
import { killProcessesOfSite, rssKb } from './helpers/leftovers.js';

const havePerlFcgi = peerAvailable('Perl FCGI for the stderr fixtures', perlFcgiMissing());

describe.runIf(havePerlFcgi)('script stderr in the error log', () => {
  const base = mkdtempSync(join(tmpdir(), 'htsandbox-stderr-'));
  chmodSync(base, 0o755);
  const siteRoot = join(base, 'site');
  const errorLog = join(base, 'error.log');
  let server: ServeChild | undefined;

  afterAll(async () => {
    await server?.stop();
    killProcessesOfSite(siteRoot);
    rmSync(base, { recursive: true, force: true });
  });

  const messages = (): { module: string; msg: string }[] =>
    readFileSync(errorLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { module: string; msg: string });

  it('logs every line, cuts long ones at 8 KiB, and keeps memory flat under a flood', async () => {
    copySite(join(PROJECT_ROOT, 'test/fixtures/fault-site'), siteRoot);
    const conf = join(base, 'host.conf');
    writeHostConfig(conf, siteRoot, join(PROFILES_DIR, 'apache.conf'), 'Timeout 30\nFcgidIOTimeout 30\nFcgidMaxProcessesPerClass 4');
    server = await spawnServe([siteRoot, '--port', '0', '--host', '127.0.0.1', '--config', conf, '--error-log', errorLog]);
    const pid = server.child.pid!;
    const get = async (path: string): Promise<string> =>
      statusLines((await sendRaw(server!.port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`), { timeoutMs: 60_000 })).data)[0] ?? '(none)';

    // Long lines: the first 8192 bytes, then how many more (CGI: one line; FastCGI: per record).
    expect(await get('/fault.cgi?longline')).toMatch(/ 200 /);
    expect(await get('/fault.fcgi?longline')).toMatch(/ 200 /);
    await new Promise((r) => setTimeout(r, 300));
    const cgiLong = messages().filter((m) => m.module === 'cgid' && m.msg.startsWith('lll'));
    expect(cgiLong.map((m) => m.msg)).toEqual([`${'l'.repeat(8192)}… (${100_000 - 8192} bytes more)`]);
    expect(messages().some((m) => m.module === 'cgid' && m.msg === 'after')).toBe(true);
    const fcgiLong = messages().filter((m) => m.module === 'fcgid' && m.msg.startsWith('mod_fcgid: stderr: lll'));
    expect(fcgiLong.length).toBeGreaterThan(0);
    for (const m of fcgiLong) expect(m.msg.length).toBeLessThanOrEqual('mod_fcgid: stderr: '.length + 8192 + ' (nnnnnn bytes more)'.length + 1);
    expect(messages().some((m) => m.msg === 'mod_fcgid: stderr: after')).toBe(true);

    // A flood: 3 CGI and 3 FastCGI scripts writing 10 MB each at once, twice.
    const before = rssKb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 50);
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all([...Array(3).fill('/fault.cgi?stderr'), ...Array(3).fill('/fault.fcgi?stderr')].map(get));
      expect(
        answers.every((a) => / 200 /.test(a)),
        answers.join(', '),
      ).toBe(true);
    }
    clearInterval(sampler);
    await new Promise((r) => setTimeout(r, 500));
    const line = 'e'.repeat(1023);
    const all = messages();
    const cgiLines = all.filter((m) => m.module === 'cgid' && m.msg === line).length;
    const fcgiBytes = all.filter((m) => m.module === 'fcgid' && m.msg.startsWith('mod_fcgid: stderr: e')).reduce((n, m) => n + m.msg.length - 'mod_fcgid: stderr: '.length, 0);
    // Only the chunk that overflowed the log's backlog may be lost (and is counted in a warning).
    expect(cgiLines, 'CGI stderr lines in the error log').toBeGreaterThan(6 * 10240 * 0.95);
    expect(fcgiBytes, 'FastCGI stderr bytes in the error log').toBeGreaterThan(6 * 10240 * 1023 * 0.95);
    // 120 MB of stderr went through; the server holds none of it.
    expect(peak - before, `RSS before ${before} KiB, peak ${peak} KiB`).toBeLessThan(60_000);
  }, 120_000);
});
