/**
 * `check --probe`: asks a script whether it speaks FastCGI by starting it as mod_fcgid would —
 * a listening Unix socket on its standard input — and sending one request. A FastCGI application
 * accepts and answers on the socket; a plain CGI script reads nothing, prints its answer to
 * standard output and exits. It runs the user's code, so `check` only does it when asked.
 */
import { spawn } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeRequest, RecordDecoder, RecordType } from '../grammar/fastcgi-records.js';

/** What the script did when started as a FastCGI application. */
export type ProbeOutcome =
  | { kind: 'fastcgi' }
  | { kind: 'cgi'; stdout: string }
  | { kind: 'exited'; code: number | null; stderr: string }
  | { kind: 'silent' }
  | { kind: 'failed'; message: string };

/** Starts `program` with a listening socket on fd 0 and sends one GET; gives up after `timeoutMs`. */
export function probeFastCgi(program: string, args: string[], env: Record<string, string>, timeoutMs = 3000): Promise<ProbeOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'htsandbox-probe-'));
  const socketPath = join(dir, 'probe.sock');
  const childPath = join(dir, 'app.sock');
  return new Promise<ProbeOutcome>((resolveOutcome) => {
    const listener = createServer();
    listener.once('error', (err) => finish({ kind: 'failed', message: err.message }));
    let child: ReturnType<typeof spawn> | undefined;
    let settled = false;
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => finish({ kind: 'silent' }), timeoutMs);
    function finish(outcome: ProbeOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child?.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      listener.close();
      rmSync(dir, { recursive: true, force: true });
      resolveOutcome(outcome);
    }
    listener.listen(socketPath, () => {
      const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
      try {
        child = spawn(program, args, { cwd: dirname(program), env, detached: true, stdio: [fd, 'pipe', 'pipe'] });
      } catch (err) {
        finish({ kind: 'failed', message: (err as Error).message });
        return;
      }
      // The child holds the listening socket now; ours must stop accepting so only it can. Node
      // removes a Unix socket's path when its server closes, so the request goes to a second
      // name of the same socket.
      linkSync(socketPath, childPath);
      listener.close();
      child.once('error', (err) => finish({ kind: 'failed', message: err.message }));
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString('latin1');
        if (stdout.length > 0) setTimeout(() => finish({ kind: 'cgi', stdout: stdout.slice(0, 500) }), 50);
      });
      child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('latin1')).slice(-2000)));
      child.once('exit', (code) => setTimeout(() => finish(stdout ? { kind: 'cgi', stdout: stdout.slice(0, 500) } : { kind: 'exited', code, stderr }), 50));
      const sock = connect(childPath);
      const decoder = new RecordDecoder();
      sock.on('data', (c: Buffer) => {
        const { records } = decoder.push(c);
        if (records.some((r) => r.type === RecordType.STDOUT || r.type === RecordType.END_REQUEST)) {
          sock.destroy();
          finish({ kind: 'fastcgi' });
        }
      });
      sock.on('error', () => undefined);
      sock.on('connect', () => {
        const env0 = {
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: 'GET',
          SCRIPT_NAME: '/probe',
          SCRIPT_FILENAME: program,
          REQUEST_URI: '/probe',
          QUERY_STRING: '',
          SERVER_PROTOCOL: 'HTTP/1.1',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          REMOTE_ADDR: '127.0.0.1',
        };
        for (const b of encodeRequest(1, 1, 0, env0, Buffer.alloc(0)) ?? []) sock.write(b);
      });
    });
  });
}
