/**
 * The `fcgid-script` handler (mod_fcgid's behaviour): the request body is read first, a process
 * of the script's class is taken from the pool (or spawned), the request goes over FastCGI, and
 * the STDOUT stream is answered like a CGI response.
 */
import { answeredBodyFailure, watchBodyFailure, type BodyFailure } from './body-failure.js';
import { recordOf } from './request-journal.js';
import { statSync } from 'node:fs';
import { osPath } from '../adapters/byte-paths.js';
import { dirname } from 'node:path';
import { checkExecutable } from '../adapters/cgi-process.js';
import { isSpooled, RequestBodySpool, type RequestBody } from '../adapters/request-body-spool.js';
import type { FcgiExchange } from '../adapters/fcgi-client.js';
import type { FcgiApp, FcgiLease, FcgiProcessPool } from '../adapters/fcgi-process-pool.js';
import { CgiHeaderParser, cgiHeaderErrorCode, cgiHeaderErrorMessage, scriptStatus, type CgiHeaders } from '../grammar/cgi-response.js';
import { DEBIAN_APACHE_PATH } from '../engine/cgi-environment.js';
import type { Decision, FcgidAuthOutcome } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import { Role } from '../grammar/fastcgi-records.js';
import { capLogLine } from '../grammar/log-lines.js';
import { FCGID_AUTH_NAMES, fcgidWrapperFor } from '../engine/dir-config.js';
import type { FsEntry } from '../engine/fs-view.js';
import { requestEnvironment, startResponse, type CgiContext } from './cgi-handler.js';
import { bindExchange, bindToRequest } from './request-guard.js';

/**
 * A FastCGI request's context: a CGI request's. The process pool and mod_fcgid's settings
 * (FcgidMaxRequestLen …, FcgidInitialEnv, FcgidPassHeader, FcgidCmdOptions, keeping one
 * connection per process) are the site's own, read through `site`.
 */
export type FcgidContext = CgiContext;

/** Variables mod_fcgid removes from the table (mod_fcgid.c; it forces HTTP_CONNECTION=close). */
const DROPPED: ReadonlySet<string> = new Set(['HTTP_KEEP_ALIVE', 'HTTP_TE', 'HTTP_TRAILER', 'HTTP_TRANSFER_ENCODING', 'HTTP_UPGRADE']);

/** The pool's callback as the two continuations this handler is written in. */
function acquireThen(pool: FcgiProcessPool, app: FcgiApp, ok: (lease: FcgiLease) => void, failed: (err: Error & { code?: string }) => void): void {
  // The pool calls back from whichever request freed a process: the callback keeps this one's scope.
  pool.acquire(
    app,
    bindToRequest((err: (Error & { code?: string }) | null | undefined, lease: FcgiLease | undefined) => (err || !lease ? failed(err ?? new Error('no process')) : ok(lease))),
  );
}

type BuiltApp = FcgiApp & { initialEnv: ReadonlyMap<string, string> };

/** Built process classes, by everything that goes into one (a request reuses its class's). */
const appCache = new Map<string, BuiltApp>();
const appByEntry = new WeakMap<FsEntry, BuiltApp>();

/** A process class as mod_fcgid starts it: PATH plus FcgidInitialEnv, in the program's directory. */
function fcgiApp(
  c: Pick<FcgidContext, 'site'>,
  a: { classKey: string; program: string; args: string[]; label: string; version?: string; multiplex?: boolean; ioTimeoutMs?: number },
): BuiltApp {
  const key = `${a.classKey}\0${a.program}\0${a.args.join('\0')}\0${a.label}\0${a.version ?? ''}\0${a.multiplex ? 'mpx' : ''}`;
  const cached = appCache.get(key);
  if (cached && cached.initialEnv === c.site.fcgiInitialEnv) return cached;
  if (appCache.size > 1000) appCache.clear();
  const app = buildFcgiApp(c, a);
  appCache.set(key, app);
  return app;
}

