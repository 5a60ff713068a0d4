/** Starts `htsandbox serve` in this process on a free port; `stop()` shuts it down. */
import { request } from 'node:http';
import { runServe } from '../../src/cli/serve-command.js';

export interface RunningServer {
  port: number;
  output: () => string;
  stop(): Promise<number>;
}

export async function serveInProcess(
  root: string,
  args: {
    profile?: string;
    config?: string;
    userDir?: string;
    tls?: boolean;
    tlsCert?: string;
    tlsKey?: string;
    strict?: boolean;
    servers?: number;
    persistenceSeconds?: number;
    /** Where the error log goes (default: nowhere). */
    errorLog?: string;
    /** Where the combined-format access log goes ('-': the captured stderr; default: nowhere). */
    accessLog?: string;
  } = {},
): Promise<RunningServer> {
  const controller = new AbortController();
  let out = '';
  let resolvePort: (p: number) => void = () => {};
  const portPromise = new Promise<number>((r) => (resolvePort = r));
  const done = runServe(
    { root, port: 0, host: '127.0.0.1', errorLog: '/dev/null', signal: controller.signal, onListening: resolvePort, ...args },
    { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {}, cwd: process.cwd() },
  );
  const port = await Promise.race([portPromise, done.then((code) => Promise.reject(new Error(`serve exited ${code}: ${out}`)))]);
  return {
    port,
    output: () => out,
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends a raw request-target (no normalisation by the client). */
export function get(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { Connection: 'close', ...headers } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', rej);
    req.end();
  });
}

/** `htsandbox serve …` as a child process (for tests that need their own process). */
export interface ServeChild {
  port: number;
  child: import('node:child_process').ChildProcess;
  log(): string;
  /** SIGTERM, resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Every server a test file started; a test that fails half-way must not leave one running. */
const started = new Set<import('node:child_process').ChildProcess>();

/** Stops the servers still running (test/helpers/setup.ts calls it after each test file). */
export async function stopAllServers(): Promise<void> {
  await Promise.all(
    [...started].map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('exit', () => r());
          c.kill('SIGTERM');
        }),
    ),
  );
}

export async function spawnServe(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeChild> {
  const { spawn } = await import('node:child_process');
  const { join } = await import('node:path');
  const root = join(import.meta.dirname, '../..');
  const child = spawn(process.execPath, [join(root, 'bin/htsandbox.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const port = await new Promise<number>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /:(\d+)\/\n/.exec(out);
      if (m) res(Number(m[1]));
    });
    child.once('exit', (code) => rej(new Error(`serve exited ${code}: ${log}`)));
  });
  return {
    port,
    child,
    log: () => log,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r(child.exitCode);
        child.once('exit', (code) => r(code));
        child.kill('SIGTERM');
      }),
  };
}
