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
import { checkExecutable, childLimits, killGroup, runsThroughPhpCgi, spawnCgi } from '../adapters/cgi-process.js';
import { CgiHeaderParser, cgiHeaderErrorMessage, escapeLogText, invalidResponseField, scriptStatus, type CgiHeaders, type ScriptStatus } from '../grammar/cgi-response.js';
import { cannedErrorPage } from '../grammar/error-pages.js';
import { BoundedLineSplitter } from '../grammar/log-lines.js';
import { holdWhileErrorLogBehind } from '../vocabulary/error-log-backlog.js';
import { buildCgiEnvironment, DEBIAN_APACHE_PATH, suexecFilter } from '../engine/cgi-environment.js';
import type { Decision, LogEvent, RequestFacts } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import { closeInConnectionField, contentTypeWithCharset, endWhole, scriptAnswerHeaders, scriptFieldsForErrorPage, scriptlessHeaders, writeBody } from './response-sink.js';
import { applyRequestHeaderLines } from '../modules/headers.js';
import type { SiteContext } from './site-context.js';
import { clampedLastModifiedSec, scriptConditionVerdict } from '../engine/script-conditions.js';

/** The PHP CGI binary the Scripts host uses for `.php`. */
const PHP_CGI = '/usr/bin/php-cgi';

