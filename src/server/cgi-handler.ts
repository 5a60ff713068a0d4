/**
 * The `cgi-script` handler (mod_cgid's behaviour): runs the script once per request, streams
 * the body in and the output out, and turns the script's headers into the response as
 * `cgi_handle_response` does (Status, Location → internal redirect or 302, header merging).
 */
import { checkHostField, serverPortOf } from '../engine/host-field.js';
import { answeredBodyFailure, watchBodyFailure } from './body-failure.js';
import { journalCounters, recordOf } from './request-journal.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { checkExecutable, childLimits, type CgiProcess, killGroup, runsThroughPhpCgi, spawnCgi } from '../adapters/cgi-process.js';
import {
  CgiHeaderParser,
  cgiHeaderErrorCode,
  cgiHeaderErrorMessage,
  escapeLogText,
  invalidResponseField,
  scriptStatus,
  type CgiHeaders,
  type ScriptStatus,
} from '../grammar/cgi-response.js';
import { asciiLower } from '../grammar/byte-strings.js';
import { cannedErrorPage } from '../grammar/error-pages.js';
import { BoundedLineSplitter } from '../grammar/log-lines.js';
import { holdWhileErrorLogBehind } from '../vocabulary/error-log-backlog.js';
import { buildCgiEnvironment, DEBIAN_APACHE_PATH, suexecFilter } from '../engine/cgi-environment.js';
import { requestExprFacts, type Decision, type LogEvent, type RequestFacts } from '../engine/resolve.js';
import type { ExprFacts } from '../grammar/ap-expr.js';
import { dirConfigOf } from '../engine/config-ref.js';
import type { DirConfig } from '../engine/dir-config.js';
import type { ResponseSink } from './response-sink.js';
import { applyRequestHeaderLines } from '../modules/headers.js';
import type { SiteContext } from './site-context.js';

/** The PHP CGI binary the Scripts host uses for `.php`. */
export const PHP_CGI = '/usr/bin/php-cgi';

export interface CgiContext {
  site: SiteContext;
  req: IncomingMessage;
  /** The response, for its lifecycle (close, drain); the answer itself goes through `sink`. */
  res: ServerResponse;
  /** Where the answer goes: status, fields and body. */
  sink: ResponseSink;
  facts: RequestFacts;
  decision: Extract<Decision, { kind: 'handler' }>;
  log: (e: LogEvent) => void;
  /** Sends an error response (Apache's page) for a status. */
  fail: (status: number) => void;
  /** Internal redirect to a local URL (CGI `Location: /path`), as GET; `env` is the script's environment. */
  redirect: (location: string, env: Map<string, string>) => void;
  /** REDIRECT_* variables when this request is itself an internal redirect. */
  redirectEnv?: ReadonlyMap<string, string> | undefined;
  /** The previous request's full URL after an internal redirect (REDIRECT_URL under QualifyRedirectURL On). */
  previousUrl?: string | undefined;
}

/** The request's header fields in order, a repeated name's values joined with ", " (as APR's table merge). */
export function mergedHeaders(req: Pick<IncomingMessage, 'rawHeaders'>, dropBodyFraming: boolean): [string, string][] {
  const raw = req.rawHeaders;
  const out: [string, string][] = [];
  /**
   * Lower-cased names. A short list (most requests) is searched instead: a Map costs more than
   * a few comparisons; a long one gets the Map at once, so a hostile request stays linear.
   */
  let byName: Map<string, [string, string]> | undefined = raw.length > 32 ? new Map() : undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const key = name.toLowerCase();
    // After an ErrorDocument or a script's Location redirect the request is a GET without a body.
    if (dropBodyFraming && (key === 'content-length' || key === 'transfer-encoding')) continue;
    if (byName === undefined) {
      if (!out.some(([n]) => n.length === key.length && n.toLowerCase() === key)) {
        out.push([name, value]);
        continue;
      }
      byName = new Map(out.map((e) => [e[0].toLowerCase(), e]));
    }
    const e = byName.get(key);
    if (e) e[1] = `${e[1]}, ${value}`;
    else {
      const fresh: [string, string] = [name, value];
      byName.set(key, fresh);
      out.push(fresh);
    }
  }
  return out;
}

const NO_VARIABLES: ReadonlyMap<string, string> = new Map();

/**
 * The CGI/1.1 environment of this request (the FastCGI PARAMS are the same variables); `omit`:
 * variables the module removes from the table (mod_fcgid's HTTP_KEEP_ALIVE, HTTP_TE, …).
 */
