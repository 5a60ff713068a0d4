/** `htsandbox serve [ROOT]`: answers requests as the host would. */
import { createWriteStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import pino from 'pino';
import { createHttpFront } from '../server/http-server.js';
import { HostProcessCrash } from '../vocabulary/host-process-crash.js';
import { recoverRequestFrom } from '../server/request-guard.js';
import { backendServers, createSiteContext, setSiteLogger } from '../server/site-context.js';
import { PersistenceTable } from '../engine/lvs-persistence.js';
import { reapLeftovers } from '../adapters/process-table.js';
import { adoptOrphans, groupsHeldByCgroup } from '../adapters/process-groups.js';
import { endServerCgroup, enterServerCgroup, reapLeftoverCgroups } from '../adapters/process-cgroup.js';
import { setFcgiTraceSink } from '../adapters/fcgi-trace.js';
import { errorLogBacklog, errorLogCaughtUp } from '../vocabulary/error-log-backlog.js';
import { homedir, tmpdir } from 'node:os';
import { namedIdentity, selfSignedIdentity, stateDirectory, type TlsIdentity } from '../adapters/tls-certificate.js';
import type { CommandIo } from './io.js';
import { RequestJournal, type RequestRecord } from '../server/request-journal.js';
import type { DashboardOptions } from '../server/dashboard.js';

/**
 * Bytes of error-log entries that may wait for the disk: past them new entries are dropped and
 * counted (Apache writes its error log synchronously, so there a flood of script stderr slows
 * the script; here it must not grow the server's memory without bound).
 */
const ERROR_LOG_BACKLOG_BYTES = 4 * 1024 * 1024;
/** The longest a script waits for the error log to catch up. */
const ERROR_LOG_WAIT_MS = 5000;

export interface ServeOptions {
  root: string;
  port: number;
  host: string;
  config?: string;
  profile?: string;
  accessLog?: string;
  errorLog?: string;
  /** Serve `/~NAME/…` from `DIR/NAME/web_scripts/…`. */
  userDir?: string;
  /** Replace FastCGI processes whose script changed on disk. */
  reloadOnChange?: boolean;
  /** Log every FastCGI record sent and received. */
  traceFcgi?: boolean;
  /** The dashboard's path (default `/.htsandbox/`); false turns it off. */
  dashboard?: string | false;
  /** Show the dashboard to clients that are not on loopback too. */
  dashboardPublic?: boolean;
  /** Add nothing of htsandbox's own to answers (no X-Htsandbox-Explain header). */
  strict?: boolean;
  /** No request lines on a terminal. */
  quiet?: boolean;
  /** Simulated real servers behind the host's balancer, each with its own FastCGI processes (default 1). */
  servers?: number;
  /** How long the balancer keeps a client on its server after its last request, in seconds (LVS persistence; default 600). */
  persistenceSeconds?: number;
  /** Answer HTTPS on the same port too (`--tls`), with this certificate and key, or a self-signed one. */
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Resolves once the server is listening (tests); the signal stops it. */
  signal?: AbortSignal;
  onListening?: (port: number) => void;
}

/**
 * Maximum time in-flight requests get to finish after SIGINT/SIGTERM: the listener closes at once
 * and idle keep-alive connections are closed; a request still running after this loses its
 * connection (its client sees the connection close, with no or a partial response). Then every
 * process the server started (CGI, FastCGI and whatever they started) is ended.
 */
const SHUTDOWN_GRACE_MS = 5000;

export async function runServe(opts: ServeOptions, io: CommandIo): Promise<number> {
  const rootAbs = resolve(io.cwd, opts.root);
  try {
    if (!statSync(rootAbs).isDirectory()) {
      io.stderr.write(`htsandbox serve: ${opts.root} is not a directory\n`);
      return 2;
    }
  } catch (err) {
    io.stderr.write(`htsandbox serve: cannot read ${opts.root}: ${(err as Error).message}\n`);
    return 2;
  }
  // A request's objects (its request and response, its handling, its FastCGI exchange) live
  // exactly as long as the request: under load, long enough at times for V8's allocation-site
  // pretenuring to take them for long-lived and allocate them in the old generation. Each of
  // those then keeps what it points to alive through every young collection until the next
  // full one, which confirms the decision: FastCGI requests were measured at 1.7× the CPU,
  // 13 % of it in the collector, depending on which way a warm-up tipped (docs/performance.md,
  // session 11). Objects that die with their request gain nothing from pretenuring.
  setFlagsFromString('--no-allocation-site-pretenuring');
  let identity: TlsIdentity | undefined;
  if (opts.tls || opts.tlsCert || opts.tlsKey) {
    if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
      io.stderr.write('htsandbox serve: --tls-cert and --tls-key go together (or give neither for a self-signed certificate)\n');
      return 2;
    }
    const made = opts.tlsCert && opts.tlsKey ? namedIdentity(resolve(io.cwd, opts.tlsCert), resolve(io.cwd, opts.tlsKey)) : selfSignedIdentity(stateDirectory(io.env, homedir()));
    if ('error' in made) {
      io.stderr.write(`htsandbox serve: ${made.error}\n`);
      return 2;
    }
    identity = made;
  }
  const src: { siteRoot: string; configFile?: string; profile?: string; userDir?: string } = { siteRoot: rootAbs };
  if (opts.userDir) src.userDir = resolve(io.cwd, opts.userDir);
  if (opts.config) src.configFile = resolve(io.cwd, opts.config);
  if (opts.profile) src.profile = opts.profile;
  const site = createSiteContext(src, { reloadOnChange: Boolean(opts.reloadOnChange) });
  if ('error' in site) {
    io.stderr.write(`htsandbox serve: ${site.error}\n`);
    return 2;
  }
  // The error log is written asynchronously; its backlog is bounded (ERROR_LOG_BACKLOG_BYTES):
  // past it entries are dropped and counted, and the scripts whose output is logged wait until
  // the backlog was written (src/vocabulary/error-log-backlog.ts).
  let droppedLines = 0;
  let backlogEpisodes = 0;
  const fileDestination = (dest: string | number): ReturnType<typeof pino.destination> => {
    // Buffers, not strings: in string mode each entry appended re-measures (flattens) the
    // queued string, several times the log's size in garbage when a script floods stderr.
    const d = pino.destination({ dest, sync: false, maxLength: ERROR_LOG_BACKLOG_BYTES, contentMode: 'buffer' });
    // SonicBoom's write says false past its high-water mark (16 KiB waiting): the scripts whose
    // output is logged pause after the chunk in hand, long before the backlog is full.
    // A destination that stops writing (an I/O error) must not hold scripts for ever: they go
    // on after ERROR_LOG_WAIT_MS whatever the log does.
    const write = d.write.bind(d) as (data: string | Buffer) => boolean;
    d.write = (data: string | Buffer): boolean => {
      const belowMark = write(typeof data === 'string' ? Buffer.from(data) : data);
      if (!belowMark && !errorLogBacklog.full) {
        errorLogBacklog.full = true;
        const since = ++backlogEpisodes;
        setTimeout(() => {
          if (errorLogBacklog.full && backlogEpisodes === since) errorLogCaughtUp();
        }, ERROR_LOG_WAIT_MS).unref();
      }
      return belowMark;
    };
    d.on('drop', () => droppedLines++);
    // Everything queued was written: say what was not, and let paused scripts go on.
    d.on('drain', () => {
      if (droppedLines > 0) reportDroppedLines();
      if (errorLogBacklog.full) errorLogCaughtUp();
    });
    return d;
  };
  const errorDest =
    opts.errorLog && opts.errorLog !== '-'
      ? fileDestination(resolve(io.cwd, opts.errorLog))
      : io.stderr.isTTY
        ? pino.transport({ target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname,apache' } })
        : fileDestination(2);
  const logger = pino({ base: undefined, level: 'info' }, errorDest);
  const reportDroppedLines = (): void => {
    const n = droppedLines;
    droppedLines = 0;
    logger.warn(
      { module: 'htsandbox' },
      `${n} error-log entr${n === 1 ? 'y' : 'ies'} not written: more than ${ERROR_LOG_BACKLOG_BYTES >> 20} MiB of the log waited for the disk (more script output arrived at once than that: the scripts writing to stderr wait for the log, but each has a chunk of up to 64 KiB in hand). Have them write less to stderr, or to a file of their own`,
    );
  };
  const journal = new RequestJournal();
  // An application's own output is its log, not an error of the server's (mod_fcgid copies it raw).
  setSiteLogger((module, level, message, fields) => {
    if (module === 'fcgid') journal.processEvent(message, fields);
    logger[fields?.appOutput ? 'info' : level === 'info' ? 'debug' : level]({ module, ...fields }, message);
  });
  for (const problem of site.proxyBalancerProblems) logger.warn({ module: 'proxy_balancer' }, problem);
  // One server per process outside tests; a test's server takes the sink and gives it back.
  // Records go to the log (--trace-fcgi) and, when the dashboard asks, to each request's record.
  const traceSink = (): void => {
    if (!opts.traceFcgi && !journal.recordingFcgi) return setFcgiTraceSink(undefined);
    setFcgiTraceSink((t) => {
      if (opts.traceFcgi) logger.info({ module: 'fcgi-trace', peer: t.peer, direction: t.direction }, `${t.peer} ${t.direction === 'sent' ? '<-' : '->'} ${t.record}`);
      if (journal.recordingFcgi) journal.fcgiRecord(t.peer, t.direction, t.record);
    });
  };
  journal.recordingFcgi = Boolean(opts.traceFcgi);
  journal.onRecordingChange = traceSink;
  traceSink();
  let accessLog: ((line: string) => void) | undefined;
  if (opts.accessLog === '-') accessLog = (line) => io.stderr.write(`${line}\n`);
  else if (opts.accessLog) {
    const stream = createWriteStream(resolve(io.cwd, opts.accessLog), { flags: 'a' });
    accessLog = (line) => stream.write(`${line}\n`);
  }
  // Processes left running by a server that was killed (SIGKILL, a crash) are ended now.
  const ended = [...new Set([...reapLeftovers(tmpdir()), ...reapLeftoverCgroups()])];
  if (ended.length)
    logger.warn(
      { module: 'core' },
      `ended ${ended.length} process(es) (FastCGI applications, CGI scripts or what they started) left running by a server that did not shut down: pid ${ended.join(', ')}`,
    );
  // The CLI's own process (not a test's): orphans of scripts come back to us while we live.
  // A cgroup of our own, where one is writable, holds even what leaves its session.
  if (!opts.signal) {
    const noCgroup = enterServerCgroup();
    if (!noCgroup) groupsHeldByCgroup();
    const lost = adoptOrphans();
    if (lost && noCgroup) logger.warn({ module: 'core' }, `cannot adopt orphaned script processes: ${lost}; and no cgroup of our own: ${noCgroup}`);
  }
  // Map programs start before the switch to `User`, as mod_rewrite's do in Apache's parent.
  site.rewriteMaps.startPrograms();
  const servers = backendServers(site, Math.max(1, opts.servers ?? 1));
  const backends = servers.length > 1 ? { servers, persistence: new PersistenceTable(servers.length, (opts.persistenceSeconds ?? 600) * 1000) } : undefined;
  if (backends)
    logger.info(
      { module: 'htsandbox' },
      `${servers.length} simulated servers behind the host's balancer, each with its own FastCGI processes; a client (source address, or X-Forwarded-For) stays on its server for ${opts.persistenceSeconds ?? 600} s after its last request`,
    );
  const shutdownPools = (): Promise<unknown> => Promise.all(servers.map((s) => s.fcgiPool.shutdown()));
  const dashboard = dashboardOptions(opts);
  const requestLines = io.stderr.isTTY && !opts.quiet && !opts.errorLog;
  const front = createHttpFront({
    site,
    logger,
    ...(accessLog ? { accessLog } : {}),
    ...(backends ? { backends } : {}),
    ...(identity ? { tls: identity } : {}),
    // Requests are recorded only for someone who reads them: the dashboard, or the terminal's lines.
    ...(dashboard || requestLines ? { journal } : {}),
    ...(dashboard ? { dashboard } : {}),
    explainHeader: Boolean(dashboard) && !opts.strict,
    ...(requestLines ? { onRequestDone: (rec: RequestRecord) => io.stderr.write(requestLine(rec, !io.env.NO_COLOR)) } : {}),
  });
  return new Promise<number>((done) => {
    front.once('error', (err: NodeJS.ErrnoException) => {
      io.stderr.write(`htsandbox serve: cannot listen on ${opts.host}:${opts.port}: ${listenProblem(err, opts.port)}\n`);
      site.rewriteMaps.shutdown();
      done(2);
    });
    front.listen(opts.port, opts.host, () => {
      const switched = dropPrivileges(site.host.user, site.host.group);
      if (switched !== undefined) {
        io.stderr.write(`htsandbox serve: ${switched}\n`);
        void shutdownPools();
        site.rewriteMaps.shutdown();
        front.close(() => done(2));
        return;
      }
      const addr = front.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      io.stdout.write(`htsandbox: serving ${opts.root} at http://${opts.host}:${port}/\n`);
      if (identity) {
        io.stdout.write(`htsandbox: and at https://${opts.host}:${port}/ (same port) with the certificate ${identity.certFile}${identity.created ? ', made now' : ''}\n`);
        if (!opts.tlsCert) io.stdout.write('htsandbox: it is self-signed: accept it once in the browser, or give curl --cacert with that file\n');
      }
      if (dashboard)
        io.stdout.write(
          `dashboard: http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}${dashboard.prefix}${dashboard.public ? '' : ' (loopback clients only)'}\n`,
        );
      opts.onListening?.(port);
    });
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      // No new connections; requests in flight get SHUTDOWN_GRACE_MS, then every process ends.
      let ending = false;
      const endProcesses = (): void => {
        if (ending) return;
        ending = true;
        clearInterval(idleCloser);
        clearTimeout(graceTimer);
        site.rewriteMaps.shutdown();
        void Promise.all([shutdownPools(), site.processGroups.endAll()]).then(async () => {
          await endServerCgroup();
          if (opts.traceFcgi || journal.recordingFcgi) setFcgiTraceSink(undefined);
          done(0);
        });
      };
      // Live dashboard streams never go idle: they end now.
      journal.endStreams();
      front.close(endProcesses);
      front.closeIdleConnections();
      // A keep-alive connection becomes idle once its response is sent: close it then.
      const idleCloser = setInterval(() => front.closeIdleConnections(), 100);
      const graceTimer = setTimeout(() => {
        front.closeAllConnections();
        endProcesses();
      }, SHUTDOWN_GRACE_MS);
    };
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (!opts.signal) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // The final net: an exception nothing caught ends its own request's response (when it came
      // from one) and is logged at fatal level; the server never exits for it.
      const lastResort =
        (kind: string) =>
        (err: unknown): void => {
          const recovered = recoverRequestFrom(err);
          // Where the host's process would crash, the request's own log line said so: no bug.
          if (recovered && err instanceof HostProcessCrash) return;
          logger.fatal(
            { module: 'htsandbox', err },
            `${kind}${recovered ? ' in a request (its response was ended)' : ' outside any request'}; htsandbox keeps serving. This is a bug in htsandbox: please report it with this log line.`,
          );
        };
      process.on('uncaughtException', lastResort('uncaught exception'));
      process.on('unhandledRejection', lastResort('unhandled promise rejection'));
    }
  });
}

