/**
 * The one place every answer leaves through: a static file (ranges and 304 included), a listing,
 * OPTIONS, the status page, Apache's own error pages and redirects, and a script's answer (CGI,
 * mod_fcgid, mod_proxy_fcgi). A handler hands its sink the status, the fields of Apache's two
 * header tables (headers_out, err_headers_out) and its body (bytes, a file's range, a stream);
 * the sink alone writes the status line and the head, and runs the output side once, in
 * Apache's order:
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
 *    Vary's names once each (fix_vary); a 204 or 304 loses its body's fields.
 * 5. The body: none for HEAD (r->header_only) and none for 204/304; Content-Length when the
 *    whole body is known before the head leaves (ap_content_length_filter sees the EOS in the
 *    first brigade), chunks when it streams or comes after that filter (the 416 page).
 *
 * Conditional requests on a script's answer are checked here too (util_script.c's header scan
 * calls ap_meets_conditions on the fields the script printed); a file's are the default
 * handler's (responder.ts), which tells the sink a failed precondition's 412 before the output
 * side runs (mod_expires leaves an error alone). `AddDefaultCharset` (ap_make_content_type) is
 * applied where ap_http_header_filter applies it, to the content type as it leaves: the
 * handler's type when no `Header` line touched it (`handlerContentType`), else the type the lines
 * left, which gets the charset again (`Header set Content-Type text/plain`, on any answer).
 *
 * The head stays in Node's response (its header store is headers_out as the handler and the
 * output rules leave it) until the sink writes it: no second copy of the fields is kept per
 * answer, and a sink is the only object an answer adds (undici's handler: start, data, end).
 */
import { closeSync } from 'node:fs';
import { type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, OutgoingMessage, ServerResponse } from 'node:http';
import type { DirConfig } from '../engine/dir-config.js';
import { requestExprFacts, type Decision, type RequestFacts } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import { clampedLastModifiedSec, scriptConditionVerdict } from '../engine/script-conditions.js';
import type { ExprFacts } from '../grammar/ap-expr.js';
import type { ScriptStatus } from '../grammar/cgi-response.js';
import { sendFileBytes } from './file-sender.js';
import {
  applyExpires,
  applyHeaderLines,
  applyHeaderOps,
  contentTypeAfter,
  FieldTable,
  headFieldsOfLines,
  type HeadFields,
  joinVary,
  responseTable,
  varyNames,
  withDefaultCharset,
  type ContentTypeStep,
} from './header-ops.js';
import type { RequestRecord } from './request-journal.js';
import type { SiteContext } from './site-context.js';

/** Node's head writer, left out of @types/node: it builds `_header` from the status line and fields. */
type HeadStore = { _storeHeader(firstLine: string, headers: unknown): void };
const storeHeader = (ServerResponse.prototype as unknown as HeadStore)._storeHeader;

/** Node's header table (kOutHeaders): a null-prototype object of lowered name → [name, value]. */
type FieldStore = Record<string, [string, unknown]>;
/** Node's symbol for the header table of an outgoing message, found once. */
const OUT_HEADERS: symbol | undefined = Object.getOwnPropertySymbols(new OutgoingMessage()).find((s) => s.description === 'kOutHeaders');

/** The response's header table as Node keeps it (undefined: none yet, or not found). */
function headerTableOf(res: ServerResponse): FieldStore | undefined {
  return OUT_HEADERS === undefined ? undefined : ((res as unknown as Record<symbol, FieldStore | null | undefined>)[OUT_HEADERS] ?? undefined);
}

/** The banner every answer carries (ServerTokens Prod says `Apache`; this says who answered). */
export const SERVER_BANNER = 'Apache (htsandbox)';

/**
 * The server's response class: the head's core fields and, with a journal, the request's record
 * (request-journal.ts: handlers note what answered) and the explain link. Here because only the
 * sink writes a head.
 * - `Server` (and `Date`, which Node adds) are core's: ap_basic_http_header writes both and
 *   unsets them from headers_out (err_headers_out is overlaid into it first), so neither a
 *   `Header` line nor a CGI or FastCGI script changes them; only a proxied answer
 *   (r->proxyreq: mod_proxy_fcgi) keeps its backend's. Verified against Apache 2.4.
 * - The banner and the explain link go in as Node builds the head, right after the status line
 *   (Apache sends Date and Server first): no `setHeader` as the request arrives, so an answer
 *   whose handler gives its head whole (a static file) is written by `writeHead` as given
 *   instead of field by field through Node's header table.
 * - A script's fields can be given whole (`giveFields`) and enter Node's header table only when
 *   something asks the table (every header method is overridden for that). Node's table is a
 *   null-prototype object, a dictionary to V8: when the only name the server sets through
 *   `setHeader` is a script's Content-Type, that store's inline cache stays monomorphic and
 *   misses on every fresh table, a runtime call of about 5k instructions per FastCGI request.
 * - Every field exists from construction on, so responses keep one hidden class.
 */