export function requestEnvironment(
  c: Pick<CgiContext, 'site' | 'req' | 'facts' | 'decision' | 'redirectEnv' | 'previousUrl'>,
  opts: {
    createEnvironment?: boolean;
    omit?: ReadonlySet<string>;
    /** A sub-request's header fields, made from the request's (before its RequestHeader lines). */
    editHeaders?: (fields: [string, string][]) => [string, string][];
  } = {},
): Record<string, string> {
  const { site, req, facts, decision: d } = c;
  const hostHeader = req.headers.host ?? site.serverName;
  // fix_hostname's r->hostname (lower-cased, no trailing dot) and ap_get_server_port: the
  // Host field's port, else ServerName's, else the scheme's default (UseCanonicalName Off).
  const host = checkHostField(hostHeader);
  const portMatch = host.ok ? null : /:(\d+)$/.exec(hostHeader);
  const bare = host.ok ? host.name : portMatch ? hostHeader.slice(0, portMatch.index) : hostHeader;
  const serverName = bare.startsWith('[') || bare.endsWith(']') ? bare.replace(/^\[|\]$/g, '') : bare;
  const serverPort = serverPortOf(host.ok ? host.port : undefined, site.serverName, facts.tls !== undefined);
  const scriptName = d.pathInfo && d.uri.endsWith(d.pathInfo) ? d.uri.slice(0, d.uri.length - d.pathInfo.length) : d.uri;
  // Paths are byte strings (adapters/byte-paths.ts), as the request's own values.
  const docRoot = d.documentRoot ?? site.documentRoot;
  const cfg = dirConfigOf(d.config);
  // ap_die's ErrorDocument redirect and a script's local Location (cgi_handler) make the request
  // a GET without Content-Length; mod_rewrite's internal redirect (a front controller) keeps the
  // request's method, body and Content-Length.
  const errorRedirect = Number(c.redirectEnv?.get('REDIRECT_STATUS') ?? '200') >= 400;
  const dropBodyFraming = c.redirectEnv !== undefined && (errorRedirect || facts.method !== req.method);
  const localAddress = facts.serverAddr ?? req.socket.localAddress ?? '127.0.0.1';
  // One literal of one shape (no conditional spreads): this runs for every script request.
  return buildCgiEnvironment({
    // An ErrorDocument's script runs as a GET, even for a HEAD (whose body is still dropped).
    method: errorRedirect ? 'GET' : facts.method,
    // CGIVar REQUEST_URI current-uri: r->uri, the path this request maps (after a rewrite), no query.
    requestUri: cfg.requestUriCurrent ? d.uri : (req.url ?? '/'),
    query: facts.query,
    scriptName,
    pathInfo: d.pathInfo,
    pathTranslated: d.pathInfo ? docRoot + d.pathInfo : undefined,
    scriptFilename: d.path,
    documentRoot: docRoot,
    contextPrefix: d.contextPrefix ?? '',
    contextDocumentRoot: docRoot,
    headers: requestFields(mergedHeaders(req, dropBodyFraming), opts.editHeaders, cfg.requestHeaders, d.env, () =>
      requestExprFacts(site, facts, d.uri, d.path, d.pathInfo, d.env, d.user),
    ),
    remoteAddr: facts.remoteAddr,
    remotePort: facts.remotePort ?? req.socket.remotePort ?? 0,
    serverAddr: localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress,
    serverPort,
    serverName,
    serverAdmin: site.serverAdmin,
    serverSoftware: 'Apache',
    serverSignature: '',
    protocol: `HTTP/${req.httpVersion}`,
    extra: d.env ?? NO_VARIABLES,
    passAuth: cfg.cgiPassAuth,
    remoteUser: d.user?.name,
    remoteHost: d.remoteHost,
    authType: d.user?.authType,
    path: DEBIAN_APACHE_PATH,
    redirect:
      cfg.qualifyRedirectUrl && c.previousUrl !== undefined && c.redirectEnv?.has('REDIRECT_URL') ? new Map([...c.redirectEnv, ['REDIRECT_URL', c.previousUrl]]) : c.redirectEnv,
    tls: facts.tls,
    createEnvironment: opts.createEnvironment,
    omit: opts.omit,
  });
}

/** The fields a script sees: the request's (or a sub-request's, made from them), then the RequestHeader lines. */
function requestFields(
  fields: [string, string][],
  edit: ((fields: [string, string][]) => [string, string][]) | undefined,
  lines: DirConfig['requestHeaders'],
  env: ReadonlyMap<string, string> | undefined,
  /** What an `expr=` condition or value, `%{…}s` and `%t` read (made only when a line needs it). */
  exprFacts: () => ExprFacts,
): [string, string][] {
  const own = edit ? edit(fields) : fields;
  return lines.length ? applyRequestHeaderLines(own, lines, env ?? NO_VARIABLES, exprFacts) : own;
}