/** Why the port cannot be bound, in words, with what to do. */
function listenProblem(err: NodeJS.ErrnoException, port: number): string {
  if (err.code === 'EADDRINUSE') return `port ${port} is already in use (by another server?); choose another with --port N, or --port 0 for any free port`;
  if (err.code === 'EACCES') return `not allowed to use port ${port} (ports below 1024 need root); choose one above 1024, or --port 0 for any free port`;
  if (err.code === 'EADDRNOTAVAIL') return 'no such address on this machine; use --host 127.0.0.1 (this machine) or --host 0.0.0.0 (every interface)';
  return err.message;
}

/**
 * Apache's `User`/`Group` (mod_unixd): when started as root, switch the whole server to that
 * user after binding the port, so files are read (and scripts will run) with its rights.
 * Without `User`, or when not root, nothing changes. Returns an error message, if any.
 */
function dropPrivileges(user: string | undefined, group: string | undefined): string | undefined {
  if (!user || typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (v: string): string | number => (v.startsWith('#') ? Number(v.slice(1)) : v);
  try {
    const u = id(user);
    const g = group ? id(group) : undefined;
    if (u === 'root' || u === 0) return undefined;
    if (g !== undefined) {
      const posix = process as unknown as {
        initgroups(user: string, group: string | number): void;
        setgroups(groups: (string | number)[]): void;
        setgid(id: string | number): void;
        setuid(id: string | number): void;
      };
      if (typeof u === 'string') posix.initgroups(u, g);
      else posix.setgroups([g]);
      posix.setgid(g);
    }
    (process as unknown as { setuid(id: string | number): void }).setuid(u);
    return undefined;
  } catch (err) {
    return `cannot switch to User ${user} / Group ${group ?? '-'}: ${(err as Error).message}`;
  }
}

/** The dashboard's settings from the command line (undefined: off). */
function dashboardOptions(opts: ServeOptions): DashboardOptions | undefined {
  if (opts.dashboard === false) return undefined;
  let prefix = opts.dashboard ?? '/.htsandbox/';
  if (!prefix.startsWith('/')) prefix = `/${prefix}`;
  if (!prefix.endsWith('/')) prefix += '/';
  return { prefix, public: Boolean(opts.dashboardPublic) };
}

/** One line per answered request on a terminal, coloured by status class; the reason of an error under it. */
function requestLine(rec: RequestRecord, colour: boolean): string {
  const paint = (code: number, text: string): string => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const tint = rec.status >= 500 ? 31 : rec.status >= 400 ? 33 : rec.status >= 300 ? 36 : 32;
  const head = `${paint(tint, String(rec.status))} ${rec.method} ${rec.url} ${paint(2, `${rec.handler}${rec.pid ? `[${rec.pid}]` : ''} ${rec.durationMs ?? 0} ms`)}`;
  return rec.reason && rec.status >= 400 ? `${head}\n    ${paint(tint, 'why:')} ${rec.reason}\n` : `${head}\n`;
}

/**
 * `serve` inside this process on a free loopback port, with nothing printed (for `test` and
 * `compare`): its port and how to stop it, or what it said when it could not start.
 */
export async function serveQuietly(site: { root: string; config?: string; profile?: string }, cwd: string): Promise<{ port: number; stop(): Promise<void> } | { error: string }> {
  const controller = new AbortController();
  let portOf: (p: number) => void = () => undefined;
  const listening = new Promise<number>((r) => (portOf = r));
  let output = '';
  const quietIo: CommandIo = { stdout: { write: (s: string) => (output += s) }, stderr: { write: (s: string) => (output += s) }, env: {}, cwd };
  const done = runServe(
    {
      root: site.root,
      port: 0,
      host: '127.0.0.1',
      errorLog: '/dev/null',
      quiet: true,
      signal: controller.signal,
      onListening: portOf,
      ...(site.config ? { config: site.config } : {}),
      ...(site.profile ? { profile: site.profile } : {}),
    },
    quietIo,
  );
  try {
    const port = await Promise.race([listening, done.then((code) => Promise.reject(new Error(`exit ${code}`)))]);
    return {
      port,
      stop: async () => {
        controller.abort();
        await done;
      },
    };
  } catch {
    return { error: output.trim() };
  }
}
