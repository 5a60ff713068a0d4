/**
 * Fault injection under load (issue 14): 10,000 requests at 64 connections to CGI and FastCGI
 * scripts that crash, hang, print garbage (random bytes, in the header block too), write 10 MB
 * to stderr, fork children that outlive them and exit before reading the body — mostly FastCGI
 * and short sh CGIs, so that it fits in CI on two cores. Hangs are bounded by the test's
 * configuration (Timeout 2, FcgidIOTimeout 2), the whole test by a time budget.
 *
 * Holds: the server (`htsandbox serve`, a child process) stays up; every request gets an answer
 * or a clean close; open descriptors return exactly to their baseline once the FastCGI
 * applications went idle and were ended; RSS plateaus (after a warm-up batch of 5,000 — the
 * first half of a longer run — no batch raises the peak by more than 10 %, or than V8's young
 * generation may); after SIGTERM nothing the server or its scripts started is left.
 * `npm run soak` runs it with HTSANDBOX_SOAK_REQUESTS=100000.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR, PROJECT_ROOT, writeHostConfig } from './helpers/private-apache.js';
import { copySite } from './helpers/site-copy.js';
import { spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { sendRaw, statusLines } from './helpers/raw-http.js';
import { fdCount, fdTargets, killProcessesOfSite, processesOfSite, rssKb } from './helpers/leftovers.js';

const havePerlFcgi = peerAvailable('Perl FCGI for fault injection', perlFcgiMissing());
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const TOTAL = Number(process.env.HTSANDBOX_SOAK_REQUESTS ?? 10_000);
const CONNECTIONS = 64;
const BATCH = 5_000;
/** How much V8's young generation may add to a batch's peak RSS (see the plateau check). */
const YOUNG_GENERATION_KB = 40 * 1024;
/** The whole test's budget: generous for CI's two shared cores, and it grows with a soak run. */
const BUDGET_MS = 240_000 * Math.max(1, TOTAL / 10_000);

/** The mix per 10,000 requests: [script, fault, count, request body bytes]. */
const MIX: [string, string, number, number][] = [
  ['fault.fcgi', 'ok', 5550, 0],
  ['fault.fcgi', 'read', 600, 8192],
  ['fault.fcgi', 'no-read', 100, 32768],
  ['fault.fcgi', 'garbage-body', 400, 0],
  ['fault.fcgi', 'garbage-head', 200, 0],
  ['fault.fcgi', 'garbage-field', 100, 0],
  ['fault.fcgi', 'crash', 100, 0],
  ['fault.fcgi', 'crash-early', 50, 0],
  ['fault.fcgi', 'kill', 50, 0],
  ['fault.fcgi', 'hang', 30, 0],
  ['fault.fcgi', 'stderr', 5, 0],
  ['fault.fcgi', 'fork', 10, 0],
  ['fault.cgi', 'ok', 1500, 0],
  ['fault.cgi', 'read', 200, 8192],
  ['fault.cgi', 'no-read', 100, 32768],
  ['fault.cgi', 'crash', 100, 0],
  ['fault.cgi', 'kill', 50, 0],
  ['fault.cgi', 'hang', 30, 0],
  ['fault.cgi', 'garbage-head', 100, 0],
  ['fault.cgi', 'garbage-body', 100, 0],
  ['fault.cgi', 'stderr', 5, 0],
  ['fault.cgi', 'fork', 10, 0],
  ['static.txt', '', 510, 0],
];

interface Job {
  label: string;
  bytes: Buffer;
}

/** One batch: the mix scaled to `total` requests, in a fixed pseudo-random order. */
function jobs(total: number): Job[] {
  const per = MIX.reduce((n, m) => n + m[2], 0);
  const list: Job[] = [];
  for (const [script, fault, count, bodyBytes] of MIX) {
    const n = Math.max(1, Math.round((count * total) / per));
    for (let i = 0; i < n; i++) {
      const body = 'b'.repeat(bodyBytes);
      const path = `/${script}${fault ? `?${fault}` : ''}`;
      const head = [`${bodyBytes ? 'POST' : 'GET'} ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...(bodyBytes ? [`Content-Length: ${bodyBytes}`] : [])];
      list.push({ label: `${script}?${fault}`, bytes: Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`) });
    }
  }
  let seed = 14;
  const rand = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list.slice(0, total);
}