/**
 * Starts `d`'s script as mod_cgid does, with its environment `env` (the suexec filter, PHPRC for
 * php-cgi, RLimit*), and logs its exec failure and its stderr. For a request and for a listing's
 * header script (a sub-request) alike.
 */
export function startCgiScript(site: SiteContext, d: Extract<Decision, { kind: 'handler' }>, env: Record<string, string>, log: (e: LogEvent) => void): CgiProcess {
  const viaPhp = runsThroughPhpCgi(d.path, site.suexec);
  const finalEnv = site.suexec ? suexecFilter(env) : env;
  if (viaPhp) finalEnv.PHPRC = dirname(d.path);
  // mod_cgid hands RLimitCPU/MEM/NPROC to the child (setrlimit before exec).
  const { limits, warnings } = childLimits(dirConfigOf(d.config).rlimits);
  for (const message of warnings) log({ module: 'core', level: 'error', message });
  const run = { cwd: dirname(d.path), env: finalEnv, limits, groups: site.processGroups };
  // Debian's php-cgi refuses to run without REDIRECT_STATUS (cgi.force_redirect); the host's does run.
  const child = viaPhp ? spawnCgi({ program: PHP_CGI, args: ['-d', 'cgi.force_redirect=0', '-f', d.path], ...run }) : spawnCgi({ program: d.path, args: [], ...run });
  child.onError((err) => {
    log({ module: 'cgid', level: 'error', message: `(${(err as NodeJS.ErrnoException).errno ?? 0})${err.message}: AH01241: exec of '${d.path}' failed`, code: 'HT400' });
  });
  // mod_cgid writes a script's stderr to the error log as it is, line by line; a line is cut at
  // Apache's MAX_STRING_LEN so that a script without newlines cannot fill our memory. When the
  // log falls behind, the script's stderr waits (in Apache its write blocks on the log's).
  const stderrLines = new BoundedLineSplitter();
  const logStderr = (message: string): void => log({ module: 'cgid', level: 'error', message });
  child.stderr.on('data', (chunk: Buffer) => {
    stderrLines.push(chunk, logStderr);
    holdWhileErrorLogBehind(child.stderr);
  });
  child.stderr.on('end', () => stderrLines.end(logStderr));
  return child;
}

