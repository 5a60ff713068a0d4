/**
 * A private Apache 2.4 + mod_fcgid for tests: its own config, pid file, logs and sockets in a
 * temporary state directory, the site copied where www-data can read it, stopped by its pid.
 * The host settings are htsandbox's own profile files, Included as they are, so Apache and
 * htsandbox read one and the same host configuration.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { APACHE_BIN } from './peers.js';

export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
export const PROFILES_DIR = join(PROJECT_ROOT, 'profiles');

export interface PrivateApacheOptions {
  /** Directory to serve; it is copied, the copy is what Apache serves. */
  site: string;
  /** Host configuration file to Include (default: the `apache` profile). */
  hostConfig?: string;
  /** Extra server configuration appended after the host settings (given the served root). */
  extraConfig?: string | ((siteRoot: string) => string);
  logLevel?: string;
  /** Called on the copy after it was made and chowned (modes, mtimes, placeholders). */
  prepare?: (siteRoot: string) => void;
}

export interface PrivateApache {
  port: number;
  /** Absolute path of the served copy of the site. */
  siteRoot: string;
  stateDir: string;
  /** The generated httpd.conf (host part only, for a candidate's --config). */
  hostConfigFile: string;
  errorLog(): string;
  stop(): Promise<void>;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes the host part: defines for the profile variables, then the profile itself. */
export function writeHostConfig(file: string, siteRoot: string, hostConfig: string, extra = ''): void {
  writeFileSync(file, [`Define HTSANDBOX_SITE_ROOT "${siteRoot}"`, `Define HTSANDBOX_PROFILES "${PROFILES_DIR}"`, `Include "${hostConfig}"`, extra, ''].join('\n'));
}

export async function startPrivateApache(opts: PrivateApacheOptions): Promise<PrivateApache> {
  const stateDir = mkdtempSync(join(tmpdir(), 'htsandbox-apache-'));
  chmodSync(stateDir, 0o755);
  const siteRoot = join(stateDir, 'site');
  cpSync(opts.site, siteRoot, { recursive: true, verbatimSymlinks: true });
  if (isRoot) execFileSync('chown', ['-R', 'www-data:www-data', siteRoot]);
  else execFileSync('chmod', ['-R', 'o+rX', siteRoot]);
  try {
    opts.prepare?.(siteRoot);
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const hostConfigFile = join(stateDir, 'host.conf');
  const extra = typeof opts.extraConfig === 'function' ? opts.extraConfig(siteRoot) : opts.extraConfig;
  writeHostConfig(hostConfigFile, siteRoot, opts.hostConfig ?? join(PROFILES_DIR, 'apache.conf'), extra);
  const conf = join(stateDir, 'httpd.conf');
  writeFileSync(
    conf,
    [
      'ServerRoot "/usr/lib/apache2"',
      `DefaultRuntimeDir "${stateDir}"`,
      `PidFile "${stateDir}/httpd.pid"`,
      `Listen 127.0.0.1:${port}`,
      `ErrorLog "${stateDir}/error.log"`,
      `LogLevel ${opts.logLevel ?? 'warn'}`,
      'LoadModule mpm_event_module modules/mod_mpm_event.so',
      'StartServers 1',
      'ServerLimit 2',
      'ThreadsPerChild 16',
      'MaxRequestWorkers 32',
      isRoot ? 'User www-data\nGroup www-data' : '',
      `Include "${hostConfigFile}"`,
      '<IfModule cgid_module>',
      `ScriptSock "${stateDir}/cgid.sock"`,
      '</IfModule>',
      '<IfModule fcgid_module>',
      `FcgidIPCDir "${stateDir}/fcgid"`,
      `FcgidProcessTableFile "${stateDir}/fcgid_shm"`,
      '</IfModule>',
      '',
    ].join('\n'),
  );
  if (isRoot) {
    execFileSync('mkdir', ['-p', join(stateDir, 'fcgid')]);
    execFileSync('chown', ['www-data:www-data', join(stateDir, 'fcgid')]);
  }
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
  const started = spawnSync(APACHE_BIN, ['-f', conf, '-k', 'start'], { env, encoding: 'utf8' });
  const errorLogFile = join(stateDir, 'error.log');
  const readLog = (): string => (existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '');
  if (started.status !== 0) {
    throw new Error(`apache failed to start: ${started.stderr}${started.stdout}\n${readLog()}`);
  }
  const pidFile = join(stateDir, 'httpd.pid');
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (existsSync(pidFile) && (await portOpen(port))) break;
    if (Date.now() > deadline) throw new Error(`apache did not come up on ${port}:\n${readLog()}`);
    await sleep(50);
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    port,
    siteRoot,
    stateDir,
    hostConfigFile,
    errorLog: readLog,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const until = Date.now() + 15_000;
      for (;;) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        if (Date.now() > until) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          break;
        }
        await sleep(50);
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