type Outcome = 'answered' | 'clean close' | 'reset' | 'timeout' | 'not http';

interface BatchResult {
  outcomes: Map<Outcome, string[]>;
  statuses: Map<string, number>;
  peakRssKb: number;
  ms: number;
}

async function runBatch(port: number, pid: number, batch: Job[]): Promise<BatchResult> {
  const outcomes = new Map<Outcome, string[]>();
  const statuses = new Map<string, number>();
  let peakRssKb = rssKb(pid);
  const sampler = setInterval(() => (peakRssKb = Math.max(peakRssKb, rssKb(pid))), 100);
  const started = Date.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < batch.length) {
        const job = batch[next++]!;
        const a = await sendRaw(port, job.bytes, { timeoutMs: 20_000 });
        const lines = statusLines(a.data);
        let outcome: Outcome;
        if (lines.length > 0 && lines[0]!.startsWith('HTTP/')) {
          outcome = 'answered';
          const key = `${job.label} ${lines[0]!.split(' ')[1]}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        } else if (a.data.length > 0) outcome = 'not http';
        else if (a.end === 'closed') outcome = 'clean close';
        else outcome = a.end;
        if (++done % 1000 === 0) process.stdout.write(`[fault-injection] ${done}/${batch.length} in ${Date.now() - started} ms\n`);
        const list = outcomes.get(outcome) ?? [];
        list.push(job.label);
        outcomes.set(outcome, list);
      }
    }),
  );
  clearInterval(sampler);
  return { outcomes, statuses, peakRssKb: Math.max(peakRssKb, rssKb(pid)), ms: Date.now() - started };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counts by label, for a readable failure message. */
const tally = (labels: string[]): string => {
  const m = new Map<string, number>();
  for (const l of labels) m.set(l, (m.get(l) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k} ×${v}`).join(', ');
};