/** Runs one CGI request. */
export function runCgi(c: CgiContext): void {
  const { site, req, res, sink, decision: d } = c;
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  const viaPhp = runsThroughPhpCgi(d.path, site.suexec);
  const problem = viaPhp ? undefined : checkExecutable(d.path);
  if (problem) {
    c.log({ module: 'cgid', level: 'error', message: problem.message });
    c.log({ module: 'cgid', level: 'error', message: `End of script output before headers: ${base}`, explain: problem.explain, code: 'HT400' });
    req.resume();
    c.fail(500);
    return;
  }
  const limit = dirConfigOf(d.config).limitRequestBody;
  const declared = Number(req.headers['content-length'] ?? '0');
  if (limit > 0 && declared > limit) {
    c.log({ module: 'core', level: 'error', message: `Requested content-length of ${declared} is larger than the configured limit of ${limit}`, code: 'HT504' });
    req.resume();
    c.fail(413);
    return;
  }
  // cgid_handler reads the whole body before the script's output: a body that already failed
  // (bad chunks, cut short) is answered with its status and no script runs.
  const failedBody = watchBodyFailure(req, () => false);
  if (failedBody) {
    c.log({ module: 'cgid', level: 'error', message: `AH01270: Error reading request entity data (${failedBody.reason})` });
    answeredBodyFailure(req);
    c.fail(failedBody.status);
    return;
  }
  const env = requestEnvironment(c);
  const child = startCgiScript(site, d, env, c.log);
  journalCounters.cgiSpawns++;
  const rec = recordOf(c.res);
  if (rec && child.pid) rec.pid = child.pid;
  const parser = new CgiHeaderParser();
  let headersDone = false;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = site.timeoutMs;
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      // mod_cgid reads the script's output only once the body is sent: while the client is
      // still sending it (nothing waits in our buffer), the client's read Timeout applies
      // (the server's watchdog answers 408), not the script's.
      if (!headersDone && !req.complete && !req.destroyed && req.readableLength === 0) {
        arm();
        return;
      }
      killGroup(child.pid);
      if (!headersDone) {
        c.log({ module: 'cgid', level: 'error', message: `Script timed out before returning headers: ${base}`, code: 'HT502' });
        finish();
        c.fail(504);
      } else {
        c.log({ module: 'cgid', level: 'warn', message: `AH01220: Timeout waiting for output from CGI script ${d.path}` });
        finish();
        sink.end();
      }
    }, timeoutMs);
    timer.unref();
  };
  const finish = (): void => {
    finished = true;
    if (timer) clearTimeout(timer);
  };
  arm();
  // A client that goes away takes the script's whole process group with it.
  res.on('close', () => {
    if (!res.writableFinished) killGroup(child.pid);
    finish();
    child.endOfRequest(() => c.log({ module: 'cgid', level: 'error', message: `AH01259: CGI process ${child.pid} didn't exit, sending SIGKILL` }));
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => {
    /* the script stopped reading: Apache discards the rest of the body */
  });
  // A body cut short (the client half-closed or left) or badly chunked errors the request
  // stream, and pipe() then unpipes without ending stdin: close it here, so the script reads
  // EOF (as mod_cgid's script sees its input end when the body read fails) and the pipe's fd
  // is released rather than held for the life of the server.
  req.once('close', () => {
    if (!req.complete) child.stdin.destroy();
  });
  // Once the answer is over nothing more goes to the script (Apache discards the rest).
  res.once('close', () => child.stdin.destroy());
  // The body fails while the script runs: before its headers, the failure is the answer (as
  // cgid_handler's body loop returns it) and the script is ended; after them, too late.
  watchBodyFailure(req, (failure) => {
    if (headersDone || finished) return false;
    c.log({ module: 'cgid', level: 'error', message: `AH01270: Error reading request entity data (${failure.reason})` });
    finish();
    child.stdin.destroy();
    killGroup(child.pid);
    c.fail(failure.status);
    return true;
  });
  if (base.startsWith('nph-')) {
    // Non-parsed headers: the script's output is the whole HTTP response, sent as it is.
    const socket = req.socket;
    child.stdout.on('data', (chunk: Buffer) => {
      arm();
      headersDone = true;
      if (!socket.write(chunk)) {
        child.stdout.pause();
        socket.once('drain', () => child.stdout.resume());
      }
    });
    child.stdout.on('end', () => {
      finish();
      socket.end();
    });
    return;
  }
  child.stdout.on('data', (chunk: Buffer) => {
    if (finished) return;
    arm();
    if (headersDone) {
      if (!sink.data(chunk)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
      return;
    }
    const ev = parser.push(chunk);
    if (ev.kind === 'more') return;
    headersDone = true;
    if (ev.kind === 'error') {
      c.log({ module: 'cgid', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
      finish();
      killGroup(child.pid);
      c.fail(500);
      return;
    }
    const outcome = startResponse(c, ev.headers, env);
    if (outcome === 'discard') {
      finish();
      child.stdout.resume();
      return;
    }
    if (ev.rest.length) sink.data(ev.rest);
  });
  child.stdout.on('end', () => {
    if (finished) return;
    if (!headersDone) {
      const ev = parser.end();
      headersDone = true;
      if (ev.kind === 'error') {
        c.log({ module: 'cgid', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
        finish();
        c.fail(500);
        return;
      }
    }
    finish();
    sink.end();
  });
}

/** `cgi_handle_response`: status and headers from the script; 'discard' when Apache drops the body. */
export function startResponse(
  c: CgiContext,
  headers: CgiHeaders,
  env: Record<string, string>,
  opts: {
    /** mod_proxy_fcgi passes Location on with the script's status: no internal redirect, no 302. */
    locationRedirects?: boolean;
    /** The module whose name tags the log lines (cgid, fcgid, proxy_fcgi). */
    module?: string;
    /**
     * mod_fcgid: the application's Content-Length goes out as written (its body arrives in
     * pieces, so the content-length filter computes none and keeps the app's field).
     */
    keepContentLength?: boolean;
    /** The whole body is known, and empty (the application ended before writing any). */
    emptyBody?: boolean;
  } = {},
): 'stream' | 'discard' {
  const module = opts.module ?? 'cgid';
  const base = c.decision.path.slice(c.decision.path.lastIndexOf('/') + 1);
  // A failing non-authoritative mod_fcgid program's status stays the request's (r->status).
  let status = c.decision.statusOverride ?? 200;
  let statusLine: ScriptStatus | undefined;
  let location: string | undefined;
  const out: [string, string][] = [];
  for (const [name, value] of headers.fields) {
    const key = name.toLowerCase();
    if (key === 'status') {
      statusLine = scriptStatus(value);
      status = statusLine.code;
      if (statusLine.invalid) {
        c.log({
          module,
          level: 'error',
          message: `Invalid status line from script '${base}': ${escapeLogText(value.slice(0, 30))}`,
          explain: `${c.decision.path} printed "Status: ${escapeLogText(value)}": a Status field is a code from 100 to 599 and a reason phrase, e.g. "Status: 404 Not Found".`,
        });
      }
    } else if (key === 'location') {
      location = value;
      out.push(['Location', value]);
    } else if (key === 'content-type') {
      const semi = value.indexOf(';');
      const v = value.replace(/\s+$/, '');
      out.push(['Content-Type', c.sink.handlerContentType(semi === -1 ? asciiLower(v) : asciiLower(v.slice(0, semi)) + v.slice(semi), dirConfigOf(c.decision.config))]);
    } else if (key === 'content-length' && opts.keepContentLength) {
      // apr_table_set: the last one written is the one kept, as written: one that is not a
      // length, or not the body's, goes out too (the client cannot read that answer, on the
      // host either; the connection is the client's to give up).
      const at = out.findIndex(([n]) => n === 'Content-Length');
      if (at !== -1) out.splice(at, 1);
      out.push(['Content-Length', value]);
    } else if (key === 'content-length' || key === 'transfer-encoding') {
      // Apache frames the body itself (2.4.59+ drops a script's Content-Length).
    } else {
      out.push([name, value]);
    }
  }
  const length = opts.keepContentLength ? out.findIndex(([n]) => n === 'Content-Length') : -1;
  if (length !== -1) {
    // ap_content_length_filter counts a body it sees whole before passing any of it: only an
    // empty one here (mod_fcgid passes the first bytes on before the end), and not for a HEAD
    // whose application gave a length. ap_http_header_filter then drops a HEAD answer's 0.
    if (opts.emptyBody && !c.sink.headOnly) out[length] = ['Content-Length', '0'];
    else if (c.sink.headOnly && out[length]![1] === '0') out.splice(length, 1);
  }
  // No Content-Type: the type mod_mime gave the script's own file stays the answer's (x.html.cgi
  // is text/html, app.rb application/x-ruby; a plain .cgi has none).
  if (c.decision.contentType !== undefined && !out.some(([n]) => n === 'Content-Type'))
    out.push(['Content-Type', c.sink.handlerContentType(c.decision.contentType, dirConfigOf(c.decision.config))]);
  c.sink.scriptVariables = env;
  const verdict = c.sink.scriptConditions(c.decision, out, statusLine === undefined);
  // cgi_handle_response: a local Location with status 200 (no Status line, or `Status: 200`)
  // is an internal redirect, an absolute one Apache's own 302; mod_proxy_fcgi does neither.
  const redirectTo = (opts.locationRedirects ?? true) && verdict === undefined && status === 200 ? location : undefined;
  if (redirectTo?.startsWith('/')) {
    c.redirect(redirectTo, new Map(Object.entries(env)));
    return 'discard';
  }
  // The core output filter refuses a field Node could not send either (check_headers): a 500.
  for (const [name, value] of out) {
    const problem = invalidResponseField(name, value);
    if (problem === undefined) continue;
    c.log({
      module: 'http',
      level: 'error',
      message: problem,
      explain: `${c.decision.path} printed a header field with a byte HTTP does not allow (a control byte, or a name that is not a token): remove it, or percent-encode what the script copies into headers.`,
    });
    c.fail(500);
    return 'discard';
  }
  if (redirectTo !== undefined) {
    const location = redirectTo;
    // Bytes as the script sent them (latin1): a string body would go out as UTF-8, and with it the head.
    const page = Buffer.from(cannedErrorPage(302, { method: c.facts.method, location, serverAdmin: c.site.serverAdmin, signature: '' }), 'latin1');
    c.sink.scriptlessHeaders(c.decision);
    // An empty Location gives the 302 page without the field (as Apache answers `Location: `).
    const head: Record<string, string> = { 'Content-Type': 'text/html; charset=iso-8859-1' };
    c.sink.whole(302, location === '' ? head : { Location: location, ...head }, page);
    return 'discard';
  }
  const answer = c.sink.scriptAnswer(c.decision, out, status, statusLine, verdict, module === 'proxy_fcgi');
  if (answer !== 'precondition-failed') return answer;
  c.fail(412);
  return 'discard';
}
