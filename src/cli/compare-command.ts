/**
 * `htsandbox compare SITE PATH`: runs one script both ways — as a CGI script (a new process per
 * request) and as a FastCGI application (mod_fcgid's persistent processes) — under the same load,
 * and prints requests per second, p50, p99 and process starts side by side. The script must use
 * a FastCGI library (Perl FCGI or CGI::Fast, Ruby fcgi, libfcgi…): those
 * answer one request as CGI when started without a FastCGI socket, so the same file runs both ways.
 *
 * Both runs serve a temporary document root holding two symbolic links to the script, `x.cgi` and
 * `x.fcgi`, which the host's handler map runs as CGI and under mod_fcgid; nothing is written into
 * the site. The load comes from this process, one connection per concurrent client (keep-alive).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { serveQuietly } from './serve-command.js';
import { journalCounters } from '../server/request-journal.js';
import { usesFastCgiLibrary } from '../grammar/fastcgi-source.js';
import type { CommandIo } from './io.js';

export interface CompareOptions {
  root: string;
  /** URL path of the script in the site (`/counter.fcgi`). */
  path: string;
  /** Requests per run (default 500). */
  requests: number;
  /** Concurrent clients (default 4). */
  concurrency: number;
  profile?: string;
  config?: string;
}

/** One run's measurements. */
export interface RunResult {
  requests: number;
  failed: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  processStarts: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fetchOnce(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}

async function json<T>(port: number, path: string): Promise<T> {
  const agent = new Agent({ keepAlive: false });
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => {
        try {
          res(JSON.parse(body) as T);
        } catch (err) {
          rej(err);
        }
      });
    });
    req.on('error', rej);
    req.end();
  });
}

/** Serves `docroot`, sends `total` requests for `path` from `concurrency` clients, and measures. */
async function measure(docroot: string, path: string, total: number, concurrency: number, opts: CompareOptions, io: CommandIo): Promise<RunResult> {
  const served = await serveQuietly({ root: docroot, ...(opts.profile ? { profile: opts.profile } : {}), ...(opts.config ? { config: opts.config } : {}) }, io.cwd);
  if ('error' in served) throw new Error(`the server did not start: ${served.error}`);
  const port = served.port;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    const latencies: number[] = [];
    let failed = 0;
    let next = 0;
    const cgiSpawnsBefore = journalCounters.cgiSpawns;
    const start = process.hrtime.bigint();
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const t0 = process.hrtime.bigint();
        const status = await fetchOnce(agent, port, path).catch(() => 0);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    latencies.sort((a, b) => a - b);
    const status = await json<{ events: { kind: string }[] }>(port, '/.htsandbox/api/status');
    return {
      requests: total,
      failed,
      seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      processStarts: status.events.filter((e) => e.kind === 'spawn').length + journalCounters.cgiSpawns - cgiSpawnsBefore,
    };
  } finally {
    agent.destroy();
    await served.stop();
  }
}

/** The two rows and the one-line conclusion. */
export function formatComparison(cgi: RunResult, fcgi: RunResult, path: string): string {
  const rate = (r: RunResult): number => r.requests / r.seconds;
  const row = (name: string, r: RunResult): string =>
    `${name.padEnd(9)} ${Math.round(rate(r)).toLocaleString('en-US').padStart(11)} ${r.p50Ms.toFixed(1).padStart(8)} ms ${r.p99Ms.toFixed(1).padStart(8)} ms ${String(r.processStarts).padStart(10)}${r.failed ? `   (${r.failed} failed)` : ''}`;
  const ratio = rate(fcgi) / rate(cgi);
  const conclusion =
    ratio >= 1
      ? `FastCGI answered ${ratio.toFixed(1)}× as many requests per second as CGI, starting ${fcgi.processStarts} process${fcgi.processStarts === 1 ? '' : 'es'} instead of ${cgi.processStarts}: the interpreter stays loaded between requests.`
      : `CGI was faster here (${(1 / ratio).toFixed(1)}×): the script starts quickly and does little per request, so a persistent process saves little.`;
  return [
    `${path}: ${cgi.requests} requests each way`,
    `${'run as'.padEnd(9)} ${'requests/s'.padStart(11)} ${'p50'.padStart(11)} ${'p99'.padStart(11)} ${'processes'.padStart(10)}`,
    row('CGI', cgi),
    row('FastCGI', fcgi),
    conclusion,
    '',
  ].join('\n');
}

/** Runs `compare`; the exit code (0 done, 1 a run failed, 2 usage). */
export async function runCompare(opts: CompareOptions, io: CommandIo): Promise<number> {
  const root = resolve(io.cwd, opts.root);
  const script = join(root, opts.path.replace(/^\/+/, '').split('?')[0]!);
  let text: string;
  try {
    if (!statSync(script).isFile()) throw new Error('not a file');
    text = readFileSync(script, 'latin1');
  } catch {
    io.stderr.write(`htsandbox compare: ${opts.path} is not a file under ${opts.root}\n`);
    return 2;
  }
  if (!usesFastCgiLibrary(text)) {
    io.stderr.write(
      `htsandbox compare: ${opts.path} shows no FastCGI library (Perl FCGI or CGI::Fast, Ruby fcgi, libfcgi…); a plain CGI script cannot answer as FastCGI. Make it loop over FastCGI requests first (see the starter site's counter.fcgi).\n`,
    );
    return 2;
  }
  const docroot = mkdtempSync(join(tmpdir(), 'htsandbox-compare-'));
  try {
    const name =
      basename(script)
        .replace(/\.[^.]*$/, '')
        .replace(/[^A-Za-z0-9_-]/g, '_') || 'script';
    symlinkSync(script, join(docroot, `${name}.cgi`));
    symlinkSync(script, join(docroot, `${name}.fcgi`));
    io.stderr.write(`htsandbox compare: ${opts.requests} requests as CGI, then as FastCGI, ${opts.concurrency} at a time…\n`);
    const cgi = await measure(docroot, `/${name}.cgi`, opts.requests, opts.concurrency, opts, io);
    const fcgi = await measure(docroot, `/${name}.fcgi`, opts.requests, opts.concurrency, opts, io);
    io.stdout.write(formatComparison(cgi, fcgi, opts.path));
    if (cgi.failed === cgi.requests || fcgi.failed === fcgi.requests) {
      io.stderr.write('htsandbox compare: every request of a run failed: serve the site and open the script to see why (the dashboard shows the reason).\n');
      return 1;
    }
    return 0;
  } finally {
    rmSync(docroot, { recursive: true, force: true });
  }
}