function buildFcgiApp(
  c: Pick<FcgidContext, 'site'>,
  a: { classKey: string; program: string; args: string[]; label: string; version?: string; multiplex?: boolean; ioTimeoutMs?: number },
): BuiltApp {
  const cmd = c.site.fcgiCmdOptions.get(a.program);
  return {
    initialEnv: c.site.fcgiInitialEnv,
    ...(cmd ? { limits: { ...c.site.fcgiLimits, ...cmd.limits } } : {}),
    ...a,
    cwd: dirname(a.program),
    // FcgidCmdOptions replaces the server's FcgidInitialEnv for its command.
    env: { PATH: DEBIAN_APACHE_PATH, ...Object.fromEntries(cmd ? cmd.initialEnv : c.site.fcgiInitialEnv) },
    preflight: () => {
      const problem = checkExecutable(a.program);
      return problem ? Object.assign(new Error(problem.explain), { code: 'EXEC' }) : undefined;
    },
  };
}

/**
 * mod_fcgid logs an app's STDERR record line by line (empty lines dropped); Apache's log entry
 * buffer (MAX_STRING_LEN) cuts a longer line.
 */
function logStderrLines(c: Pick<FcgidContext, 'log'>, text: string): void {
  for (const line of text.split(/[\r\n]+/)) if (line) c.log({ module: 'fcgid', level: 'warn', message: `mod_fcgid: stderr: ${capLogLine(line)}` });
}

const NO_BODY = Buffer.alloc(0);

export function runFcgid(c: FcgidContext): void {
  const { req, res, decision: d } = c;
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  const length = req.headers['content-length'];
  if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) {
    dispatch(c, NO_BODY, base);
    return;
  }
  // mod_fcgid reads the whole body before it takes a process (add_request_body): up to
  // FcgidMaxRequestInMem in memory, the rest in a temporary file.
  const spool = new RequestBodySpool(c.site.fcgiLimits.maxRequestInMem);
  let tooLong = false;
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    if (tooLong) return;
    size += chunk.length;
    if (size > c.site.fcgiLimits.maxRequestLen) {
      tooLong = true;
      spool.discard();
      return;
    }
    if (!spool.push(chunk, () => req.resume())) req.pause();
  });
  let ended = false;
  const bodyEnded = (): void => {
    if (ended) return;
    ended = true;
    if (tooLong) {
      c.log({
        module: 'fcgid',
        level: 'warn',
        message: `mod_fcgid: HTTP request length ${size} (so far) exceeds MaxRequestLen (${c.site.fcgiLimits.maxRequestLen})`,
        code: 'HT504',
      });
      c.fail(500);
      return;
    }
    spool.finish((err, body) => {
      if (err) {
        c.log({ module: 'fcgid', level: 'error', message: `mod_fcgid: can't write the request body to a temporary file: ${err.message}` });
        c.fail(500);
        return;
      }
      if (res.destroyed) {
        if (isSpooled(body)) body.close();
        return;
      }
      dispatch(c, body, base);
    });
  };
  req.on('end', bodyEnded);
  req.on('error', () => {
    spool.discard();
    c.sink.abort();
  });
  // The body fails on the way (Node's parser reports it on the connection, so the request never
  // ends here). Cut short, add_request_body's read fails and the answer is 500; badly chunked,
  // Apache's mod_fcgid 2.3.9 runs the application with the body read so far and its answer goes
  // out (both seen on the Debian host, test/hostile-corpus.test.ts's *-fcgi cases).
  const take = (failure: BodyFailure): boolean => {
    if (c.sink.headSent) return false;
    if (failure.kind === 'bad-chunk') {
      c.log({ module: 'fcgid', level: 'info', message: `mod_fcgid: the request body ends early (${failure.reason}); the application gets what was read` });
      bodyEnded();
      return true;
    }
    spool.discard();
    c.log({ module: 'fcgid', level: 'warn', message: `mod_fcgid: can't get data from http client (${failure.reason})` });
    c.fail(500);
    return true;
  };
  const failed = watchBodyFailure(req, take);
  if (failed) {
    answeredBodyFailure(req);
    take(failed);
  }
}

