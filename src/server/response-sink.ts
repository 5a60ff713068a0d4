/**
 * The one place every answer's output side runs: a static file, a listing, OPTIONS, the status
 * page, Apache's own error pages and redirects, and a script's answer (CGI, mod_fcgid,
 * mod_proxy_fcgi) all hand their status and header fields here, and the rules Apache applies in
 * its output filters run once, in Apache's order:
 *
 * 1. err_headers_out is seeded with what earlier phases put there: an access-phase program's
 *    fields and mod_rewrite's [CO] cookies (they leave with any answer, error pages included).
 * 2. mod_expires (its filter sits at AP_FTYPE_CONTENT_SET-2, before mod_headers') on a
 *    successful answer only, into headers_out.
 * 3. mod_headers (ap_headers_output_filter): `Header always` lines on err_headers_out, the
 *    onsuccess ones on headers_out. An error page Apache makes itself is built from
 *    err_headers_out alone (ap_send_error_response clears headers_out), so only `always` lines
 *    show on it; a script's answer keeps both tables whatever its status.
 * 4. ap_http_header_filter: both tables go out, err_headers_out's lines first under one name, and
 *    Vary's names once each (fix_vary).
 * 5. The body: none for HEAD (ap_http_header_filter's r->header_only) and none for 204/304;
 *    Content-Length when the whole body is known, chunks when it streams.
 *
 * `AddDefaultCharset` belongs to the handler's content type (ap_make_content_type) and is
 * reached through `contentTypeWithCharset`. Conditional requests stay where Apache checks them:
 * the default handler for files (responder.ts), the header scan for scripts (cgi-handler.ts).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { DirConfig } from '../engine/dir-config.js';
import { requestExprFacts, type Decision, type RequestFacts } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import type { ExprFacts } from '../grammar/ap-expr.js';
import { applyExpires, applyHeaderLines, applyHeaderOps, FieldTable, joinVary, responseTable, varyNames, withDefaultCharset } from './header-ops.js';
import type { SiteContext } from './site-context.js';

/** The request an answer belongs to (a CgiContext is one). */
export interface SinkRequest {
  site: SiteContext;
  req: IncomingMessage;
  res: ServerResponse;
  facts: RequestFacts;
}

/**
 * What ap_expr reads for a `Header … expr=` line: the URI, file and PATH_INFO the decision
 * names (none for an error), with the request's environment.
 */
function exprFactsFor(r: SinkRequest, d: Decision): () => ExprFacts {
  return () => requestExprFacts(r.site, r.facts, 'uri' in d ? d.uri : r.facts.rawPath, 'path' in d ? d.path : '', d.kind === 'handler' ? d.pathInfo : '', d.env);
}

/**
 * Step 1: what the access phase and mod_rewrite left in err_headers_out. An access-phase
 * program's fields add to what is there; a [CO] cookie whose name already went out on this
 * request is not sent again (add_cookie's note survives internal redirects).
 */