describe.runIf(havePerlFcgi)('fault injection under load', () => {
  const base = mkdtempSync(join(tmpdir(), 'htsandbox-faults-'));
  chmodSync(base, 0o755);
  if (isRoot) chownSync(base, 33, 33); // www-data writes the error log here
  const siteRoot = join(base, 'site');
  let server: ServeChild | undefined;

  afterAll(async () => {
    await server?.stop();
    killProcessesOfSite(siteRoot);
    rmSync(base, { recursive: true, force: true });
  });

  it(
    `${TOTAL} requests at ${CONNECTIONS} connections: up, answered, no leak, RSS plateaus, nothing left`,
    async () => {
      const t0 = Date.now();
      copySite(join(PROJECT_ROOT, 'test/fixtures/fault-site'), siteRoot);
      const conf = join(base, 'host.conf');
      writeHostConfig(
        conf,
        siteRoot,
        join(PROFILES_DIR, 'apache.conf'),
        [
          isRoot ? 'User www-data\nGroup www-data' : '',
          // Hangs are bounded by these, not by the test.
          'Timeout 2',
          'FcgidIOTimeout 2',
          'FcgidBusyTimeout 4',
          'FcgidBusyScanInterval 1',
          // Idle applications end soon and none is kept: the descriptor baseline is "no application".
          'FcgidIdleTimeout 2',
          'FcgidIdleScanInterval 1',
          'FcgidMinProcessesPerClass 0',
          'FcgidMaxProcessesPerClass 16',
          // Crashing applications are the point here: mod_fcgid's spawn score would otherwise
          // stop spawning for tens of seconds after a burst of crashes (each exit scores 2, and
          // the score decays by 1 a second), which tests the throttle, not the faults.
          'FcgidSpawnScoreUpLimit 100000',
        ].join('\n'),
      );
      server = await spawnServe([siteRoot, '--port', '0', '--host', '127.0.0.1', '--config', conf, '--error-log', join(base, 'error.log')]);
      const pid = server.child.pid!;
      let exited: string | undefined;
      server.child.once('exit', (code, signal) => (exited = `exit code ${code}, signal ${signal}`));
      const port = server.port;
      const get = async (path: string): Promise<string> =>
        statusLines((await sendRaw(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`))).data)[0] ?? '(none)';

      /** Waits until no FastCGI application of the site runs (ended as idle), at most 20 s. */
      const appsGone = async (): Promise<string[]> => {
        let apps: string[] = [];
        for (let i = 0; i < 200; i++) {
          apps = processesOfSite(siteRoot).filter((p) => p.includes('fault.fcgi'));
          if (apps.length === 0) break;
          await sleep(100);
        }
        return apps;
      };

      // Warm-up of everything lazily opened, then the baseline with no application running.
      for (const p of ['/static.txt', '/fault.cgi?ok', '/fault.fcgi?ok']) expect(await get(p)).toMatch(/ 200 /);
      expect(await appsGone()).toEqual([]);
      await sleep(200);
      const baseline = fdTargets(pid);

      // Batches of BATCH requests, each the same mix in the same order: the first is the warm-up
      // whose peak RSS the others must not exceed by more than 10 %.
      const batch = jobs(BATCH);
      const batches: BatchResult[] = [];
      for (let i = 0; i < TOTAL && !exited; i += BATCH) {
        const b = await runBatch(port, pid, batch.slice(0, TOTAL - i));
        batches.push(b);
        process.stdout.write(
          `[fault-injection] batch ${batches.length}: ${b.ms} ms, peak RSS ${b.peakRssKb} KiB, ${[...b.outcomes].map(([k, v]) => `${k} ${v.length}`).join(', ')}\n`,
        );
      }

      // The server stays up.
      expect(exited, `htsandbox ended under load (${exited}); its error log: ${join(base, 'error.log')}; stderr:\n${server.log().slice(-3000)}`).toBeUndefined();
      expect(await get('/static.txt')).toMatch(/ 200 /);

      // Every request got an answer or a clean close.
      for (const b of batches) {
        const bad = [...b.outcomes].filter(([k]) => k !== 'answered' && k !== 'clean close');
        expect(
          bad.map(([k, v]) => `${k}: ${tally(v)}`),
          'requests with neither an answer nor a clean close',
        ).toEqual([]);
      }

      // Descriptors exactly back to the baseline once the applications are gone.
      expect(await appsGone(), 'FastCGI applications still running after FcgidIdleTimeout').toEqual([]);
      for (let i = 0; i < 50 && fdCount(pid) !== baseline.length; i++) await sleep(100);
      const now = fdTargets(pid);
      const before = new Set(baseline);
      expect(now.length, `open now and not at the baseline:\n${now.filter((f) => !before.has(f)).join('\n')}`).toBe(baseline.length);

      // RSS plateaus: no batch after the warm-up raises its peak by more than 10 %, or by more
      // than V8's young generation (two semi-spaces of up to 16 MiB in Node 20, plus slack) when
      // that is more: V8 grows it while scripts flood stderr into the log and shrinks it when
      // idle, so a batch's peak varies by up to ~30 MB whether or not anything is kept (100,000
      // requests: 148 MB, then 127 to 167 MB without a trend). A leak of script output is far
      // beyond: each 10 MB of stderr kept 55 MB (343 MB, then 433 MB).
      // A long run (`npm run soak`) compares its second half with the highest peak of its first
      // half, which samples that variation better than one warm-up batch: a leak still grows.
      const peaks = batches.map((b) => b.peakRssKb);
      const warmUp = peaks.slice(0, Math.max(1, Math.floor(peaks.length / 2)));
      const warmPeak = Math.max(...warmUp);
      const allowedKb = Math.max(warmPeak * 1.1, warmPeak + YOUNG_GENERATION_KB);
      expect(Math.max(...peaks.slice(warmUp.length)), `peak RSS of each batch (KiB): ${peaks.join(', ')}`).toBeLessThanOrEqual(allowedKb);

      // Nothing left after shutdown: scripts, applications, and the children they forked.
      expect(await server.stop(), 'exit code after SIGTERM').toBe(0);
      let left = processesOfSite(siteRoot);
      for (let i = 0; i < 30 && left.length > 0; i++) {
        await sleep(100);
        left = processesOfSite(siteRoot);
      }
      expect(left, 'processes of the site left after the server stopped').toEqual([]);

      expect(Date.now() - t0, 'time budget').toBeLessThan(BUDGET_MS);
    },
    BUDGET_MS + 60_000,
  );
});