/** Where a responder's FastCGI parameters and process class come from (a sub-request has no `res`). */
export type ResponderSource = Pick<FcgidContext, 'site' | 'req' | 'facts' | 'decision' | 'redirectEnv'>;

/** The FastCGI PARAMS of a responder request with a body of `length` bytes. */
export function responderEnvironment(c: ResponderSource, length: number, editHeaders?: (fields: [string, string][]) => [string, string][]): Record<string, string> {
  const env = requestEnvironment(c, editHeaders ? { omit: DROPPED, editHeaders } : { omit: DROPPED });
  env.HTTP_CONNECTION = 'close';
  // mod_fcgid always sends CONTENT_LENGTH (the de-chunked length), 0 for a GET.
  env.CONTENT_LENGTH = String(length);
  // FcgidPassHeader X: the raw header as X (name as written) and as HTTP_X.
  for (const name of c.site.fcgiPassHeaders) {
    const v = c.req.headers[name.toLowerCase()];
    const value = Array.isArray(v) ? v.join(', ') : v;
    if (value === undefined) continue;
    // ap_create_environment turns every other character of a name into '_' (X-Token → X_Token).
    env[name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^\d/, '_')] = value;
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  }
  return env;
}

/** The process class that runs the script (its FcgidWrapper's, or its own). */
function responderApp(c: ResponderSource): BuiltApp {
  const d = c.decision;
  const cfg = dirConfigOf(d.config);
  const wrapper = fcgidWrapperFor(cfg, d.path);
  const multiplex = cfg.fcgidMultiplex === true;
  // A script's class, remembered by its file's entry (kept until the file changes), so that no
  // key string is built per request.
  let app = !wrapper && d.entry ? appByEntry.get(d.entry) : undefined;
  if (!app || app.label !== d.path || (app.multiplex === true) !== multiplex || app.initialEnv !== c.site.fcgiInitialEnv) {
    const st = d.entry ?? { dev: 0, ino: 0 };
    const program = wrapper ? wrapper.argv[0]! : d.path;
    app = fcgiApp(c, {
      // A wrapper's processes are one class per command line (all .php files share php-cgi).
      classKey: wrapper ? `wrapper:${wrapper.argv.join(' ')}` : `${st.dev}:${st.ino}:${d.path}`,
      program,
      args: wrapper ? wrapper.argv.slice(1) : [],
      label: d.path,
      // A wrapper's class runs many scripts: an edit to one of them is not stale code.
      ...(d.entry && !wrapper ? { version: `${d.entry.mtimeUs}:${d.entry.size}` } : {}),
      ...(multiplex ? { multiplex: true, ioTimeoutMs: c.site.fcgiLimits.ioTimeoutMs } : {}),
    });
    if (!wrapper && d.entry) appByEntry.set(d.entry, app);
  }
  return app;
}