export function seedErrorHeaders(res: ServerResponse, d: Decision): void {
  for (const [name, value] of d.authHeaders ?? []) {
    const prev = res.getHeader(name);
    res.setHeader(name, prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
  }
  for (const cookie of d.cookies ?? []) {
    const prev = res.getHeader('Set-Cookie');
    const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
    const name = cookie.slice(0, cookie.indexOf('=') + 1);
    if (!list.some((c) => c.startsWith(name))) res.setHeader('Set-Cookie', [...list, cookie]);
  }
}

/**
 * Steps 2–4 as a decision reaches its handler. A file, listing or OPTIONS answer (its handler's
 * own fields, a file's validators, already on the response) gets mod_expires and both kinds of
 * `Header` lines; Apache's own error page or redirect, the status page and a missing handler
 * only the `always` ones. A script's request gets only the Vary mod_rewrite collected here:
 * its lines run once its fields are in (scriptAnswerHeaders). `keptVary`: the Vary kept across
 * mod_rewrite's internal redirects (redirect-keeps-vary), which an error page drops.
 */
export function decisionHeaders(r: SinkRequest, d: Decision, cfg: DirConfig, script: boolean, keptVary?: readonly string[]): void {
  const { res } = r;
  const made = d.kind === 'file' || d.kind === 'listing' || d.kind === 'options';
  if (made)
    applyExpires(responseTable(res), cfg, d.kind === 'file' ? d.contentType : d.kind === 'listing' ? 'text/html' : undefined, d.kind === 'file' ? d.entry.mtimeUs : undefined);
  // fix_vary drops repeated names and joins the rest with ",".
  if (d.kind !== 'error' && d.kind !== 'redirect' && (keptVary?.length || d.vary?.length)) res.setHeader('Vary', joinVary([...(keptVary ?? []), ...(d.vary ?? [])]));
  if (!script && cfg.headers.length > 0) applyHeaderOps(res, r.req, cfg.headers, made ? 'both' : 'always', d.env, exprFactsFor(r, d));
}

/**
 * Step 3 on a script's request answered without the script's fields: an error page in its place
 * (`always` lines), or mod_proxy_fcgi's empty answer (`both`).
 */
export function scriptlessHeaders(r: SinkRequest, d: Extract<Decision, { kind: 'handler' }>, which: 'always' | 'both' = 'always'): void {
  applyHeaderOps(r.res, r.req, dirConfigOf(d.config).headers, which, d.env, exprFactsFor(r, d));
}

/**
 * Steps 2–4 for a script's answer: util_script.c puts the script's fields in err_headers_out
 * (after what the access phase left there), mod_expires and the onsuccess lines work on a
 * headers_out of their own, and both go out, err_headers_out's first, Vary's names merged with
 * the script's and the conditions' first. `status`: the script's; `contentType`: its answer's.
 */
export function scriptAnswerHeaders(
  r: SinkRequest,
  d: Extract<Decision, { kind: 'handler' }>,
  fields: [string, string[]][],
  status: number,
  contentType: string | undefined,
): void {
  const { res, req } = r;
  const cfg = dirConfigOf(d.config);
  const ops = cfg.headers;
  const authHeaders = d.authHeaders ?? [];
  if (ops.length === 0 && authHeaders.length === 0) {
    // The usual case, kept cheap: no second table.
    for (const [name, values] of fields) {
      const key = name.toLowerCase();
      if (key === 'vary') res.setHeader('Vary', mergeVary(values, res.getHeader('vary')));
      // Repeated fields become one line (util_script.c merges them), cookies excepted.
      else res.setHeader(name, key === 'set-cookie' ? values : values.join(', '));
    }
    if (status < 400) applyExpires(responseTable(res), cfg, contentType, d.entry?.mtimeUs);
    return;
  }
  const err = new FieldTable();
  // An authorizer's fields went out in err_headers_out too (seedErrorHeaders put them on the response).
  for (const [name, value] of authHeaders) {
    res.removeHeader(name);
    err.add(name, value);
  }
  for (const [name, values] of fields) for (const v of values) err.add(name, v);
  const out = new FieldTable();
  // mod_expires' filter runs before mod_headers' (AP_FTYPE_CONTENT_SET-2), and not on an error.
  if (status < 400 && err.get('expires') === undefined) applyExpires(out, cfg, contentType, d.entry?.mtimeUs);
  const facts = exprFactsFor(r, d);
  const exprVary = [...applyHeaderLines(err, req.headers, ops, 'always', d.env, facts), ...applyHeaderLines(out, req.headers, ops, 'onsuccess', d.env, facts)];
  const earlierVary = res.getHeader('vary');
  const combined = new Map<string, { name: string; values: string[] }>();
  for (const f of [...err.entries(), ...out.entries()]) {
    const key = f.name.toLowerCase();
    // One line per table and name (cookies one each): the overlay keeps both tables' lines.
    const lines = key === 'set-cookie' ? f.values : [f.values.join(', ')];
    const e = combined.get(key);
    if (e) e.values.push(...lines);
    else combined.set(key, { name: f.name, values: [...lines] });
  }
  const scriptVary = combined.get('vary')?.values ?? [];
  combined.delete('vary');
  for (const { name, values } of combined.values()) res.setHeader(name, values.length === 1 ? values[0]! : values);
  if (scriptVary.length || earlierVary !== undefined || exprVary.length) res.setHeader('Vary', mergeVary([...scriptVary, ...exprVary], earlierVary));
}

/** Fields the header scan keeps out of err_headers_out (an error page does not carry them). */
const SCAN_OWN_FIELDS: ReadonlySet<string> = new Set(['content-type', 'location', 'last-modified', 'etag']);

/**
 * A script's fields on the error page Apache sends in its place (a 412 from the header scan):
 * only those util_script.c put in err_headers_out go with it; the caller then sends the page.
 */
export function scriptFieldsForErrorPage(res: ServerResponse, fields: readonly [string, string[]][]): void {
  for (const [name, values] of fields) if (!SCAN_OWN_FIELDS.has(name.toLowerCase())) res.setHeader(name, name.toLowerCase() === 'set-cookie' ? values : values.join(', '));
}

/**
 * A script's Connection field stays, and ap_set_keepalive merges "close" into it when the
 * connection ends after this answer; Node would otherwise take the script's word and keep a
 * connection the client asked to close. Edits `fields` in place.
 */
export function closeInConnectionField(res: ServerResponse, fields: [string, string[]][]): void {
  const connection = fields.findIndex(([n]) => n.toLowerCase() === 'connection');
  if (connection !== -1 && !res.shouldKeepAlive) fields[connection] = [fields[connection]![0], [`${fields[connection]![1].join(', ')}, close`]];
}

/** Vary names from the script (and conditions) first, then those set before. */
function mergeVary(first: readonly string[], earlier: number | string | string[] | undefined): string {
  return joinVary([...varyNames(first), ...varyNames(earlier)]);
}

/** `AddDefaultCharset` on a handler's content type (ap_make_content_type). */
export function contentTypeWithCharset(type: string, cfg: DirConfig): string {
  return withDefaultCharset(type, cfg);
}

/**
 * Step 5 for an answer whose whole body is known: the head, then the body unless the request
 * is a HEAD (r->header_only: the same head, no body). `headers` says its own framing.
 */
export function endWhole(res: ServerResponse, method: string, status: number, headers: OutgoingHttpHeaders, body?: string | Buffer, encoding?: BufferEncoding): void {
  res.writeHead(status, headers);
  if (method === 'HEAD' || body === undefined) res.end();
  else if (encoding !== undefined && typeof body === 'string') res.end(body, encoding);
  else res.end(body);
}

/**
 * Step 5 for a streamed body: a chunk of it, dropped for HEAD. False when the client is
 * behind (wait for 'drain'), as `res.write` says.
 */
export function writeBody(res: ServerResponse, method: string, chunk: Buffer): boolean {
  return method === 'HEAD' ? true : res.write(chunk);
}