export interface CgiContext {
  site: SiteContext;
  req: IncomingMessage;
  res: ServerResponse;
  facts: RequestFacts;
  decision: Extract<Decision, { kind: 'handler' }>;
  log: (e: LogEvent) => void;
  /** Sends an error response (Apache's page) for a status. */
  fail: (status: number) => void;
  /** Internal redirect to a local URL (CGI `Location: /path`), as GET; `env` is the script's environment. */
  redirect: (location: string, env: Map<string, string>) => void;
  /** REDIRECT_* variables when this request is itself an internal redirect. */
  redirectEnv?: ReadonlyMap<string, string> | undefined;
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
export function requestEnvironment(c: CgiContext, opts: { createEnvironment?: boolean; omit?: ReadonlySet<string> } = {}): Record<string, string> {
  const { site, req, facts, decision: d } = c;
  const hostHeader = req.headers.host ?? site.serverName;
  // fix_hostname's r->hostname (lower-cased, no trailing dot) and ap_get_server_port: the
  // Host field's port, else ServerName's, else the scheme's default (UseCanonicalName Off).
  const host = checkHostField(hostHeader);
  const portMatch = /:(\d+)$/.exec(hostHeader);
  const bare = host.ok ? host.name : portMatch ? hostHeader.slice(0, portMatch.index) : hostHeader;
  const serverName = bare.startsWith('[') || bare.endsWith(']') ? bare.replace(/^\[|\]$/g, '') : bare;
  const serverPort = serverPortOf(host.ok ? host.port : undefined, site.serverName, facts.tls !== undefined);
  const scriptName = d.pathInfo && d.uri.endsWith(d.pathInfo) ? d.uri.slice(0, d.uri.length - d.pathInfo.length) : d.uri;
  const docRoot = d.documentRoot ?? site.documentRoot;
  const cfg = dirConfigOf(d.config);
  // ap_die's ErrorDocument redirect and a script's local Location (cgi_handler) make the request
  // a GET without Content-Length; mod_rewrite's internal redirect (a front controller) keeps the
  // request's method, body and Content-Length.
  const errorRedirect = Number(c.redirectEnv?.get('REDIRECT_STATUS') ?? '200') >= 400;
  const dropBodyFraming = c.redirectEnv !== undefined && (errorRedirect || facts.method !== req.method);
  const localAddress = req.socket.localAddress ?? '127.0.0.1';
  // One literal of one shape (no conditional spreads): this runs for every script request.
  return buildCgiEnvironment({
    // An ErrorDocument's script runs as a GET, even for a HEAD (whose body is still dropped).
    method: errorRedirect ? 'GET' : facts.method,
    requestUri: req.url ?? '/',
    query: facts.query,
    scriptName,
    pathInfo: d.pathInfo,
    pathTranslated: d.pathInfo ? docRoot + d.pathInfo : undefined,
    scriptFilename: d.path,
    documentRoot: docRoot,
    contextPrefix: d.contextPrefix ?? '',
    contextDocumentRoot: docRoot,
    headers: cfg.requestHeaders.length
      ? applyRequestHeaderLines(mergedHeaders(req, dropBodyFraming), cfg.requestHeaders, d.env ?? NO_VARIABLES)
      : mergedHeaders(req, dropBodyFraming),
    remoteAddr: facts.remoteAddr,
    remotePort: req.socket.remotePort ?? 0,
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
    authType: d.user?.authType,
    path: DEBIAN_APACHE_PATH,
    redirect: c.redirectEnv,
    tls: facts.tls,
    createEnvironment: opts.createEnvironment,
    omit: opts.omit,
  });
}

/** Runs one CGI request. */
export function runCgi(c: CgiContext): void {
  const { site, req, res, facts, decision: d } = c;
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  const viaPhp = runsThroughPhpCgi(d.path, site.suexec);
  const problem = viaPhp ? undefined : checkExecutable(d.path);
  if (problem) {
    c.log({ module: 'cgid', level: 'error', message: problem.message });
    c.log({ module: 'cgid', level: 'error', message: `End of script output before headers: ${base}`, explain: problem.explain });
    req.resume();
    c.fail(500);
    return;
  }
  const limit = dirConfigOf(d.config).limitRequestBody;
  const declared = Number(req.headers['content-length'] ?? '0');
  if (limit > 0 && declared > limit) {
    c.log({ module: 'core', level: 'error', message: `Requested content-length of ${declared} is larger than the configured limit of ${limit}` });
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
  const finalEnv = site.suexec ? suexecFilter(env) : env;
  if (viaPhp) finalEnv.PHPRC = dirname(d.path);
  // mod_cgid hands RLimitCPU/MEM/NPROC to the child (setrlimit before exec).
  const { limits, warnings } = childLimits(dirConfigOf(d.config).rlimits);
  for (const message of warnings) c.log({ module: 'core', level: 'error', message });
  const run = { cwd: dirname(d.path), env: finalEnv, limits, groups: site.processGroups };
  // Debian's php-cgi refuses to run without REDIRECT_STATUS (cgi.force_redirect); the host's does run.
  const child = viaPhp ? spawnCgi({ program: PHP_CGI, args: ['-d', 'cgi.force_redirect=0', '-f', d.path], ...run }) : spawnCgi({ program: d.path, args: [], ...run });
  journalCounters.cgiSpawns++;
  const rec = recordOf(c.req);
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
        c.log({ module: 'cgid', level: 'error', message: `Script timed out before returning headers: ${base}` });
        finish();
        c.fail(504);
      } else {
        c.log({ module: 'cgid', level: 'warn', message: `AH01220: Timeout waiting for output from CGI script ${d.path}` });
        finish();
        res.end();
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
  child.onError((err) => {
    c.log({ module: 'cgid', level: 'error', message: `(${(err as NodeJS.ErrnoException).errno ?? 0})${err.message}: AH01241: exec of '${d.path}' failed` });
  });
  // mod_cgid writes a script's stderr to the error log as it is, line by line; a line is cut at
  // Apache's MAX_STRING_LEN so that a script without newlines cannot fill our memory. When the
  // log falls behind, the script's stderr waits (in Apache its write blocks on the log's).
  const stderrLines = new BoundedLineSplitter();
  const logStderr = (message: string): void => c.log({ module: 'cgid', level: 'error', message });
  child.stderr.on('data', (chunk: Buffer) => {
    stderrLines.push(chunk, logStderr);
    holdWhileErrorLogBehind(child.stderr);
  });
  child.stderr.on('end', () => stderrLines.end(logStderr));
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
      if (!writeBody(res, facts.method, chunk)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
      return;
    }
    const ev = parser.push(chunk);
    if (ev.kind === 'more') return;
    headersDone = true;
    if (ev.kind === 'error') {
      c.log({ module: 'cgid', level: 'error', message: cgiHeaderErrorMessage(ev.error, base) });
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
    if (ev.rest.length) writeBody(res, facts.method, ev.rest);
  });
  child.stdout.on('end', () => {
    if (finished) return;
    if (!headersDone) {
      const ev = parser.end();
      headersDone = true;
      if (ev.kind === 'error') {
        c.log({ module: 'cgid', level: 'error', message: cgiHeaderErrorMessage(ev.error, base) });
        finish();
        c.fail(500);
        return;
      }
    }
    finish();
    res.end();
  });
}

/**
 * util_script.c's end of the header scan: Last-Modified is written afresh from r->mtime, a date
 * in the future becoming the request time (ap_update_mtime, ap_set_last_modified; rewritten in
 * `out`), and without a Status line a GET or HEAD is checked against its conditions
 * (ap_meets_conditions): 304, 412 or undefined.
 */
function conditionVerdict(c: CgiContext, out: [string, string][], noStatusLine: boolean): 304 | 412 | undefined {
  const requestSec = Math.floor(Date.now() / 1000);
  let etag: string | undefined;
  // r->mtime: the latest date among the Last-Modified fields (ap_update_mtime keeps the
  // maximum); the field is then written afresh from it, or dropped when none was a date.
  let lastModified: number | undefined;
  let lastModifiedAt = -1;
  for (let i = 0; i < out.length; i++) {
    const [name, value] = out[i]!;
    const key = name.toLowerCase();
    if (key === 'etag') etag = value;
    else if (key === 'last-modified') {
      if (lastModifiedAt === -1) lastModifiedAt = i;
      const sec = clampedLastModifiedSec(value, requestSec);
      if (sec !== undefined && (lastModified === undefined || sec > lastModified)) lastModified = sec;
    }
  }
  if (lastModifiedAt !== -1) {
    const kept = out.filter(([n]) => n.toLowerCase() !== 'last-modified');
    if (lastModified !== undefined) kept.splice(lastModifiedAt, 0, ['Last-Modified', new Date(lastModified * 1000).toUTCString()]);
    out.splice(0, out.length, ...kept);
  }
  const mtimeSec = lastModified ?? requestSec;
  const method = c.facts.method;
  const override = c.decision.statusOverride;
  // Only a successful answer so far is checked (not an ErrorDocument's).
  if (!noStatusLine || (method !== 'GET' && method !== 'HEAD') || (override !== undefined && (override < 200 || override > 299))) return undefined;
  const h = c.req.headers;
  return scriptConditionVerdict({
    ifMatch: h['if-match'],
    ifUnmodifiedSince: h['if-unmodified-since'],
    ifNoneMatch: h['if-none-match'],
    ifModifiedSince: h['if-modified-since'],
    etag,
    mtimeSec,
    requestSec,
  });
}

/**
 * A status below 100 (`Status: 099 Low`), which Apache sends as it is: Node's writeHead refuses
 * it, so the answer is framed as a 200 and the status line is replaced before the head leaves
 * (the head is kept in `_header` until the first write). Only this response is affected.
 */
function sendStatusLineAsWritten(res: ServerResponse, code: string, reason: string): void {
  const out = res as ServerResponse & { _header: string | null };
  const writeHead = res.writeHead;
  res.statusCode = 200;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    writeHead.apply(this, args);
    if (typeof out._header === 'string') out._header = out._header.replace(/^HTTP\/1\.[01] 200 [^\r]*\r\n/, (line) => `${line.slice(0, 9)}${code} ${reason}\r\n`);
    this.statusCode = Number(code);
    return this;
  } as ServerResponse['writeHead'];
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
  } = {},
): 'stream' | 'discard' {
  const { res } = c;
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
      out.push(['Content-Type', contentTypeWithCharset(semi === -1 ? v.toLowerCase() : v.slice(0, semi).toLowerCase() + v.slice(semi), dirConfigOf(c.decision.config))]);
    } else if (key === 'content-length' && opts.keepContentLength && /^\d{1,15}$/.test(value)) {
      // apr_table_set: the last one written is the one kept. One that is not a length would
      // make the answer unreadable: htsandbox frames the body itself then.
      const at = out.findIndex(([n]) => n === 'Content-Length');
      if (at !== -1) out.splice(at, 1);
      out.push(['Content-Length', value]);
    } else if (key === 'content-length' || key === 'transfer-encoding') {
      // Apache frames the body itself (2.4.59+ drops a script's Content-Length).
    } else {
      out.push([name, value]);
    }
  }
  // No Content-Type: the type mod_mime gave the script's own file stays the answer's (x.html.cgi
  // is text/html, app.rb application/x-ruby; a plain .cgi has none).
  if (c.decision.contentType !== undefined && !out.some(([n]) => n === 'Content-Type'))
    out.push(['Content-Type', contentTypeWithCharset(c.decision.contentType, dirConfigOf(c.decision.config))]);
  const verdict = conditionVerdict(c, out, statusLine === undefined);
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
    scriptlessHeaders(c, c.decision);
    // An empty Location gives the 302 page without the field (as Apache answers `Location: `).
    const head: Record<string, string> = { 'Content-Type': 'text/html; charset=iso-8859-1', 'Content-Length': String(page.length) };
    endWhole(res, c.facts.method, 302, location === '' ? head : { Location: location, ...head }, page);
    return 'discard';
  }
  // One field (the usual Content-Type) needs no grouping.
  let fields: [string, string[]][];
  if (out.length === 1) fields = [[out[0]![0], [out[0]![1]]]];
  else {
    const grouped = new Map<string, [string, string[]]>();
    for (const [n, v] of out) {
      const k = n.toLowerCase();
      const e = grouped.get(k);
      if (e && k !== 'content-type' && k !== 'location') e[1].push(v);
      else grouped.set(k, [n, [v]]);
    }
    fields = [...grouped.values()];
  }
  closeInConnectionField(res, fields);
  if (verdict === 304) {
    // ap_meets_conditions' 304: the script's fields but Content-Type, and no body.
    res.statusCode = 304;
    scriptAnswerHeaders(
      c,
      c.decision,
      fields.filter(([n]) => n !== 'Content-Type'),
      304,
      undefined,
    );
    res.end();
    return 'discard';
  }
  if (verdict === 412) {
    if (opts.module === 'proxy_fcgi') {
      // mod_proxy_fcgi's 412 keeps the script's fields and has an empty body.
      res.statusCode = 412;
      scriptAnswerHeaders(c, c.decision, fields, 412, undefined);
      res.setHeader('Content-Length', '0');
      res.end();
      return 'discard';
    }
    // The error page goes out with the fields util_script.c put in err_headers_out.
    scriptFieldsForErrorPage(res, fields);
    c.fail(412);
    return 'discard';
  }
  // A status the request already had (a failing non-authoritative authorizer's) that no status
  // line can carry goes out as 500, as ap_get_status_line gives it.
  res.statusCode = statusLine?.sent ?? (status >= 100 && status <= 599 ? status : 500);
  if (statusLine) res.statusMessage = statusLine.reason;
  if (statusLine?.unsendable !== undefined) sendStatusLineAsWritten(res, statusLine.unsendable, statusLine.reason);
  // ap_http_header_filter: a 204 or 304 (AP_STATUS_IS_HEADER_ONLY) loses its Content-Length,
  // Transfer-Encoding and content type, the script's own or the one mod_mime gave its file.
  if (res.statusCode === 204 || res.statusCode === 304) fields = fields.filter(([n]) => n !== 'Content-Type' && n !== 'Content-Length');
  scriptAnswerHeaders(c, c.decision, fields, status, fields.find(([n]) => n === 'Content-Type')?.[1][0]);
  if (res.statusCode === 204 || res.statusCode === 304 || res.statusCode < 200) {
    res.end();
    return 'discard';
  }
  return 'stream';
}