export class HostResponse extends ServerResponse {
  // Class fields (ES2022): defined as each response is constructed.
  record: RequestRecord | undefined;
  /** The explain link, once the record begins (none for what is answered before, or --strict). */
  explainLink: string | undefined;
  /** mod_proxy answers (r->proxyreq): the backend's Server and Date fields are kept. */
  proxied = false;
  /** Fields given whole for the head, not yet in Node's header table (giveFields). */
  private givenFields: GivenFields | undefined = undefined;

  /**
   * Fields for the head, in order, given while the header table is empty: they go out as given
   * unless the table is asked first, which puts them in it.
   */
  giveFields(fields: GivenFields): void {
    this.intoTable();
    if (fields.length === 0) return;
    if (headerTableEmpty(this)) this.givenFields = fields;
    else for (const [name, value] of fields) super.setHeader(name, value);
  }

  /** The given fields into Node's header table, before anything reads or changes it. */
  private intoTable(): void {
    const fields = this.givenFields;
    if (fields === undefined) return;
    this.givenFields = undefined;
    for (const [name, value] of fields) super.setHeader(name, value);
  }

  /** Whether fields wait to go into the head as given (the header table then is not empty). */
  hasGivenFields(): boolean {
    return this.givenFields !== undefined;
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    this.intoTable();
    return super.setHeader(name, value);
  }
  override appendHeader(name: string, value: string | readonly string[]): this {
    this.intoTable();
    return super.appendHeader(name, value);
  }
  override getHeader(name: string): number | string | string[] | undefined {
    this.intoTable();
    return super.getHeader(name);
  }
  override getHeaders(): OutgoingHttpHeaders {
    this.intoTable();
    return super.getHeaders();
  }
  override getHeaderNames(): string[] {
    this.intoTable();
    return super.getHeaderNames();
  }
  // Node has it (v15.13); @types/node does not declare it.
  getRawHeaderNames(): string[] {
    this.intoTable();
    return (ServerResponse.prototype as unknown as { getRawHeaderNames(this: ServerResponse): string[] }).getRawHeaderNames.call(this);
  }
  override hasHeader(name: string): boolean {
    this.intoTable();
    return super.hasHeader(name);
  }
  override removeHeader(name: string): void {
    this.intoTable();
    super.removeHeader(name);
  }
  // Node's writeHead merges a head it is given into a non-empty table field by field.
  override writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    if (headers !== undefined || (reasonOrHeaders !== undefined && typeof reasonOrHeaders !== 'string')) this.intoTable();
    return typeof reasonOrHeaders === 'string' ? super.writeHead(statusCode, reasonOrHeaders, headers) : super.writeHead(statusCode, headers ?? reasonOrHeaders);
  }

  /**
   * The Content-Length the head carried, read from the head as written: a head given whole to
   * `writeHead` never enters Node's header table, so `getHeader` does not know it.
   */
  sentContentLength(): string | undefined {
    const head = (this as unknown as { _header: unknown })._header;
    return typeof head === 'string' ? /\r\ncontent-length: *(\d+)/i.exec(head)?.[1] : undefined;
  }

  _storeHeader(firstLine: string, given: unknown): void {
    let headers = given;
    let banner = true;
    // Only the implicit head (writeHead with a status alone) comes with fields still given.
    const fields = this.givenFields;
    if (fields !== undefined) {
      this.givenFields = undefined;
      if (this.proxied) {
        headers = fields;
        banner = !fields.some(([name]) => isServerField(name));
      } else headers = fields.some(([name]) => isCoreField(name)) ? fields.filter(([name]) => !isCoreField(name)) : fields;
    }
    const table = headerTableOf(this);
    if (table !== undefined) {
      if (this.proxied) banner = table.server === undefined;
      else {
        if (table.server !== undefined) delete table.server;
        if (table.date !== undefined) delete table.date;
      }
    }
    // Node's removeHeader('Date') stops its Date for good: core writes one on every answer.
    this.sendDate = true;
    const link = this.explainLink;
    const core = banner ? `${firstLine}Server: ${SERVER_BANNER}\r\n` : firstLine;
    storeHeader.call(this, link === undefined ? core : `${core}X-Htsandbox-Explain: ${link}\r\n`, headers);
  }
}