function dispatch(c: FcgidContext, body: RequestBody, base: string): void {
  const { res, sink, decision: d } = c;
  const env = responderEnvironment(c, isSpooled(body) ? body.size : body.length);
  const closeBody = (): void => {
    if (isSpooled(body)) body.close();
  };
  const app = responderApp(c);
  acquireThen(
    c.site.fcgiPool,
    app,
    (lease) => {
      const rec = recordOf(c.res);
      if (rec) rec.pid = lease.pid;
      if (res.destroyed) {
        // The client left while the request waited for a process: nothing to send it.
        lease.release(true);
        closeBody();
        return;
      }
      const parser = new CgiHeaderParser({ foldContinuations: true });
      /** The client went away (its request was aborted). */
      let clientGone = false;
      let headersDone = false;
      let streaming = true;
      let flushed = false;
      let headers: CgiHeaders | undefined;
      const held: Buffer[] = [];
      let heldBytes = 0;
      const flush = (ended = false): void => {
        flushed = true;
        if (startResponse(c, headers!, env, { module: 'fcgid', keepContentLength: true, emptyBody: ended && heldBytes === 0 }) === 'discard') {
          streaming = false;
          return;
        }
        for (const b of held) sink.data(b);
        held.length = 0;
      };
      let retried = false;
      let abort: () => void = () => undefined;
      const send = (fresh: boolean): void => {
        const ioTimeoutMs = app.limits?.ioTimeoutMs ?? c.site.fcgiLimits.ioTimeoutMs;
        abort = lease.mux
          ? lease.mux.request(env, body, ioTimeoutMs, exchange)
          : lease.connection(fresh || !c.site.fcgiKeepConn).request(env, body, ioTimeoutMs, exchange, c.site.fcgiKeepConn);
      };
      const exchange: FcgiExchange = bindExchange({
        stdout: (chunk) => {
          if (flushed) {
            if (streaming) sink.data(chunk);
            return;
          }
          if (headersDone) {
            held.push(chunk);
            heldBytes += chunk.length;
            if (heldBytes > c.site.fcgiLimits.outputBufferSize) flush();
            return;
          }
          const ev = parser.push(chunk);
          if (ev.kind === 'more') return;
          headersDone = true;
          if (ev.kind === 'error') {
            streaming = false;
            flushed = true;
            c.log({ module: 'core', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
            c.fail(500);
            return;
          }
          headers = ev.headers;
          if (ev.rest.length) {
            held.push(ev.rest);
            heldBytes += ev.rest.length;
          }
          if (heldBytes > c.site.fcgiLimits.outputBufferSize) flush();
        },
        stderr: (text) => logStderrLines(c, text),
        end: () => {
          lease.release(true);
          closeBody();
          if (clientGone) return;
          // Head, held body and the last chunk leave in one write: the end uncorks.
          sink.cork();
          if (headersDone && !flushed) flush(true);
          if (!headersDone) {
            const ev = parser.end();
            if (ev.kind === 'error') {
              c.log({ module: 'core', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
              c.fail(500);
              return;
            }
          }
          if (streaming) sink.end();
        },
        error: (message, retryable) => {
          if (clientGone) {
            lease.release(false);
            closeBody();
            return;
          }
          if (retryable && !retried && !lease.mux) {
            // The app closed its kept connection after the last request (e.g. ruby-fcgi
            // ignores FCGI_KEEP_CONN): send the request again on a new one.
            retried = true;
            send(true);
            return;
          }
          lease.release(false);
          closeBody();
          c.log({ module: 'fcgid', level: 'warn', message });
          if (!flushed) {
            // mod_fcgid holds the first 64 KiB: a failure before it went out is a clean 500.
            streaming = false;
            flushed = true;
            const ev = headersDone ? undefined : parser.end();
            const text = headersDone
              ? 'mod_fcgid: ap_pass_brigade failed in handle_request_ipc function'
              : ev && ev.kind === 'error'
                ? cgiHeaderErrorMessage(ev.error, base)
                : `Premature end of script headers: ${base}`;
            void lease.exited().then(({ output }) => {
              const looksLikeCgi = /content-type:/i.test(output);
              c.log({
                module: 'core',
                level: 'error',
                message: text,
                code: ev && ev.kind === 'error' ? cgiHeaderErrorCode(ev.error) : 'HT501',
                ...(looksLikeCgi
                  ? {
                      explain: `${d.path} is mapped to fcgid-script but did not accept a FastCGI connection: it printed a CGI response to stdout instead. Use a FastCGI library (e.g. Perl FCGI, Ruby fcgi, flup) or map the file to cgi-script.`,
                    }
                  : {}),
              });
            });
            c.fail(500);
          } else if (streaming) {
            sink.abort();
          }
        },
      });
      send(false);
      res.on('close', () => {
        if (res.writableFinished) return;
        clientGone = true;
        // The client went away. mod_fcgid closes the connection and releases the process; a
        // multiplexed request is aborted (FCGI_ABORT_REQUEST) and ends when the app confirms.
        abort();
        if (lease.mux) return;
        lease.release(true);
        closeBody();
      });
    },
    (err: Error & { code?: string }) => {
      closeBody();
      if (err.code === 'EXEC') {
        // The host forks, the exec fails, and the connection is reset: a 500.
        c.log({ module: 'fcgid', level: 'warn', message: '(104)Connection reset by peer: mod_fcgid: error reading data from FastCGI server' });
        c.log({ module: 'core', level: 'error', message: `End of script output before headers: ${base}`, explain: err.message, code: 'HT400' });
        c.fail(500);
        return;
      }
      c.log({ module: 'fcgid', level: 'warn', message: `mod_fcgid: ${err.message}`, ...(err.code === 'NO_SLOT' ? { code: 'HT503' as const } : {}) });
      c.fail(err.code === 'NO_SLOT' ? 503 : 500);
    },
  );
}

/**
 * A GET sub-request to a responder whose output goes into another answer (a listing's
 * HeaderName): its header fields and body, or undefined when it gave no valid headers or could
 * not be reached (ap_run_sub_req failed).
 */
export function responderOutput(
  c: ResponderSource & Pick<FcgidContext, 'log'>,
  env: Record<string, string>,
  maxBytes: number,
): Promise<{ fields: [string, string][]; body: Buffer } | undefined> {
  const base = c.decision.path.slice(c.decision.path.lastIndexOf('/') + 1);
  const app = responderApp(c);
  return new Promise((resolve) => {
    acquireThen(
      c.site.fcgiPool,
      app,
      (lease) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let retried = false;
        const ioTimeoutMs = app.limits?.ioTimeoutMs ?? c.site.fcgiLimits.ioTimeoutMs;
        const send = (fresh: boolean): void => {
          if (lease.mux) lease.mux.request(env, NO_BODY, ioTimeoutMs, exchange);
          else lease.connection(fresh || !c.site.fcgiKeepConn).request(env, NO_BODY, ioTimeoutMs, exchange, c.site.fcgiKeepConn);
        };
        const exchange: FcgiExchange = bindExchange({
          stdout: (chunk) => {
            if (size >= maxBytes) return;
            chunks.push(chunk);
            size += chunk.length;
          },
          stderr: (text) => logStderrLines(c, text),
          end: () => {
            lease.release(true);
            const parser = new CgiHeaderParser({ foldContinuations: true });
            let ev = parser.push(Buffer.concat(chunks));
            if (ev.kind === 'more') ev = parser.end();
            if (ev.kind === 'error') {
              c.log({ module: 'core', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
              resolve(undefined);
              return;
            }
            resolve(ev.kind === 'headers' ? { fields: ev.headers.fields, body: ev.rest } : { fields: [], body: NO_BODY });
          },
          error: (message, retryable) => {
            if (retryable && !retried && !lease.mux) {
              retried = true;
              chunks.length = 0;
              size = 0;
              send(true);
              return;
            }
            lease.release(false);
            c.log({ module: 'fcgid', level: 'warn', message });
            resolve(undefined);
          },
        });
        send(false);
      },
      (err: Error & { code?: string }) => {
        c.log({ module: 'fcgid', level: 'warn', message: `mod_fcgid: ${err.message}` });
        resolve(undefined);
      },
    );
  });
}

/**
 * mod_fcgid's access checker, authenticator or authorizer (`mod_fcgid_check_auth`): the
 * program gets the request's CGI variables minus CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED
 * and SCRIPT_NAME, plus FCGI_APACHE_ROLE (and REMOTE_PASSWD for an authenticator), in the
 * FastCGI Authorizer role with no STDIN; its status and header fields decide.
 */
export function runFcgidAuthorizer(
  c: Omit<FcgidContext, 'decision' | 'fail' | 'redirect'>,
  d: Extract<Decision, { kind: 'fcgi-auth' }>,
  done: (outcome: FcgidAuthOutcome) => void,
): void {
  const asHandler: Extract<Decision, { kind: 'handler' }> = {
    kind: 'handler',
    handler: 'fcgid-script',
    path: d.path,
    uri: d.uri,
    pathInfo: d.pathInfo,
    config: d.config,
    entry: d.entry,
    env: d.env,
    ...(d.user ? { user: d.user } : {}),
  };
  const env = requestEnvironment({ ...c, decision: asHandler }, { omit: DROPPED });
  for (const k of ['CONTENT_LENGTH', 'PATH_INFO', 'PATH_TRANSLATED', 'SCRIPT_NAME']) delete env[k];
  env.HTTP_CONNECTION = 'close';
  env.FCGI_APACHE_ROLE = d.role;
  if (d.password !== undefined) env.REMOTE_PASSWD = d.password;
  const program = d.program;
  let st: { dev: number; ino: number };
  try {
    st = statSync(osPath(program));
  } catch {
    c.log({
      module: 'fcgid',
      level: 'error',
      message: `mod_fcgid: can't get ${program} file info`,
      explain: `${FCGID_AUTH_NAMES[d.role].directive} names ${program}, which does not exist: give the program's absolute path.`,
    });
    done({ ran: false, status: 500 });
    return;
  }
  const app = fcgiApp(c, { classKey: `${st.dev}:${st.ino}:${program}`, program, args: [], label: program });
  const base = program.slice(program.lastIndexOf('/') + 1);
  acquireThen(
    c.site.fcgiPool,
    app,
    (lease) => {
      const parser = new CgiHeaderParser({ foldContinuations: true });
      let headers: CgiHeaders | undefined;
      let failed = false;
      let retried = false;
      const send = (fresh: boolean): void => {
        lease.connection(fresh || !c.site.fcgiKeepConn).request(env, undefined, c.site.fcgiLimits.ioTimeoutMs, exchange, c.site.fcgiKeepConn, Role.AUTHORIZER);
      };
      const exchange: FcgiExchange = bindExchange({
        stdout: (chunk) => {
          if (headers || failed) return; // the body of an authorizer's answer is ignored
          const ev = parser.push(chunk);
          if (ev.kind === 'more') return;
          if (ev.kind === 'error') {
            failed = true;
            c.log({ module: 'core', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
            return;
          }
          headers = ev.headers;
        },
        stderr: (text) => logStderrLines(c, text),
        end: () => {
          lease.release(true);
          if (!headers && !failed) {
            const ev = parser.end();
            if (ev.kind === 'headers') headers = ev.headers;
            else if (ev.kind === 'error') c.log({ module: 'core', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
          }
          if (!headers) {
            done({ ran: false, status: 500 });
            return;
          }
          let status = 200;
          let location: string | undefined;
          const fields: [string, string][] = [];
          for (const [name, value] of headers.fields) {
            const key = name.toLowerCase();
            // r->status is atoi of the field (what goes out for it is decided when it is sent).
            if (key === 'status') status = scriptStatus(value).code;
            else if (key === 'location') location = value;
            else if (key !== 'content-type' && key !== 'content-length' && key !== 'transfer-encoding') fields.push([name, value]);
          }
          // A Location without Status is a redirect (ap_scan_script_header_err sets 302).
          if (location !== undefined && !headers.fields.some(([n]) => n.toLowerCase() === 'status')) status = 302;
          done({ ran: true, status, headers: fields, ...(location !== undefined ? { location } : {}) });
        },
        error: (message, retryable) => {
          if (retryable && !retried) {
            retried = true;
            send(true);
            return;
          }
          lease.release(false);
          c.log({ module: 'fcgid', level: 'warn', message });
          done({ ran: false, status: 500 });
        },
      });
      send(false);
    },
    (err: Error) => {
      c.log({ module: 'fcgid', level: 'warn', message: `mod_fcgid: ${err.message}` });
      done({ ran: false, status: 500 });
    },
  );
}
