/**
 * A HeaderName / ReadmeName that is a script (cgi-script, fcgid-script, or a `proxy:` handler's
 * FastCGI backend): mod_autoindex runs it
 * as a sub-request (ap_run_sub_req) and its body goes into the listing in place of the file. The listing itself
 * is drawn synchronously; only a page with such a script waits for it here.
 */
import { killGroup } from '../adapters/cgi-process.js';
import { factsWith, resolveUri, type Decision, type LogEvent, type RequestFacts } from '../engine/resolve.js';
import { CgiHeaderParser, cgiHeaderErrorCode, cgiHeaderErrorMessage, scriptStatus } from '../grammar/cgi-response.js';
import { requestEnvironment, startCgiScript } from './cgi-handler.js';
import { responderOutput, responderEnvironment } from './fcgid-handler.js';
import { proxyFcgiOutput } from './proxy-fcgi-handler.js';
import type { ResponseSink } from './response-sink.js';

/** A header or readme the listing has to run first. */
export interface ListingScript {
  /** The sub-request's handler decision (a `cgi-script`, an `fcgid-script` or a `proxy:` one). */
  decision: Extract<Decision, { kind: 'handler' }>;
  /** The sub-request's r->args: the listing's for the header (emit_head appends them), none for the readme. */
  query: string | undefined;
  /** emit_head sets Accept to "text/html, text/plain" and unsets Accept-Encoding around its sub-request. */
  header: boolean;
}

/** mod_proxy's handler takes any handler name that starts with `proxy:` (strncmp, case-sensitive). */
const isProxyHandler = (handler: string): boolean => handler.startsWith('proxy:');

/** The handlers whose output a listing's sub-request puts into the page. */
export const isListingHandler = (handler: string): boolean => handler === 'cgi-script' || handler === 'fcgid-script' || isProxyHandler(handler);

/** A script's body is copied into the page: one that writes without end is cut here. */
const MAX_INSERT_BYTES = 8 * 1024 * 1024;

/** The header fields the sub-request sees: the request's, without body framing (clone_headers_no_body). */
function subrequestFields(header: boolean): (fields: [string, string][]) => [string, string][] {
  return (fields) => {
    const out = fields.filter(([name]) => {
      const key = name.toLowerCase();
      return key !== 'content-length' && key !== 'transfer-encoding' && !(header && key === 'accept-encoding');
    });
    if (!header) return out;
    // apr_table_setn on headers_in: the field keeps its place, or is added last.
    const at = out.findIndex(([name]) => name.toLowerCase() === 'accept');
    if (at === -1) out.push(['Accept', 'text/html, text/plain']);
    else out[at] = [out[at]![0], 'text/html, text/plain'];
    return out;
  };
}

/** A sub-request's protocol is "INCLUDED", and its port the scheme's default: its URI was parsed from a path alone. */
function asSubrequest(env: Record<string, string>, tls: boolean): void {
  env.SERVER_PROTOCOL = 'INCLUDED';
  env.SERVER_PORT = tls ? '443' : '80';
}

/** What a script printed: its header fields and its body. */
interface ScriptOutput {
  fields: [string, string][];
  body: Buffer;
}

/** How many internal redirects a header script's `Location:` may chain (LimitInternalRecursion). */
const MAX_REDIRECTS = 10;

/**
 * Runs the script as mod_cgid or mod_fcgid does for a sub-request and gives what goes into the
 * page: its body (whatever Status it printed), or undefined when ap_run_sub_req fails (no valid
 * headers, or an absolute `Location:`, Apache's 302). A local `Location:` without a Status is
 * an internal redirect of the sub-request: the target's output goes in instead.
 */