const isServerField = (name: string): boolean => name.length === 6 && name.toLowerCase() === 'server';

/** Server or Date: core writes them (ap_basic_http_header), whatever a handler gave. */
function isCoreField(name: string): boolean {
  return isServerField(name) || (name.length === 4 && name.toLowerCase() === 'date');
}

/** A head's fields as Node's `writeHead` takes them in a list: name, then one value or several lines. */
export type GivenFields = [string, string | string[]][];

type HandlerDecision = Extract<Decision, { kind: 'handler' }>;

/** What a script's answer becomes once its fields are in: its body streams, or it is over. */
export type ScriptAnswer = 'stream' | 'discard' | 'precondition-failed';

/**
 * What a handler's ap_rputs writes may hold before they go down the filters: one heap bucket of
 * APR_BUCKET_BUFF_SIZE (apr_brigade_write flushes the write that does not fit). A body longer
 * than that reaches ap_content_length_filter before its EOS, so it goes out in chunks.
 */
const RPUTS_BUFFER_BYTES = 8000;

/** Fields the header scan keeps out of err_headers_out (an error page does not carry them). */
const SCAN_OWN_FIELDS: ReadonlySet<string> = new Set(['content-type', 'location', 'last-modified', 'etag']);

/**
 * A field's name without case. The names the header scan writes itself (startResponse gives
 * Content-Type, Content-Length and Location their canonical spelling) are known; only a
 * script's own spelling is lowered. Every script answer asks this of each field several times.
 */
function fieldKey(name: string): string {
  return name === 'Content-Type' ? 'content-type' : name === 'Content-Length' ? 'content-length' : name === 'Location' ? 'location' : name.toLowerCase();
}

/** One answer's way out: made once per request, kept across internal redirects. */
/**
 * ap_http_header_filter's Content-Language: r->content_languages (AddLanguage, DefaultLanguage),
 * then each language the answer's own field names that is not among them (compared without
 * case), joined with ",".
 */
function mergedLanguages(languages: readonly string[], field: number | string | string[] | undefined): string {
  if (field === undefined) return languages.join(',');
  const out = [...languages];
  for (const token of String(field).split(',')) {
    const t = token.trim();
    if (t !== '' && !out.some((l) => l.toLowerCase() === t.toLowerCase())) out.push(t);
  }
  return out.join(',');
}

export class ResponseSink {
  /** The request as the decision being answered sees it (an internal redirect's, once there is one). */
  facts: RequestFacts;
  /**
   * The variables a script was given (ap_add_common_vars and ap_add_cgi_vars put them in
   * r->subprocess_env, where mod_headers' output filter reads `%{VAR}e` and `%{env:VAR}` after
   * the handler), set once the script runs.
   */
  scriptVariables: Readonly<Record<string, string>> | undefined;
  /**
   * What the `Header` lines on Content-Type did to the content type, in order, for the answer
   * the server makes itself: its type is in the head it writes later (ap_http_header_filter
   * writes r->content_type over the field, after mod_headers changed it).
   */
  private contentTypeSteps: ContentTypeStep[] = [];
  /**
   * The handler's content type (r->content_type) as given and as it goes out with
   * AddDefaultCharset: the `Header` lines act on the first, so an edit sees no charset.
   */
  private handlerTypeGiven: string | undefined;
  private handlerTypeSent: string | undefined;
  /** AddDefaultCharset of the configuration answering, for the type the `Header` lines leave. */
  private defaultCharset: string | undefined;
  /**
   * Constant `Header` lines' fields for an answer the server makes whose header table was
   * empty (header-ops.ts, headFieldsOfLines): they join the head given to `writeHead`.
   */
  private headFields: HeadFields | undefined;

  constructor(
    /** The site the request belongs to. */
    readonly site: SiteContext,
    readonly req: IncomingMessage,
    /** Node's response: its header store is the answer's headers_out until the head is written. */
    readonly res: ServerResponse,
    facts: RequestFacts,
  ) {
    this.facts = facts;
  }

  /** r->subprocess_env after a script's handler: the request's variables, the script's over them. */
  private scriptEnvironment(requestEnv: Map<string, string> | undefined): Map<string, string> | undefined {
    if (!this.scriptVariables) return requestEnv;
    const env = new Map(requestEnv);
    for (const k in this.scriptVariables) env.set(k, this.scriptVariables[k]!);
    return env;
  }

  /** r->header_only: the head goes out, the body does not (a HEAD request). */
  get headOnly(): boolean {
    return this.facts.method === 'HEAD';
  }

