/** Turns a decision into an HTTP response: static files, Apache's error pages, redirects. */
import { serverPortOf } from '../engine/host-field.js';
import { recordOf } from './request-journal.js';
import { closeSync, readSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { multipartByteranges, parseByteRanges, withinRangeLimits } from '../grammar/byte-ranges.js';
import { listingRequest, patternAdmits, renderListing, wildcardMatch, type Insert, type ListingEntry } from '../grammar/autoindex-page.js';
import { AI } from '../grammar/autoindex-options.js';
import { cannedErrorPage, escapeHtml } from '../grammar/error-pages.js';
import { invalidResponseField } from '../grammar/cgi-response.js';
import { normalizeRequestPath } from '../grammar/url-path.js';
import { fileETagValue, type DirConfig } from '../engine/dir-config.js';
import { dirConfigOf, type ConfigRef } from '../engine/config-ref.js';
import {
  continueAfterAuthorizer,
  factsWith,
  redirectInternally as redirectEngine,
  resolveUri,
  SCRIPT_HANDLERS,
  type Decision,
  type LogEvent,
  type RequestFacts,
} from '../engine/resolve.js';
import { ResponseSink } from './response-sink.js';
import { listingEntryLookup } from '../engine/autoindex-entries.js';
import { runCgi, type CgiContext } from './cgi-handler.js';
import { isListingHandler, runListingScript, type ListingScript } from './listing-scripts.js';
import { bindToRequest } from './request-guard.js';
import { runProxyFcgi } from './proxy-fcgi-handler.js';
import { sendStatusPage } from './status-page.js';
import { runFcgid, runFcgidAuthorizer } from './fcgid-handler.js';
import type { SiteContext } from './site-context.js';

/** The largest file whose Content-MD5 ContentDigest makes (read whole, at once: a bigger one gets none). */
const CONTENT_DIGEST_LIMIT = 16 * 1024 * 1024;
/** The most bytes a multi-range answer reads at once (see sendFile). */
const MULTIPART_READ_LIMIT = 8 * 1024 * 1024;

/** Files up to this size are read in one call (and cached) instead of streamed. */
const SMALL_FILE = 64 * 1024;
/** Upper bound of the small-file cache, in bytes. */
const SMALL_FILE_CACHE_BYTES = 32 * 1024 * 1024;

const smallFiles = new Map<string, { key: string; data: Buffer; generation?: number | undefined }>();
let smallFilesBytes = 0;

/** A cached small file still known readable: nothing on disk changed since it was opened. */
function trustedSmallFile(path: string, size: number, mtimeUs: bigint, generation: number | undefined): Buffer | undefined {
  const hit = smallFiles.get(path);
  return generation !== undefined && hit && hit.generation === generation && hit.key === `${size}:${mtimeUs}` ? hit.data : undefined;
}

function smallFile(site: SiteContext, path: string, size: number, mtimeUs: bigint, generation: number | undefined): Buffer | undefined {
  const key = `${size}:${mtimeUs}`;
  const hit = smallFiles.get(path);
  if (hit && hit.key === key) {
    hit.generation = generation;
    return hit.data;
  }
  let data: Buffer;
  try {
    data = site.fs.readFile(path);
  } catch {
    return undefined;
  }
  if (data.length !== size) return data; // changed while we looked: serve it, do not cache
  if (hit) smallFilesBytes -= hit.data.length;
  if (smallFilesBytes + size > SMALL_FILE_CACHE_BYTES) {
    smallFiles.clear();
    smallFilesBytes = 0;
  }
  smallFiles.set(path, { key, data, generation });
  smallFilesBytes += size;
  return data;
}

export type ErrorLogger = (event: LogEvent, req: RequestFacts) => void;

const httpDate = (us: bigint): string => new Date(Number(us / 1_000_000n) * 1000).toUTCString();

/**
 * A file's ETag and Last-Modified, made once per file view entry (the view keeps an entry
 * while the file is unchanged) and FileETag setting, instead of twice per request.
 */
const validatorMemo = new WeakMap<object, { fileETag: object; etag: string | undefined; lastModified: string }>();
function fileValidators(cfg: DirConfig, entry: Extract<Decision, { kind: 'file' }>['entry']): { etag: string | undefined; lastModified: string } {
  const known = validatorMemo.get(entry);
  if (known && known.fileETag === cfg.fileETag) return known;
  const made = { fileETag: cfg.fileETag, etag: fileETagValue(cfg, entry), lastModified: httpDate(entry.mtimeUs) };
  validatorMemo.set(entry, made);
  return made;
}

/**
 * The validators the default handler puts in headers_out for a file (ETag per FileETag,
 * Last-Modified, Accept-Ranges). They are set on the response before mod_headers' lines run,
 * as Apache's headers output filter sees them, so `Header unset ETag` removes the ETag.
 */
function presetFileHeaders(sink: ResponseSink, d: Extract<Decision, { kind: 'file' }>): void {
  const { etag, lastModified } = fileValidators(dirConfigOf(d.config), d.entry);
  if (etag !== undefined) sink.handlerField('ETag', etag);
  sink.handlerField('Last-Modified', lastModified);
  sink.handlerField('Accept-Ranges', 'bytes');
}

/** The default handler's fields, which an error answer (made from err_headers_out) drops. */
const FILE_VALIDATORS = ['ETag', 'Last-Modified', 'Accept-Ranges'] as const;

/** The `<hr><address>` footer for `ServerSignature On|EMail` (ServerTokens Prod: "Apache"). */
function serverSignature(cfg: DirConfig, site: SiteContext, req: IncomingMessage): string {
  if (cfg.serverSignature === 'off') return '';
  const hostHeader = req.headers.host ?? site.serverName;
  const name = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  // ap_get_server_port (UseCanonicalName Off): the Host field's port, else ServerName's, else 80/443.
  const port = String(serverPortOf(/:(\d+)$/.test(hostHeader) ? Number(/:(\d+)$/.exec(hostHeader)![1]) : undefined, site.serverName, 'encrypted' in req.socket));
  const who = cfg.serverSignature === 'email' ? `<a href="mailto:${escapeHtml(site.serverAdmin)}">${escapeHtml(name)}</a>` : escapeHtml(name);
  return `<hr>\n<address>Apache Server at ${who} Port ${port}</address>\n`;
}

function sendError(sink: ResponseSink, facts: RequestFacts, d: Extract<Decision, { kind: 'error' | 'redirect' }>, log: ErrorLogger, previous?: RedirectState): void {
  const { site, req } = sink;
  const cfg = d.config ? dirConfigOf(d.config) : site.serverConfig;
  // An error while already serving an ErrorDocument (a redirect with an error status, not a
  // script's Location): ap_die answers with the original error, and its "Additionally" line
  // names the status the redirected request carried, which is the original one too.
  const original = Number(previous?.env.get('REDIRECT_STATUS') ?? '200');
  const recursive = original >= 400 && d.status >= 400;
  const status = recursive ? original : d.status;
  const aborted = d.kind === 'error' ? d.abortedStatus : undefined;
  let additionally = recursive ? original : aborted;
  const doc = status >= 400 && !recursive && aborted === undefined ? cfg.errorDocuments.get(status) : undefined;
  if (doc) {
    if (doc.kind === 'url') {
      sink.whole(
        302,
        { Location: doc.value, 'Content-Type': 'text/html; charset=iso-8859-1' },
        cannedErrorPage(302, { method: facts.method, location: doc.value, serverAdmin: site.serverAdmin, signature: '' }),
      );
      return;
    }
    if (doc.kind === 'message') {
      sink.whole(status, { 'Content-Type': 'text/html; charset=iso-8859-1' }, doc.value);
      return;
    }
    const prior = d.config ? { previous: { config: d.config, user: d.user } } : undefined;
    // ap_internal_redirect parses the document's URL as a request's: its path is decoded
    // (`%C3%A9` and `%E9` name different files, as a request's would).
    const norm = normalizeRequestPath(doc.value.split('?')[0]!);
    const sub: Decision = norm.ok ? resolveUri(site, factsWith(facts, { method: 'GET', ...prior }), norm.uri) : { kind: 'error', status: norm.status };
    // ap_die: the request goes on as a GET to the error document, which sees the original
    // request as REDIRECT_* and answers with the error's status unless (a script) it sets one.
    const env = new Map<string, string>();
    for (const [k, v] of d.env ?? []) env.set(`REDIRECT_${k}`, v);
    if (facts.query !== undefined) env.set('REDIRECT_QUERY_STRING', facts.query);
    env.set('REDIRECT_URL', previousUri(facts.rawPath));
    // ap_die notes the original method (and any error-notes) before the redirect makes it a GET.
    env.set('REDIRECT_REQUEST_METHOD', facts.method);
    if (d.kind === 'error' && d.errorNotes) env.set('REDIRECT_ERROR_NOTES', d.errorNotes);
    env.set('REDIRECT_STATUS', String(status));
    if (sub.kind === 'file') {
      // The error's own fields (a 401's WWW-Authenticate) are in err_headers_out: they go out
      // with the error document's answer, and the document's own onsuccess Header lines
      // apply (its headers_out goes out too; mod_expires skips an error).
      if (d.kind === 'error' && d.headers) sink.keepErrorFields(d.headers);
      // REDIRECT_URL and REDIRECT_QUERY_STRING are made for scripts only (ap_add_cgi_vars):
      // the environment Header reads has the renamed variables and REDIRECT_STATUS.
      const seen = new Map([...(sub.env ?? []), ...env]);
      seen.delete('REDIRECT_URL');
      seen.delete('REDIRECT_QUERY_STRING');
      sink.errorDocumentHeaders(sub, seen);
      sendFile(sink, sub, status);
      return;
    }
    if (sub.kind === 'error') additionally = status;
    else if (sub.kind === 'handler') {
      redirectInternally(sink, facts, doc.value, env, log, previous, {
        method: facts.method === 'HEAD' ? 'HEAD' : 'GET',
        ...(d.config ? { config: d.config } : {}),
        ...(d.user ? { user: d.user } : {}),
        status,
      });
      return;
    }
  }
  const headers: Record<string, string> = { 'Content-Type': 'text/html; charset=iso-8859-1' };
  if (d.kind === 'redirect') headers.Location = d.location;
  if (d.kind === 'error' && d.allow) headers.Allow = d.allow;
  if (d.kind === 'error' && d.headers) Object.assign(headers, d.headers);
  const body = cannedErrorPage(status, {
    method: facts.method,
    serverAdmin: site.serverAdmin,
    signature: serverSignature(cfg, site, req),
    ...(d.kind === 'redirect' ? { location: d.location } : {}),
    ...(d.kind === 'error' && d.errorNotes ? { errorNotes: `<br />\n${d.errorNotes}` } : {}),
    ...(additionally !== undefined ? { additionally } : {}),
  });
  sink.whole(status, headers, Buffer.from(body, 'latin1'));
}

/**
 * ap_meets_conditions' 412 for a file: If-Match names no ETag the file has, or (without
 * If-Match) If-Unmodified-Since is older than the file.
 */
function failsPrecondition(req: IncomingMessage, etag: string | undefined, mtimeSec: number): boolean {
  const ifMatch = req.headers['if-match'];
  const ius = req.headers['if-unmodified-since'];
  if (ifMatch)
    return (
      ifMatch !== '*' &&
      (etag === undefined ||
        !ifMatch
          .split(',')
          .map((s) => s.trim())
          .includes(etag))
    );
  return ius !== undefined && Date.parse(ius) / 1000 < mtimeSec;
}

/**
 * The status a file's answer has before its output side runs: 412 when a precondition fails
 * (mod_expires leaves an error alone), else undefined. Asked only when the request has one.
 */
function filePreconditionStatus(req: IncomingMessage, d: Extract<Decision, { kind: 'file' }>): 412 | undefined {
  if (req.headers['if-match'] === undefined && req.headers['if-unmodified-since'] === undefined) return undefined;
  return failsPrecondition(req, fileValidators(dirConfigOf(d.config), d.entry).etag, Number(d.entry.mtimeUs / 1_000_000n)) ? 412 : undefined;
}

/** A file's Content-MD5, made once per file view entry (the view keeps an entry while the file is unchanged). */
const digestMemo = new WeakMap<object, string>();
function contentDigest(site: SiteContext, path: string, entry: object, bytes: Buffer | undefined): string {
  let digest = digestMemo.get(entry);
  if (digest === undefined) {
    digest = createHash('md5')
      .update(bytes ?? site.fs.readFile(path))
      .digest('base64');
    digestMemo.set(entry, digest);
  }
  return digest;
}

function sendFile(
  sink: ResponseSink,
  d: Extract<Decision, { kind: 'file' }>,
  statusOverride?: number,
  unreadable: (d: Extract<Decision, { kind: 'file' }>) => void = () => sink.abort(),
  generation?: number,
  preset = false,
): void {
  const { req, facts } = sink;
  const { entry } = d;
  // The default handler opens the file first: a file the server user cannot read is 403 (AH00132).
  // A small file opened before, with nothing changed on disk since, need not be opened again.
  const trusted = !req.headers.range ? trustedSmallFile(d.path, entry.size, entry.mtimeUs, generation) : undefined;
  let fd = -1;
  if (!trusted) {
    try {
      fd = sink.site.fs.open(d.path);
    } catch {
      unreadable(d);
      return;
    }
  }
  let fdOwned = !trusted;
  const release = (): void => {
    if (fdOwned) closeSync(fd);
    fdOwned = false;
  };
  // ap_meets_conditions compares with the ETag the handler made, whatever mod_headers later
  // does to the header; `FileETag None` makes none, so no If-None-Match matches.
  const cfg = dirConfigOf(d.config);
  const { etag, lastModified } = fileValidators(cfg, entry);
  const mtimeSec = Number(entry.mtimeUs / 1_000_000n);
  // Preset validators are on the response already, as the Header lines left them.
  const validators: Record<string, string> = preset ? {} : { 'Last-Modified': lastModified, ...(etag !== undefined ? { ETag: etag } : {}), 'Accept-Ranges': 'bytes' };
  // The head is filled field by field from an empty object, not made as a copy of `validators`: in
  // optimized code (Node 20's V8) a spread copy that then gains a field gets a new hidden class
  // every time, and Node's loop over the head's fields then builds its key cache anew (seen in
  // profiles of static answers: map transitions and enum caches on every request).
  const headers: Record<string, string> = {};
  for (const name in validators) headers[name] = validators[name]!;
  if (d.contentType) headers['Content-Type'] = sink.handlerContentType(d.contentType, cfg);
  if (d.encoding) headers['Content-Encoding'] = d.encoding;
  if (d.languages) headers['Content-Language'] = d.languages.join(',');
  // ContentDigest On: default_handler's Content-MD5, of the whole file (also on a range's answer).
  if (cfg.contentDigest && entry.size <= CONTENT_DIGEST_LIMIT) headers['Content-MD5'] = contentDigest(sink.site, d.path, entry, trusted);
  if (statusOverride === undefined) {
    if (failsPrecondition(req, etag, mtimeSec)) {
      // default_handler sets r->status to 412 and sends only the EOS: the file's own head
      // (validators, type, the Header lines) with an empty body, and no ErrorDocument.
      release();
      headers['Content-Length'] = '0';
      sink.whole(412, headers);
      return;
    }
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    // ap_condition_if_modified_since: a date later than the request's time proves nothing (200).
    const notModified = inm
      ? inm.trim() === '*' ||
        (etag !== undefined &&
          inm
            .split(',')
            .map((s) => s.trim().replace(/^W\//, ''))
            .includes(etag))
      : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Date.parse(ims) / 1000 >= mtimeSec && Date.parse(ims) <= Date.now();
    if (notModified && (facts.method === 'GET' || facts.method === 'HEAD')) {
      // The 304 keeps the file's validators and Accept-Ranges (ap_http_header_filter drops
      // only the body's fields).
      release();
      sink.whole(304, validators);
      return;
    }
  }
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  const rangeApplies =
    statusOverride === undefined &&
    (facts.method === 'GET' || facts.method === 'HEAD') &&
    range !== undefined &&
    (!ifRange || (etag !== undefined && ifRange === etag) || ifRange === lastModified);
  if (rangeApplies && entry.size > 0) {
    const parsed = parseByteRanges(range, entry.size);
    if (parsed.kind === 'unsatisfiable') {
      // Apache answers 416 with its error page and no Content-Range.
      const page = cannedErrorPage(416, { method: facts.method, serverAdmin: '', signature: '' });
      sink.errorAfterHandler(d, cfg);
      release();
      sink.chunked(416, { 'Content-Type': 'text/html; charset=iso-8859-1' }, page);
      return;
    }
    if (parsed.kind === 'ranges' && withinRangeLimits(parsed) && parsed.ranges.length > 1) {
      // Several ranges: one multipart/byteranges body (its boundary a random 64-bit number in
      // hex without leading zeros, as Apache prints it, so its length varies too). Its parts are read here at once, so a
      // request asking for more than MULTIPART_READ_LIMIT bytes in all gets the whole file
      // instead (streamed), rather than holding the server up (a difference from the host).
      const total = parsed.ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
      if (total <= MULTIPART_READ_LIMIT) {
        const file = fd >= 0 ? fd : sink.site.fs.open(d.path);
        try {
          const parts = parsed.ranges.map((r) => {
            const data = Buffer.allocUnsafe(r.end - r.start + 1);
            const n = readSync(file, data, 0, data.length, r.start);
            return { start: r.start, end: r.end, data: data.subarray(0, n) };
          });
          const made = multipartByteranges(parts, entry.size, headers['Content-Type'], randomBytes(8).readBigUInt64BE().toString(16));
          headers['Content-Type'] = made.contentType;
          headers['Content-Length'] = String(made.body.length);
          sink.start(206, headers);
          if (sink.headOnly) sink.end();
          else sink.end(made.body);
        } finally {
          if (file !== fd) closeSync(file);
          release();
        }
        return;
      }
    }
    if (parsed.kind === 'ranges' && withinRangeLimits(parsed) && parsed.ranges.length === 1) {
      const r = parsed.ranges[0]!;
      headers['Content-Range'] = `bytes ${r.start}-${r.end}/${entry.size}`;
      headers['Content-Length'] = String(r.end - r.start + 1);
      sink.start(206, headers);
      if (sink.headOnly) {
        release();
        sink.end();
        return;
      }
      fdOwned = false;
      sink.fileBytes(fd, r.start, r.end - r.start + 1);
      return;
    }
  }
  headers['Content-Length'] = String(entry.size);
  // A status no status line can carry goes out as 500 (ap_get_status_line).
  sink.start(statusOverride === undefined ? 200 : statusOverride >= 100 && statusOverride <= 599 ? statusOverride : 500, headers);
  if (sink.headOnly || entry.size === 0) {
    release();
    sink.end();
    return;
  }
  if (entry.size <= SMALL_FILE) {
    release();
    // Small files come from a bounded cache keyed by (path, size, mtime): the walk has just
    // stat'ed the file, so a change is seen on the next request. Large ones stream.
    const data = trusted ?? smallFile(sink.site, d.path, entry.size, entry.mtimeUs, generation);
    if (!data) {
      sink.abort();
      return;
    }
    sink.end(data);
    return;
  }
  fdOwned = false;
  sink.fileBytes(fd, 0, entry.size);
}

/**
 * ap_sub_req_lookup_uri of a HeaderName / ReadmeName: an HTML file goes in as it is, another
 * text/* file in <pre>; an HTML one a CGI handler runs is a script to run first.
 */
function listingInsert(sink: ResponseSink, dirUri: string, name: string | undefined, which: 'header' | 'readme'): Insert | ListingScript {
  if (name === undefined) return undefined;
  const { site, facts } = sink;
  // emit_head appends the listing's query string to the header's URI; emit_tail does not.
  const query = which === 'header' ? facts.query : undefined;
  const base = dirUri.slice(0, dirUri.lastIndexOf('/') + 1);
  const lookup = factsWith(facts, { method: 'GET', query, lookupOnly: true, story: undefined });
  const d = resolveUri(site, lookup, name.startsWith('/') ? name : `${base}${name}`);
  if (d.kind !== 'file' || d.entry.kind !== 'file' || d.contentType === undefined) return undefined;
  const type = d.contentType.split(';')[0]!.trim().toLowerCase();
  // response_is_html: the sub-request runs. A static file gives its bytes, a CGI, FastCGI or
  // mod_proxy_fcgi script its output's body (whatever its Status). Any other text/* file is
  // copied in <pre>, escaped, even a script: it is not run.
  if (type === 'text/html' || type === 'application/xhtml+xml') {
    const run = resolveUri(site, factsWith(lookup, { lookupOnly: false }), d.uri);
    if (run.kind === 'handler' && isListingHandler(run.handler)) return { decision: run, query, header: which === 'header' };
    if (run.kind !== 'file') return undefined;
  }
  if (!type.startsWith('text/')) return undefined;
  try {
    const data = site.fs.readFile(d.path).toString('latin1');
    return type === 'text/html' || type === 'application/xhtml+xml' ? { html: data } : { text: data };
  } catch {
    return undefined;
  }
}

/** What ScanHTMLTitles reads of a file (find_title: MAX_STRING_LEN - 1 bytes), when it is HTML without an encoding. */
function htmlHeadOf(site: SiteContext, path: string, contentType: string | undefined, encoding: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (encoding !== undefined || !(type === 'text/html' || type === 'application/xhtml+xml' || type === 'text/x-server-parsed-html')) return undefined;
  let fd: number | undefined;
  try {
    fd = site.fs.open(path);
    const buf = Buffer.alloc(8191);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('latin1').split('\0')[0];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** mod_autoindex's handler (`index_directory`). */
function sendListing(sink: ResponseSink, d: Extract<Decision, { kind: 'listing' }>, log: ErrorLogger): void {
  const { site, facts } = sink;
  const cfg = dirConfigOf(d.config);
  const settings = cfg.autoindex;
  const request = listingRequest(settings, facts.query);
  // ignore_entry: the name against each IndexIgnore pattern's last component (ap_strcmp_match).
  const ignored = (name: string): boolean => cfg.indexIgnore.some((p) => wildcardMatch(name, p.slice(p.lastIndexOf('/') + 1)));
  const dirPath = d.path.endsWith('/') ? d.path : `${d.path}/`;
  const entries: ListingEntry[] = [];
  let names: string[] = [];
  try {
    names = site.fs.readdir(d.path);
  } catch {
    names = [];
  }
  const fancy = (request.opts & (AI.FANCY_INDEXING | AI.TABLE_INDEXING)) !== 0;
  for (const name of names) {
    if (name === '.' || name === '..' || !patternAdmits(request, name) || ignored(name)) continue;
    const path = join(d.path, name);
    const entry = site.fs.stat(path);
    if (entry.kind !== 'file' && entry.kind !== 'dir') continue;
    const isDir = entry.kind === 'dir';
    const found = listingEntryLookup(site, facts, d.uri, name, isDir, (request.opts & AI.SHOW_FORBIDDEN) !== 0);
    if (!found) continue;
    const listed: ListingEntry = { name, isDir, size: entry.size, mtimeMs: Number(entry.mtimeUs / 1000n), filename: `${dirPath}${name}` };
    if (found.contentType !== undefined) listed.contentType = found.contentType.split(';')[0]!.trim();
    if (found.encoding !== undefined) listed.encoding = found.encoding;
    if (fancy && !isDir && request.opts & AI.SCAN_HTML_TITLES) {
      const head = htmlHeadOf(site, path, found.contentType, found.encoding);
      if (head !== undefined) listed.htmlHead = head;
    }
    entries.push(listed);
  }
  // make_parent_entry: none at the root, nor when IndexIgnore matches "..".
  const parentShown = d.uri !== '/' && d.uri !== '' && !ignored('..');
  const headers: Record<string, string> = {};
  const ctype = settings.ctype ?? 'text/html';
  // No Charset=: ISO-8859-1 (APR_HAS_UNICODE_FS is 0 on Unix); `Charset=` empty: no parameter.
  const charset = settings.charset ?? 'ISO-8859-1';
  headers['Content-Type'] = charset ? `${ctype};charset=${charset}` : ctype;
  if (request.opts & AI.TRACK_MODIFIED) {
    const dirEntry = site.fs.stat(d.path);
    if (dirEntry.kind === 'dir') {
      const { etag, lastModified } = fileValidators(cfg, dirEntry);
      headers['Last-Modified'] = lastModified;
      if (etag !== undefined) headers.ETag = etag;
    }
  }
  if (sink.headOnly) {
    sink.whole(200, headers);
    return;
  }
  const header = listingInsert(sink, d.uri, settings.header, 'header');
  const readme = listingInsert(sink, d.uri, settings.readme, 'readme');
  const draw = (headerInsert: Insert, readmeInsert: Insert): void => {
    const page = renderListing({
      uri: d.uri,
      settings,
      request,
      entries,
      parentShown,
      dirPath,
      header: headerInsert,
      readme: readmeInsert,
      signature: serverSignature(cfg, site, sink.req).replace(/^<hr>\n/, ''),
    });
    sink.whole(200, headers, Buffer.from(page, 'latin1'));
  };
  if (!isListingScript(header) && !isListingScript(readme)) {
    draw(header, readme);
    return;
  }
  // emit_head runs its sub-request before emit_tail's: the header's script first.
  const logEvent = (e: LogEvent): void => log(e, facts);
  const ran = async (insert: Insert | ListingScript): Promise<Insert> => {
    if (!isListingScript(insert)) return insert;
    const body = await runListingScript(sink, insert, d.env, logEvent);
    return body === undefined ? undefined : { html: body.toString('latin1') };
  };
  void ran(header).then(
    bindToRequest(async (headerInsert: Insert) => {
      const readmeInsert = await ran(readme);
      if (!sink.res.destroyed) draw(headerInsert, readmeInsert);
    }),
  );
}

const isListingScript = (insert: Insert | ListingScript): insert is ListingScript => insert !== undefined && 'decision' in insert;

/**
 * `ap_internal_redirect`: the engine runs the request again at `url` with the previous
 * request's variables renamed REDIRECT_* (`redirectInternally` in the engine), up to
 * LimitInternalRecursion (10).
 */
function redirectInternally(
  sink: ResponseSink,
  facts: RequestFacts,
  url: string,
  env: Map<string, string>,
  log: ErrorLogger,
  previous: RedirectState | undefined,
  change: {
    method?: string;
    rewriteEnded?: boolean;
    /** The previous request's configuration and user: the new one skips access control when it has the same. */
    config?: ConfigRef;
    user?: { name: string; authType: string };
    explain?: string;
    vary?: readonly string[];
    status?: number;
  },
): void {
  const depth = (previous?.depth ?? 0) + 1;
  if (depth > 10) {
    log(
      {
        module: 'core',
        level: 'error',
        message:
          "AH00124: Request exceeded the limit of 10 internal redirects due to probable configuration error. Use 'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel debug' to get a backtrace.",
        ...(change.explain ? { explain: change.explain } : {}),
      },
      facts,
    );
    sendError(sink, facts, { kind: 'error', status: 500, ...(change.config ? { config: change.config } : {}) }, log, previous);
    return;
  }
  const { facts: next, decision } = redirectEngine(sink.site, facts, url, {
    env,
    ...(change.config ? { previous: { config: change.config, user: change.user } } : {}),
    ...(change.method !== undefined ? { method: change.method } : {}),
    ...(change.rewriteEnded ? { rewriteEnded: true } : {}),
  });
  // An error document that is a script answers with the error's status unless it sets one.
  if (change.status !== undefined && decision.kind === 'handler') decision.statusOverride ??= change.status;
  answer(sink, next, decision, log, {
    env,
    // QualifyRedirectURL's REDIRECT_URL: the previous request's parsed URI made whole
    // (apr_uri_unparse with the scheme, host and port filled in, its query string kept).
    previousUrl: `${facts.origin}${facts.rawPath}${facts.query !== undefined ? `?${facts.query}` : ''}`,
    depth,
    ...(change.vary?.length ? { vary: change.vary } : {}),
    ...(change.status !== undefined ? { status: change.status } : {}),
  });
}

/** A CGI's `Location: /local` (no Status): the request starts again as GET at that URL. */
function internalRedirect(
  sink: ResponseSink,
  facts: RequestFacts,
  d: Extract<Decision, { kind: 'handler' }>,
  location: string,
  scriptEnv: Map<string, string>,
  log: ErrorLogger,
  previous: RedirectState | undefined,
): void {
  // The script's environment was the request's subprocess_env, so all of it is renamed.
  const env = new Map<string, string>();
  for (const [k, v] of scriptEnv) env.set(`REDIRECT_${k}`, v);
  env.set('REDIRECT_URL', d.uri);
  env.set('REDIRECT_STATUS', '200');
  redirectInternally(sink, facts, location, env, log, previous, {
    method: facts.method === 'HEAD' ? 'HEAD' : 'GET',
    config: d.config,
    ...(d.user ? { user: d.user } : {}),
  });
}

/** mod_rewrite's internal redirect: the request starts again at the new URL, same method. */
function rewriteRedirect(sink: ResponseSink, facts: RequestFacts, d: Extract<Decision, { kind: 'internal' }>, log: ErrorLogger, previous: RedirectState | undefined): void {
  // The request's variables (SetEnv, E=) come back with a REDIRECT_ prefix.
  const env = new Map<string, string>();
  for (const [k, v] of previous?.env ?? []) env.set(`REDIRECT_${k}`, v);
  for (const [k, v] of d.env ?? []) env.set(`REDIRECT_${k}`, v);
  // internal_internal_redirect: the new request inherits r->status (an [R] made local again).
  env.set('REDIRECT_STATUS', String(d.status ?? 200));
  env.set('REDIRECT_URL', previousUri(facts.rawPath));
  // r->args was already rewritten: that is what REDIRECT_QUERY_STRING shows.
  if (d.query !== undefined) env.set('REDIRECT_QUERY_STRING', d.query);
  // QSL can leave a '?' in the path: the new URL is split at its first one.
  const url = d.url + (d.query !== undefined ? `?${d.query}` : '');
  // mod_rewrite sets redirect-keeps-vary: the Vary it collected survives the redirect.
  redirectInternally(sink, facts, url, env, log, previous, {
    config: d.config,
    ...(d.user ? { user: d.user } : {}),
    vary: [...(previous?.vary ?? []), ...(d.vary ?? [])],
    rewriteEnded: d.end,
    ...(d.status !== undefined ? { status: d.status } : {}),
    explain: 'A RewriteRule keeps matching its own result: add a RewriteCond that stops it (e.g. %{REQUEST_FILENAME} !-f) or use [END].',
  });
}

/**
 * REDIRECT_URL is the previous request's r->uri (internal_internal_redirect): its path decoded
 * and normalised, as bytes (a `%E9` is the byte 0xE9, not a UTF-8 sequence). A path refused
 * while it was decoded (`%2F`, `%00`) was decoded all the same (ap_unescape_url goes on after
 * a forbidden byte), so every valid `%XX` is decoded then.
 */
function previousUri(rawPath: string): string {
  const norm = normalizeRequestPath(rawPath || '/');
  return norm.ok ? norm.uri : rawPath.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Internal-redirect state: REDIRECT_* variables and how deep we are (LimitInternalRecursion 10). */
export interface RedirectState {
  env: ReadonlyMap<string, string>;
  /** The previous request's full URL, for a script under QualifyRedirectURL On. */
  previousUrl?: string;
  depth: number;
  /** Vary kept across mod_rewrite's internal redirects. */
  vary?: readonly string[];
  /** r->status the redirected request inherits (a static file is sent with it). */
  status?: number;
}

/** Sends the response for a decision: the request's one sink is made here. */
export function respond(site: SiteContext, req: IncomingMessage, res: ServerResponse, facts: RequestFacts, d: Decision, log: ErrorLogger, redirected?: RedirectState): void {
  answer(new ResponseSink(site, req, res, facts), facts, d, log, redirected);
}

/**
 * Answers a decision through the request's sink; an internal redirect, an error document and an
 * authorizer's verdict come back here with the same sink (one answer per request, as Apache's
 * redirected request_rec shares its connection's output filters).
 */
function answer(sink: ResponseSink, facts: RequestFacts, d: Decision, log: ErrorLogger, redirected?: RedirectState): void {
  const { site, req, res } = sink;
  sink.facts = facts;
  const rec = recordOf(res);
  if (rec)
    rec.handler = d.kind === 'handler' ? d.handler : d.kind === 'file' ? 'static' : d.kind === 'listing' ? 'autoindex' : d.kind === 'fcgi-auth' ? 'fcgid-authorizer' : d.kind;
  if (d.kind === 'fcgi-auth') {
    // The access phase waits for mod_fcgid's program; the body stays unread for the handler.
    runFcgidAuthorizer(
      {
        site,
        req,
        res,
        sink,
        facts,
        log: (e) => log(e, facts),
        ...(redirected ? { redirectEnv: redirected.env, previousUrl: redirected.previousUrl } : {}),
      },
      d,
      (outcome) => answer(sink, facts, continueAfterAuthorizer(site, facts, d, outcome), log, redirected),
    );
    return;
  }
  // mod_rewrite replaced r->args while ignoring a rewrite to the same file.
  if (d.args) {
    facts = { ...facts, query: d.args.query };
    sink.facts = facts;
  }
  if (d.kind === 'error' && d.log) log(d.log, facts);
  if (d.kind === 'error' && d.noAnswer) {
    sink.abort();
    return;
  }
  // An access-phase program's fields (and a redirect's Location) meet the core output filter's
  // check like a script's: a byte HTTP does not allow is the host's 500 (check_headers).
  if (d.authHeaders?.length || d.kind === 'redirect') {
    const fields: [string, string][] = [...(d.authHeaders ?? []), ...(d.kind === 'redirect' ? [['Location', d.location] as [string, string]] : [])];
    const problem = fields.map(([name, value]) => invalidResponseField(name, value)).find((p) => p !== undefined);
    if (problem !== undefined) {
      log(
        {
          module: 'http',
          level: 'error',
          message: problem,
          explain: 'A response header field holds a byte HTTP does not allow (an FcgidAuthorizer program printed it, or a redirect target has a control byte): remove it.',
        },
        facts,
      );
      sendError(sink, facts, { kind: 'error', status: 500, ...(d.config ? { config: d.config } : {}) }, log, redirected);
      return;
    }
  }
  // An access-phase program's header fields and mod_rewrite's [CO] cookies go out with
  // whatever the answer is (err_headers_out).
  if (d.authHeaders !== undefined || d.cookies !== undefined) sink.seedErrorHeaders(d);
  // mod_rewrite's internal redirect (ap_internal_redirect) answers with the new request's
  // headers_out and output filters, made from the target's per-directory configuration
  // (its <Files>/<FilesMatch>): nothing of this request's Header or Expires lines goes out.
  if (d.kind === 'internal') {
    rewriteRedirect(sink, facts, d, log, redirected);
    return;
  }
  const isCgi = d.kind === 'handler' && (SCRIPT_HANDLERS.has(d.handler) || d.handler.startsWith('proxy:'));
  // Only scripts read the request body; for everything else it is drained.
  if (!isCgi) req.resume();
  const cfg = d.config ? dirConfigOf(d.config) : site.serverConfig;
  // The handler's own fields first (the default handler's validators), then the output side.
  // Only `Header` lines look at them before the head goes out: without any, or with constant
  // lines that go into the head too (ResponseSink.headerLinesIntoHead), they go into the head
  // the file's answer gives whole (Node writes it as given, not field by field).
  const preset = d.kind === 'file' && cfg.headers.length > 0 && !sink.headerLinesIntoHead(cfg);
  if (preset) presetFileHeaders(sink, d);
  const knownStatus = d.kind === 'file' && d.statusOverride === undefined && redirected?.status === undefined ? filePreconditionStatus(req, d) : undefined;
  sink.decisionHeaders(d, cfg, isCgi, redirected?.vary, knownStatus);
  switch (d.kind) {
    case 'error':
    case 'redirect':
      sendError(sink, facts, d, log, redirected);
      return;
    case 'file':
      // A failing non-authoritative FcgidAuthorizer's status stays the request's (r->status);
      // an error document keeps the error's status.
      sendFile(
        sink,
        d,
        d.statusOverride ?? redirected?.status,
        (f) => {
          sink.dropHandlerFields(FILE_VALIDATORS);
          const err: Decision = {
            kind: 'error',
            status: 403,
            config: f.config,
            log: {
              module: 'core',
              level: 'error',
              message: `(13)Permission denied: AH00132: file permissions deny server access: ${f.path}`,
              code: 'HT505',
              explain: `The server user cannot read ${f.path}: make it readable by that user (for example chmod o+r, or chown it to the site's owner).`,
            },
          };
          answer(sink, facts, err, log);
        },
        site.fs.generation,
        preset,
      );
      return;
    case 'listing':
      sendListing(sink, d, log);
      return;
    case 'options':
      // ap_send_http_options: no body; the type is the one mod_mime gave the file, if any.
      sink.whole(
        200,
        d.contentType === undefined
          ? { Allow: d.allow, 'Content-Length': '0' }
          : { Allow: d.allow, 'Content-Length': '0', 'Content-Type': sink.handlerContentType(d.contentType, cfg) },
      );
      return;
    case 'handler': {
      if (d.handler === 'server-status') {
        sendStatusPage(sink, facts.query);
        return;
      }
      if (isCgi) {
        // One literal of one shape (no spreads): this runs for every script request.
        const fcgid = d.handler === 'fcgid-script';
        const context: CgiContext = {
          site,
          req,
          res,
          sink,
          facts,
          decision: d,
          log: (e) => log(e, facts),
          fail: (status) => {
            sink.scriptlessHeaders(d);
            sendError(sink, facts, { kind: 'error', status, config: d.config }, log, redirected);
          },
          redirect: (location, env) => internalRedirect(sink, facts, d, location, env, log, redirected),
          redirectEnv: redirected?.env,
          previousUrl: redirected?.previousUrl,
        };
        if (fcgid) runFcgid(context);
        else if (d.handler.startsWith('proxy:')) runProxyFcgi(context);
        else runCgi(context);
        return;
      }
      const event: LogEvent = {
        module: 'htsandbox',
        level: 'error',
        message: `handler "${d.handler}" is not available in this htsandbox build: ${d.path}`,
        explain: `${d.path} would run as ${d.handler} on the host; htsandbox does not run CGI/FastCGI scripts yet, so it answers 500.`,
      };
      log(event, facts);
      sendError(sink, facts, { kind: 'error', status: 500, config: d.config }, log, redirected);
      return;
    }
  }
}
