/** `htsandbox serve [ROOT]`: answers requests as the host would. */
import { createWriteStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { createHttpFront } from '../server/http-server.js';
import { createSiteContext, setSiteLogger } from '../server/site-context.js';
import { reapLeftovers } from '../adapters/process-table.js';
import { setFcgiTraceSink } from '../adapters/fcgi-trace.js';
import { homedir, tmpdir } from 'node:os';
import { namedIdentity, selfSignedIdentity, stateDirectory, type TlsIdentity } from '../adapters/tls-certificate.js';
import type { CommandIo } from './io.js';

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
  /** Answer HTTPS on the same port too (`--tls`), with this certificate and key, or a self-signed one. */
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Resolves once the server is listening (tests); the signal stops it. */
  signal?: AbortSignal;
  onListening?: (port: number) => void;
}

/** Maximum time in-flight requests get to finish after SIGINT/SIGTERM. */
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
  const errorDest =
    opts.errorLog && opts.errorLog !== '-'
      ? pino.destination({ dest: resolve(io.cwd, opts.errorLog), sync: false })
      : io.stderr.isTTY
        ? pino.transport({ target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname,apache' } })
        : pino.destination({ dest: 2, sync: false });
  const logger = pino({ base: undefined, level: 'info' }, errorDest);
  setSiteLogger((module, level, message, fields) => logger[level === 'info' ? 'debug' : level]({ module, ...fields }, message));
  for (const problem of site.proxyBalancerProblems) logger.warn({ module: 'proxy_balancer' }, problem);
  // One server per process outside tests; a test's server takes the sink and gives it back.
  if (opts.traceFcgi) setFcgiTraceSink((t) => logger.info({ module: 'fcgi-trace', peer: t.peer, direction: t.direction }, `${t.peer} ${t.direction === 'sent' ? '<-' : '->'} ${t.record}`));
  let accessLog: ((line: string) => void) | undefined;
  if (opts.accessLog === '-') accessLog = (line) => io.stderr.write(`${line}\n`);
  else if (opts.accessLog) {
    const stream = createWriteStream(resolve(io.cwd, opts.accessLog), { flags: 'a' });
    accessLog = (line) => stream.write(`${line}\n`);
  }
  // Applications left running by a server that was killed (SIGKILL, a crash) are ended now.
  const ended = reapLeftovers(tmpdir());
  if (ended.length) logger.warn({ module: 'fcgid' }, `ended ${ended.length} FastCGI application(s) left running by a server that did not shut down: pid ${ended.join(', ')}`);
  // Map programs start before the switch to `User`, as mod_rewrite's do in Apache's parent.
  site.rewriteMaps.startPrograms();
  const front = createHttpFront({ site, logger, ...(accessLog ? { accessLog } : {}), ...(identity ? { tls: identity } : {}) });
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
        void site.fcgiPool.shutdown();
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
      opts.onListening?.(port);
    });
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      // Applications end first (within 2 s), then the listener closes.
      site.rewriteMaps.shutdown();
      void site.fcgiPool.shutdown().then(() => {
        if (opts.traceFcgi) setFcgiTraceSink(undefined);
        front.close(() => done(0));
      });
      front.closeIdleConnections();
      setTimeout(() => {
        front.closeAllConnections();
      }, SHUTDOWN_GRACE_MS).unref();
    };
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (!opts.signal) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
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