  /** Whether the head has left: after it, an error can only cut the answer off. */
  get headSent(): boolean {
    return this.res.headersSent;
  }

  /**
   * What ap_expr reads for a `Header … expr=` line: the URI, file and PATH_INFO the decision
   * names (none for an error), with the request's environment.
   */
  private exprFactsFor(d: Decision): () => ExprFacts {
    return () => requestExprFacts(this.site, this.facts, 'uri' in d ? d.uri : this.facts.rawPath, 'path' in d ? d.path : '', d.kind === 'handler' ? d.pathInfo : '', d.env, d.user);
  }

  /**
   * Step 1: what the access phase and mod_rewrite left in err_headers_out. An access-phase
   * program's fields add to what is there; a [CO] cookie whose name already went out on this
   * request is not sent again (add_cookie's note survives internal redirects).
   */
  /**
   * A file ErrorDocument's answer: its configuration's onsuccess `Header` lines (headers_out is
   * the redirected request's own). Its `always` lines are not run again: the error's already
   * are on the response (err_headers_out, copied into the redirect), and for a document in
   * the same directory they are the same lines.
   */
  errorDocumentHeaders(d: Decision & { kind: 'file' }, env: ReadonlyMap<string, string>): void {
    const cfg = dirConfigOf(d.config);
    this.defaultCharset = cfg.addDefaultCharset;
    if (cfg.headers.length > 0) applyHeaderOps(this.res, this.req, cfg.headers, 'onsuccess', env, this.exprFactsFor(d), this.contentTypeSteps);
  }

  /** An error's own fields (a 401's WWW-Authenticate: err_headers_out) that go out with its ErrorDocument's answer. */
  keepErrorFields(fields: Readonly<Record<string, string>>): void {
    for (const [name, value] of Object.entries(fields)) this.res.setHeader(name, value);
  }