export async function runListingScript(
  sink: ResponseSink,
  script: ListingScript,
  mainEnv: ReadonlyMap<string, string> | undefined,
  log: (e: LogEvent) => void,
  depth = 0,
): Promise<Buffer | undefined> {
  const output = await scriptOutput(sink, script, mainEnv, log);
  if (output === undefined) return undefined;
  // mod_proxy_fcgi passes a Location on with the backend's status: the body goes in as it is.
  if (isProxyHandler(script.decision.handler)) return output.body;
  let status = 200;
  let location: string | undefined;
  for (const [name, value] of output.fields) {
    const key = name.toLowerCase();
    if (key === 'status') status = scriptStatus(value).code;
    else if (key === 'location') location = value;
  }
  if (location === undefined || status !== 200) return output.body;
  if (!location.startsWith('/') || depth >= MAX_REDIRECTS) return undefined;
  const q = location.indexOf('?');
  const query = q === -1 ? undefined : location.slice(q + 1);
  const target = factsWith(sink.facts, { method: 'GET', query, story: undefined });
  const d = resolveUri(sink.site, target, q === -1 ? location : location.slice(0, q));
  if (d.kind === 'handler' && isListingHandler(d.handler)) {
    return runListingScript(sink, { decision: d, query, header: script.header }, mainEnv, log, depth + 1);
  }
  if (d.kind !== 'file' || d.entry.kind !== 'file') return undefined;
  try {
    return sink.site.fs.readFile(d.path);
  } catch {
    return undefined;
  }
}

function scriptOutput(sink: ResponseSink, script: ListingScript, mainEnv: ReadonlyMap<string, string> | undefined, log: (e: LogEvent) => void): Promise<ScriptOutput | undefined> {
  const { site, req } = sink;
  const d = script.decision;
  const facts: RequestFacts = { ...sink.facts, method: 'GET', query: script.query };
  // The sub-request starts with a copy of the request's environment (make_sub_request); its own
  // SetEnv / SetEnvIf lines add to it.
  const decision = mainEnv ? { ...d, env: new Map([...mainEnv, ...(d.env ?? [])]) } : d;
  const editHeaders = subrequestFields(script.header);
  if (isProxyHandler(d.handler)) {
    // mod_proxy_fcgi sends Apache's table as it is (no CGI renaming), as for a main request.
    const env = requestEnvironment({ site, req, facts, decision }, { createEnvironment: false, editHeaders });
    asSubrequest(env, facts.tls !== undefined);
    return proxyFcgiOutput({ site, decision, log }, env, MAX_INSERT_BYTES);
  }
  if (d.handler === 'fcgid-script') {
    const source = {
      site,
      req,
      facts,
      decision,
      log,
    };
    const env = responderEnvironment(source, 0, editHeaders);
    asSubrequest(env, facts.tls !== undefined);
    return responderOutput(source, env, MAX_INSERT_BYTES);
  }
  const env = requestEnvironment({ site, req, facts, decision }, { editHeaders });
  asSubrequest(env, facts.tls !== undefined);
  return runCgiForOutput(site, decision, env, log);
}

/** A CGI script run with no body, its output collected. */
function runCgiForOutput(site: ResponseSink['site'], d: ListingScript['decision'], env: Record<string, string>, log: (e: LogEvent) => void): Promise<ScriptOutput | undefined> {
  const base = d.path.slice(d.path.lastIndexOf('/') + 1);
  return new Promise((resolve) => {
    const child = startCgiScript(site, d, env, log);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (output: ScriptOutput | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(output);
    };
    const timer = setTimeout(() => {
      killGroup(child.pid);
      log({ module: 'cgid', level: 'error', message: `Script timed out before returning headers: ${base}`, code: 'HT502' });
      settle(undefined);
    }, site.timeoutMs);
    timer.unref();
    // A GET sub-request has no body: the script reads EOF at once.
    child.stdin.on('error', () => undefined);
    child.stdin.end();
    child.stdout.on('data', (chunk: Buffer) => {
      if (size >= MAX_INSERT_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    child.stdout.on('end', () => {
      const parser = new CgiHeaderParser();
      let ev = parser.push(Buffer.concat(chunks));
      if (ev.kind === 'more') ev = parser.end();
      child.endOfRequest(() => log({ module: 'cgid', level: 'error', message: `AH01259: CGI process ${child.pid} didn't exit, sending SIGKILL` }));
      if (ev.kind === 'error') {
        log({ module: 'cgid', level: 'error', message: cgiHeaderErrorMessage(ev.error, base), code: cgiHeaderErrorCode(ev.error) });
        settle(undefined);
        return;
      }
      settle(ev.kind === 'headers' ? { fields: ev.headers.fields, body: ev.rest } : { fields: [], body: Buffer.alloc(0) });
    });
  });
}