  seedErrorHeaders(d: Decision): void {
    const { res } = this;
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
   * A field the handler itself puts in headers_out before the output rules run (the default
   * handler's validators: `Header unset ETag` sees them, as Apache's filter does).
   */
  handlerField(name: string, value: string): void {
    this.res.setHeader(name, value);
  }

  /** Drops fields the handler put in headers_out (an error answer is made from err_headers_out). */
  dropHandlerFields(names: readonly string[]): void {
    for (const name of names) this.res.removeHeader(name);
  }

  /**
   * Steps 2–4 as a decision reaches its handler. A file, listing or OPTIONS answer (its
   * handler's own fields, a file's validators, already in) gets mod_expires and both kinds of
   * `Header` lines; Apache's own error page or redirect, the status page and a missing handler
   * only the `always` ones. A script's request gets only the Vary mod_rewrite collected here:
   * its lines run once its fields are in (scriptAnswer). `keptVary`: the Vary kept across
   * mod_rewrite's internal redirects (redirect-keeps-vary), which an error page drops.
   * `status`: the status a file's answer already has (a failed precondition's 412), which
   * mod_expires leaves alone as it does any error (expires_filter).
   */
  decisionHeaders(d: Decision, cfg: DirConfig, script: boolean, keptVary?: readonly string[], status?: number): void {
    const { res } = this;
    // A second answer (the error a file's answer became) finds the first one's lines in the table.
    if (this.headFields) for (const [name, value] of this.takeHeadFields()!) res.setHeader(name, value);
    this.defaultCharset = cfg.addDefaultCharset;
    const made = d.kind === 'file' || d.kind === 'listing' || d.kind === 'options';
    if (made && cfg.expires.active && (status === undefined || status < 400))
      applyExpires(responseTable(res), cfg, d.kind === 'file' ? d.contentType : d.kind === 'listing' ? 'text/html' : undefined, d.kind === 'file' ? d.entry.mtimeUs : undefined);
    // fix_vary drops repeated names and joins the rest with ",".
    if (d.kind !== 'error' && d.kind !== 'redirect' && (keptVary?.length || d.vary?.length)) res.setHeader('Vary', joinVary([...(keptVary ?? []), ...(d.vary ?? [])]));
    if (!script && cfg.headers.length > 0) {
      const fields = made && headerTableEmpty(res) ? headFieldsOfLines(cfg.headers) : null;
      if (fields) this.headFields = fields;
      else applyHeaderOps(res, this.req, cfg.headers, made ? 'both' : 'always', d.env, this.exprFactsFor(d), this.contentTypeSteps);
    }
  }

  /**
   * ap_send_error_response for an error met once the handler has begun (the byterange filter's
   * 416): headers_out is cleared, so the handler's fields, mod_expires' and the onsuccess
   * `Header` lines' go; err_headers_out stays (an access-phase program's fields, [CO] cookies,
   * the `always` lines).
   */
  errorAfterHandler(d: Decision, cfg: DirConfig): void {
    const { res } = this;
    this.headFields = undefined;
    this.contentTypeSteps.length = 0;
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    if (d.authHeaders !== undefined || d.cookies !== undefined) this.seedErrorHeaders(d);
    if (cfg.headers.length > 0) applyHeaderOps(res, this.req, cfg.headers, 'always', d.env, this.exprFactsFor(d), this.contentTypeSteps);
  }

  /**
   * Whether the `Header` lines of `cfg` will go into the head as given (constant lines, nothing
   * else in the header table): then nothing needs the handler's fields in the table first.
   */
  headerLinesIntoHead(cfg: DirConfig): boolean {
    return headerTableEmpty(this.res) && headFieldsOfLines(cfg.headers) !== null;
  }

  /** The pending head fields, once. */
  private takeHeadFields(): HeadFields | undefined {
    const fields = this.headFields;
    this.headFields = undefined;
    return fields;
  }

  /**
   * Step 3 on a script's request answered without the script's fields: an error page in its
   * place (`always` lines), or mod_proxy_fcgi's empty answer (`both`).
   */
  scriptlessHeaders(d: HandlerDecision, which: 'always' | 'both' = 'always'): void {
    const cfg = dirConfigOf(d.config);
    this.defaultCharset = cfg.addDefaultCharset;
    applyHeaderOps(this.res, this.req, cfg.headers, which, d.env, this.exprFactsFor(d), this.contentTypeSteps);
  }

  /**
   * The Content-Type field of a handler's type (a file's, a script's own): with AddDefaultCharset
   * (ap_make_content_type). The type as given is kept for the `Header` lines on Content-Type.
   */
  handlerContentType(type: string, cfg: DirConfig): string {
    const sent = withDefaultCharset(type, cfg.addDefaultCharset);
    this.handlerTypeGiven = type;
    this.handlerTypeSent = sent;
    return sent;
  }

  /** The type the `Header` lines leave of `sent` (a handler's Content-Type field), with AddDefaultCharset again. */
  private typeAfterHeaderLines(steps: readonly ContentTypeStep[], sent: string | undefined, charset: string | undefined): string | undefined {
    const given = sent !== undefined && sent === this.handlerTypeSent ? this.handlerTypeGiven : sent;
    const type = contentTypeAfter(steps, given);
    return type === undefined ? undefined : withDefaultCharset(type, charset);
  }

  /**
   * Steps 2–4 for a script's answer: util_script.c puts the script's fields in err_headers_out
   * (after what the access phase left there), mod_expires and the onsuccess lines work on a
   * headers_out of their own, and both go out, err_headers_out's first, Vary's names merged with
   * the script's and the conditions' first. `status`: the script's; `contentType`: its answer's.
   */
  scriptAnswerHeaders(d: HandlerDecision, fields: [string, string[]][], status: number, contentType: string | undefined): void {
    this.scriptFields(d, fields, status, contentType);
    if (d.languages) this.res.setHeader('Content-Language', mergedLanguages(d.languages, this.res.getHeader('content-language')));
  }

  private scriptFields(d: HandlerDecision, fields: [string, string[]][], status: number, contentType: string | undefined): void {
    const { res, req } = this;
    const cfg = dirConfigOf(d.config);
    const ops = cfg.headers;
    const authHeaders = d.authHeaders ?? [];
    if (ops.length === 0 && authHeaders.length === 0) {
      // The usual case, kept cheap: no second table, and with nothing in the table yet and no
      // mod_expires, the fields are given whole for the head (HostResponse).
      const expires = status < 400 && cfg.expires.active;
      const given: GivenFields | undefined = res instanceof HostResponse && !expires && headerTableEmpty(res) ? [] : undefined;
      for (const [name, values] of fields) {
        const key = fieldKey(name);
        // Repeated fields become one line (util_script.c merges them), cookies excepted.
        const value = key === 'vary' ? mergeVary(values, given ? undefined : res.getHeader('vary')) : key === 'set-cookie' ? values : values.join(', ');
        if (given) given.push([name, value]);
        else res.setHeader(key === 'vary' ? 'Vary' : name, value);
      }
      if (given) (res as HostResponse).giveFields(given);
      else if (expires) applyExpires(responseTable(res), cfg, contentType, d.entry?.mtimeUs);
      return;
    }
    const err = new FieldTable();
    // An authorizer's fields went out in err_headers_out too (seedErrorHeaders put them on the response).
    for (const [name, value] of authHeaders) {
      res.removeHeader(name);
      err.add(name, value);
    }
    // The script's Content-Type is r->content_type (ap_set_content_type), not a field: only the
    // lines on Content-Type change it, and the header filter writes it over any such field.
    for (const [name, values] of fields) if (name !== 'Content-Type') for (const v of values) err.add(name, v);
    const out = new FieldTable();
    // mod_expires' filter runs before mod_headers' (AP_FTYPE_CONTENT_SET-2), and not on an error.
    if (status < 400 && err.get('expires') === undefined) applyExpires(out, cfg, contentType, d.entry?.mtimeUs);
    const env = this.scriptEnvironment(d.env);
    const facts = (): ExprFacts => requestExprFacts(this.site, this.facts, d.uri, d.path, d.pathInfo, env, d.user);
    const steps: ContentTypeStep[] = [];
    const exprVary = [...applyHeaderLines(err, req.headers, ops, 'always', env, facts, steps), ...applyHeaderLines(out, req.headers, ops, 'onsuccess', env, facts, steps)];
    const type = steps.length ? this.typeAfterHeaderLines(steps, contentType, cfg.addDefaultCharset) : contentType;
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
    if (type !== undefined) combined.set('content-type', { name: 'Content-Type', values: [type] });
    for (const { name, values } of combined.values()) res.setHeader(name, values.length === 1 ? values[0]! : values);
    if (scriptVary.length || earlierVary !== undefined || exprVary.length) res.setHeader('Vary', mergeVary([...scriptVary, ...exprVary], earlierVary));
  }

  /**
   * util_script.c's end of the header scan: Last-Modified is written afresh from r->mtime, a
   * date in the future becoming the request time (ap_update_mtime, ap_set_last_modified;
   * rewritten in `out`), and without a Status line a GET or HEAD is checked against its
   * conditions (ap_meets_conditions): 304, 412 or undefined.
   */
  scriptConditions(d: HandlerDecision, out: [string, string][], noStatusLine: boolean): 304 | 412 | undefined {
    const requestSec = Math.floor(Date.now() / 1000);
    let etag: string | undefined;
    // r->mtime: the latest date among the Last-Modified fields (ap_update_mtime keeps the
    // maximum); the field is then written afresh from it, or dropped when none was a date.
    let lastModified: number | undefined;
    let lastModifiedAt = -1;
    for (let i = 0; i < out.length; i++) {
      const [name, value] = out[i]!;
      const key = fieldKey(name);
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
    const method = this.facts.method;
    const override = d.statusOverride;
    // Only a successful answer so far is checked (not an ErrorDocument's).
    if (!noStatusLine || (method !== 'GET' && method !== 'HEAD') || (override !== undefined && (override < 200 || override > 299))) return undefined;
    const h = this.req.headers;
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
   * A script's answer once its header scan is done (`out`: its fields, Content-Type already
   * with AddDefaultCharset; `verdict`: scriptConditions'). 'stream': its body follows through
   * `data` and `end`; 'discard': the answer is over; 'precondition-failed': the caller sends
   * Apache's 412 page, which carries the fields util_script.c put in err_headers_out.
   * `emptyPreconditionFailed`: mod_proxy_fcgi's 412 keeps all the script's fields, no body.
   */
  scriptAnswer(
    d: HandlerDecision,
    out: readonly [string, string][],
    status: number,
    statusLine: ScriptStatus | undefined,
    verdict: 304 | 412 | undefined,
    emptyPreconditionFailed: boolean,
  ): ScriptAnswer {
    const { res } = this;
    // One field (the usual Content-Type) needs no grouping.
    let fields: [string, string[]][];
    if (out.length === 1) fields = [[out[0]![0], [out[0]![1]]]];
    else {
      const grouped = new Map<string, [string, string[]]>();
      for (const [n, v] of out) {
        const k = fieldKey(n);
        const e = grouped.get(k);
        if (e && k !== 'content-type' && k !== 'location') e[1].push(v);
        else grouped.set(k, [n, [v]]);
      }
      fields = [...grouped.values()];
    }
    this.closeInConnectionField(fields);
    if (verdict === 304) {
      // ap_meets_conditions' 304: the script's fields but Content-Type, and no body.
      res.statusCode = 304;
      this.scriptAnswerHeaders(
        d,
        fields.filter(([n]) => n !== 'Content-Type'),
        304,
        undefined,
      );
      res.end();
      return 'discard';
    }
    if (verdict === 412) {
      if (emptyPreconditionFailed) {
        res.statusCode = 412;
        this.scriptAnswerHeaders(d, fields, 412, undefined);
        // An empty body's length; ap_http_header_filter drops a 0 on a HEAD answer.
        if (!this.headOnly) res.setHeader('Content-Length', '0');
        res.end();
        return 'discard';
      }
      for (const [name, values] of fields) if (!SCAN_OWN_FIELDS.has(name.toLowerCase())) res.setHeader(name, name.toLowerCase() === 'set-cookie' ? values : values.join(', '));
      return 'precondition-failed';
    }
    // A status the request already had (a failing non-authoritative authorizer's) that no
    // status line can carry goes out as 500, as ap_get_status_line gives it.
    const sent = statusLine?.sent ?? (status >= 100 && status <= 599 ? status : 500);
    res.statusCode = sent;
    if (statusLine) res.statusMessage = statusLine.reason;
    // A status line written as the script gave it is framed as a 200 (its body follows).
    const framed = statusLine?.unsendable !== undefined ? 200 : sent;
    if (statusLine?.unsendable !== undefined) this.statusLineAsWritten(statusLine.unsendable, statusLine.reason);
    // ap_http_header_filter: a 204 or 304 (AP_STATUS_IS_HEADER_ONLY) loses its Content-Length,
    // Transfer-Encoding and content type, the script's own or the one mod_mime gave its file.
    if (framed === 204 || framed === 304) fields = fields.filter(([n]) => n !== 'Content-Type' && n !== 'Content-Length');
    this.scriptAnswerHeaders(d, fields, status, fields.find(([n]) => n === 'Content-Type')?.[1][0]);
    if (framed === 204 || framed === 304 || framed < 200) {
      res.end();
      return 'discard';
    }
    // The head waits for the first bytes of the body or its end: a body over by then gets a
    // Content-Length, a longer one chunks (Node frames it as ap_content_length_filter would).
    return 'stream';
  }

  /**
   * A script's Connection field stays, and ap_set_keepalive merges "close" into it when the
   * connection ends after this answer; Node would otherwise take the script's word and keep a
   * connection the client asked to close. Edits `fields` in place.
   */
  private closeInConnectionField(fields: [string, string[]][]): void {
    const connection = fields.findIndex(([n]) => n.length === 10 && n.toLowerCase() === 'connection');
    if (connection !== -1 && !this.res.shouldKeepAlive) fields[connection] = [fields[connection]![0], [`${fields[connection]![1].join(', ')}, close`]];
  }

  /**
   * A status below 100 (`Status: 099 Low`), which Apache sends as it is: Node's writeHead refuses
   * it, so the answer is framed as a 200 and the status line is replaced before the head leaves
   * (the head is kept in `_header` until the first write). Only this response is affected.
   */
  private statusLineAsWritten(code: string, reason: string): void {
    const res = this.res;
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

  /**
   * Step 5 for an answer whose whole body is known: the head, then the body. Its Content-Length
   * is the body's (ap_content_length_filter sees the EOS with all of it) up to
   * RPUTS_BUFFER_BYTES; a longer one (a big listing) goes out in chunks. For HEAD
   * (r->header_only) the handler makes no body (ap_send_error_response, mod_status and
   * mod_autoindex return before it), so the length counted is 0, and ap_http_header_filter
   * drops a Content-Length of 0 on a HEAD answer: none goes out.
   */
  whole(status: number, givenHead: OutgoingHttpHeaders, body?: string | Buffer, encoding?: BufferEncoding): void {
    const { res } = this;
    const head = this.withHeaderLinesType(givenHead);
    if (status === 204 || status === 304) {
      // ap_http_header_filter: a header-only status (a `[R=304]`'s canned page) goes out
      // without its body, and without a Content-Type or Content-Length.
      const { 'Content-Type': _type, 'Content-Length': _length, ...rest } = head;
      res.removeHeader('Content-Type');
      res.writeHead(status, rest);
      res.end();
      return;
    }
    if (this.headOnly) {
      res.writeHead(status, head['Content-Length'] === '0' ? withoutLength(head) : head);
      res.end();
      return;
    }
    if (body !== undefined) {
      const length = typeof body === 'string' ? Buffer.byteLength(body, encoding) : body.length;
      if (length > RPUTS_BUFFER_BYTES) {
        res.writeHead(status, head);
        if (encoding !== undefined && typeof body === 'string') res.write(body, encoding);
        else res.write(body);
        res.end();
        return;
      }
      res.setHeader('Content-Length', length);
    }
    res.writeHead(status, head);
    if (body === undefined) res.end();
    else if (encoding !== undefined && typeof body === 'string') res.end(body, encoding);
    else res.end(body);
  }

  /**
   * A whole body that goes out in chunks, without a length: Apache's 416 page, which the
   * byterange filter has ap_die make after the content-length filter let the file's EOS by.
   * None for HEAD.
   */
  chunked(status: number, head: OutgoingHttpHeaders, body: string): void {
    const { res } = this;
    res.writeHead(status, this.withHeaderLinesType(head));
    if (!this.headOnly) res.write(body);
    res.end();
  }

  /** Step 5 for a body that follows (a file's bytes): the head with its framing, now. */
  start(status: number, head: OutgoingHttpHeaders): void {
    this.res.writeHead(status, this.withHeaderLinesType(head));
  }

  /**
   * A chunk of a streamed body, dropped for HEAD. False when the client is behind (wait for
   * 'drain'), as `res.write` says.
   */
  data(chunk: Buffer): boolean {
    return this.headOnly ? true : this.res.write(chunk);
  }

  /** The end of the answer, with its last bytes (none for HEAD). */
  end(last?: Buffer): void {
    if (last === undefined || this.headOnly) this.res.end();
    else this.res.end(last);
  }

  /** `size` bytes of the open file `fd` from `start` as the rest of the body; `fd` is closed in every case. */
  fileBytes(fd: number, start: number, size: number): void {
    if (this.headOnly || size === 0) {
      closeSync(fd);
      this.res.end();
      return;
    }
    sendFileBytes(fd, this.res, start, size);
  }

  /**
   * The head with the constant `Header` lines' fields when they go into it (headFields), and
   * with the content type the `Header` lines left (contentTypeSteps): none left, and a
   * field a line added (`Header add Content-Type`) is what goes out. A multipart/byteranges
   * answer keeps its type (the byterange filter sets it after mod_headers ran).
   */
  private withHeaderLinesType(handlerHead: OutgoingHttpHeaders): OutgoingHttpHeaders {
    const head = this.headFields ? withFields(handlerHead, this.takeHeadFields()!) : handlerHead;
    if (this.contentTypeSteps.length === 0) return head;
    const given = head['Content-Type'];
    if (typeof given === 'string' && given.startsWith('multipart/byteranges')) return head;
    const type = this.typeAfterHeaderLines(this.contentTypeSteps, typeof given === 'string' ? given : undefined, this.defaultCharset);
    const { 'Content-Type': _given, ...rest } = head;
    if (type === undefined) return rest;
    this.res.removeHeader('Content-Type');
    return { ...rest, 'Content-Type': type };
  }

  /** Holds what is written until the end, so that head, body and end leave in one write. */
  cork(): void {
    this.res.cork();
  }

  /** The answer cannot be whole (or was never begun): the connection ends without more. */
  abort(): void {
    this.res.destroy();
  }
}

/** Whether nothing is in the response's header table yet (Node makes it with the first field). */
function headerTableEmpty(res: ServerResponse): boolean {
  // A Node whose table cannot be found: the lines always go through the table.
  if (OUT_HEADERS === undefined) return false;
  if (res instanceof HostResponse && res.hasGivenFields()) return false;
  const table = headerTableOf(res);
  if (table === undefined) return true;
  for (const _ in table) return false;
  return true;
}

/**
 * The handler's head with the `Header` lines' fields after it. A name the handler gives itself
 * keeps the handler's value, as when the lines' fields were in the table first and `writeHead`
 * set the handler's over them. Built field by field on an empty object (responder.ts, sendFile).
 */
function withFields(head: OutgoingHttpHeaders, fields: HeadFields): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in head) out[name] = head[name];
  for (const [name, value, lower] of fields) if (!hasFieldNamed(head, lower)) out[name] = value;
  return out;
}

/** Lower-cased head keys: the handlers' few spellings, lowered once. */
const loweredKeys = new Map<string, string>();
function hasFieldNamed(head: OutgoingHttpHeaders, lower: string): boolean {
  for (const name in head) {
    let l = loweredKeys.get(name);
    if (l === undefined) {
      if (loweredKeys.size >= 256) loweredKeys.clear();
      loweredKeys.set(name, (l = name.toLowerCase()));
    }
    if (l === lower) return true;
  }
  return false;
}

/** The head without its Content-Length (a HEAD answer's 0). */
function withoutLength(head: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const { 'Content-Length': _zero, ...rest } = head;
  return rest;
}

/** Vary names from the script (and conditions) first, then those set before. */
function mergeVary(first: readonly string[], earlier: number | string | string[] | undefined): string {
  return joinVary([...varyNames(first), ...varyNames(earlier)]);
}
