/**
 * The response sink: the output side (mod_expires, mod_headers' two tables, Vary) runs in one
 * place, in Apache's order, for every kind of answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyLevel, EMPTY_DIR_CONFIG, type DirConfig } from '../../src/engine/dir-config.js';
import type { Decision, RequestFacts } from '../../src/engine/resolve.js';
import { refOf } from '../../src/engine/config-ref.js';
import { NO_HOST_FACTS } from '../../src/grammar/conditions.js';
import { parseConfig } from '../../src/grammar/parser.js';
import { HostResponse, ResponseSink } from '../../src/server/response-sink.js';
import type { SiteContext } from '../../src/server/site-context.js';
import { PROJECT_ROOT } from '../helpers/private-apache.js';

const MODULES = new Set(['core', 'headers', 'expires', 'mime']);

function config(text: string): DirConfig {
  const parsed = parseConfig(text, { file: '.htaccess', kind: 'htaccess', host: NO_HOST_FACTS });
  return applyLevel(EMPTY_DIR_CONFIG, parsed.nodes, (m) => MODULES.has(m));
}

function request(method = 'GET', headers: Record<string, string> = {}, Response: typeof ServerResponse = ServerResponse): ResponseSink {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.headers = headers;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const facts = { method, rawPath: '/x', query: undefined, remoteAddr: '127.0.0.1', headers: {} } as unknown as RequestFacts;
  return new ResponseSink({} as SiteContext, req, new Response(req), facts);
}

/** A sink on the server's own response class (fields can be given whole). */
const hostRequest = (): ResponseSink => request('GET', {}, HostResponse as typeof ServerResponse);

/** A script's 200 with `fields` (no Header lines, no mod_expires). */
function scriptFieldsOn(r: ResponseSink, fields: [string, string[]][]): void {
  r.scriptAnswerHeaders(scriptDecision(EMPTY_DIR_CONFIG), fields, 200, 'text/plain');
}

/** The head as it would leave (Node keeps it until the socket takes it). */
function head(r: ResponseSink): string {
  return (r.res as ServerResponse & { _header: string | null })._header ?? '';
}

/** What was written after the head, as text. */
function written(r: ResponseSink): string {
  const out = r.res as unknown as { outputData: { data: string | Buffer }[] };
  return out.outputData.map((o) => String(o.data)).join('');
}

function scriptDecision(cfg: DirConfig): Extract<Decision, { kind: 'handler' }> {
  return { kind: 'handler', handler: 'cgi-script', path: '/site/x.cgi', uri: '/x.cgi', pathInfo: '', config: refOf(cfg) } as Extract<Decision, { kind: 'handler' }>;
}

const LINES = ['Header always set X-Always a', 'Header set X-Success b', 'ExpiresActive On', 'ExpiresDefault "access plus 1 hour"', ''].join('\n');

describe('response sink', () => {
  it("keeps both tables on a script's error answer, without mod_expires", () => {
    const r = request();
    r.scriptAnswerHeaders(scriptDecision(config(LINES)), [['Content-Type', ['text/plain']]], 404, 'text/plain');
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBe('b');
    expect(r.res.getHeader('expires')).toBeUndefined();
  });

  it("adds mod_expires to a script's successful answer", () => {
    const r = request();
    r.scriptAnswerHeaders(scriptDecision(config(LINES)), [['Content-Type', ['text/plain']]], 200, 'text/plain');
    expect(r.res.getHeader('cache-control')).toBe('max-age=3600');
    expect(r.res.getHeader('expires')).toBeDefined();
  });

  it("edits a script's fields with `always` lines only (they are in err_headers_out)", () => {
    const cfg = config('Header unset X-Script\nHeader always set X-Other c\n');
    const r = request();
    r.scriptAnswerHeaders(scriptDecision(cfg), [['X-Script', ['kept']]], 200, undefined);
    expect(r.res.getHeader('x-script')).toBe('kept');
    const r2 = request();
    r2.scriptAnswerHeaders(scriptDecision(config('Header always unset X-Script\n')), [['X-Script', ['gone']]], 200, undefined);
    expect(r2.res.getHeader('x-script')).toBeUndefined();
  });

  it("merges the script's Vary names before those collected earlier, each once", () => {
    const r = request();
    r.res.setHeader('Vary', 'Host');
    r.scriptAnswerHeaders(scriptDecision(config('Header always set X-A a\n')), [['Vary', ['Accept, Host']]], 200, undefined);
    expect(r.res.getHeader('vary')).toBe('Accept,Host');
  });

  it("gives Apache's own error page the `always` lines only, no expiry, no Vary", () => {
    const r = request();
    const cfg = config(LINES);
    const d: Decision = { kind: 'error', status: 403, config: refOf(cfg), vary: ['Host'] };
    r.decisionHeaders(d, cfg, false, ['Accept']);
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBeUndefined();
    expect(r.res.getHeader('expires')).toBeUndefined();
    expect(r.res.getHeader('vary')).toBeUndefined();
  });

  it('gives a listing both kinds of lines, mod_expires and the kept Vary', () => {
    const r = request();
    const cfg = config(LINES);
    r.decisionHeaders({ kind: 'listing', path: '/site', uri: '/', config: refOf(cfg), vary: ['Host'] }, cfg, false, ['Accept']);
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBe('b');
    expect(r.res.getHeader('cache-control')).toBe('max-age=3600');
    expect(r.res.getHeader('vary')).toBe('Accept,Host');
  });

  it("leaves a script request's lines for its answer", () => {
    const r = request();
    const cfg = config(LINES);
    r.decisionHeaders(scriptDecision(cfg), cfg, true);
    expect(r.res.getHeaderNames()).toEqual([]);
  });

  it('gives the type a `Header` line leaves AddDefaultCharset again, as ap_http_header_filter does (case-folding case)', () => {
    const typeOf = (lines: string, handlerType: string, status = 200): string | undefined => {
      const r = request();
      const cfg = config(`${lines}\n`);
      const d: Decision = { kind: 'listing', path: '/site', uri: '/', config: refOf(cfg) };
      r.decisionHeaders(d, cfg, false);
      r.whole(status, { 'Content-Type': r.handlerContentType(handlerType, cfg) }, 'x');
      return /\r\nContent-Type: ([^\r]*)\r\n/.exec(head(r))?.[1];
    };
    expect(typeOf('AddDefaultCharset utf-8\nHeader set Content-Type text/plain', 'application/json')).toBe('text/plain; charset=utf-8');
    expect(typeOf('AddDefaultCharset On\nHeader always set Content-Type Text/HTML', 'text/plain')).toBe('Text/HTML; charset=iso-8859-1');
    expect(typeOf('AddDefaultCharset utf-8\nHeader set Content-Type x-text/plainish', 'text/plain')).toBe('x-text/plainish; charset=utf-8');
    expect(typeOf('AddDefaultCharset utf-8\nHeader set Content-Type "text/plain; Charset=koi8-r"', 'text/plain')).toBe('text/plain; Charset=koi8-r');
    expect(typeOf('AddDefaultCharset utf-8\nHeader set Content-Type application/json', 'text/plain')).toBe('application/json');
    expect(typeOf('Header set Content-Type text/plain', 'text/html')).toBe('text/plain');
    // The lines see the handler's type without the charset: `^text/html$` matches it.
    expect(typeOf('AddDefaultCharset utf-8\nHeader edit Content-Type ^text/html$ text/plain', 'text/html')).toBe('text/plain; charset=utf-8');
    // A script's own type: the same, on a script error status too.
    const r = request();
    const cfg = config('AddDefaultCharset utf-8\nHeader edit Content-Type ^text/html$ text/plain\n');
    const sent = r.handlerContentType('text/html', cfg);
    r.scriptAnswerHeaders(scriptDecision(cfg), [['Content-Type', [sent]]], 404, sent);
    expect(r.res.getHeader('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('frames a whole body with its length, and a HEAD answer with neither body nor length', () => {
    const get = request('GET');
    get.whole(404, { 'Content-Type': 'text/plain' }, 'hello', 'latin1');
    expect(head(get)).toMatch(/\r\nContent-Length: 5\r\n/);
    expect(written(get)).toContain('hello');
    // ap_send_error_response makes no body for HEAD, and ap_http_header_filter drops the 0.
    const headOnly = request('HEAD');
    headOnly.whole(404, { 'Content-Type': 'text/plain' }, 'hello', 'latin1');
    expect(head(headOnly)).toMatch(/^HTTP\/1\.1 404 /);
    expect(head(headOnly)).not.toMatch(/Content-Length|Transfer-Encoding/);
    expect(written(headOnly)).not.toContain('hello');
    const empty = request('HEAD');
    empty.whole(200, { 'Content-Length': '0' });
    expect(head(empty)).not.toMatch(/Content-Length/);
  });

  it('chunks a whole body longer than what ap_rputs buffers (8000 bytes)', () => {
    const small = request('GET');
    small.whole(200, { 'Content-Type': 'text/html' }, 'x'.repeat(8000));
    expect(head(small)).toMatch(/\r\nContent-Length: 8000\r\n/);
    const big = request('GET');
    big.whole(200, { 'Content-Type': 'text/html' }, 'x'.repeat(8001));
    expect(head(big)).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(head(big)).not.toMatch(/Content-Length/);
  });

  it("sends Apache's 416 page in chunks, without a length", () => {
    const r = request('GET');
    r.chunked(416, { 'Content-Type': 'text/html' }, 'page');
    expect(head(r)).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(head(r)).not.toMatch(/Content-Length/);
    expect(written(r)).toContain('page');
  });

  it("answers a script's matching If-None-Match with a 304 without Content-Type or body", () => {
    const r = request('GET', { 'if-none-match': '"v1"' });
    const d = scriptDecision(EMPTY_DIR_CONFIG);
    const out: [string, string][] = [
      ['Content-Type', 'text/html'],
      ['ETag', '"v1"'],
    ];
    const verdict = r.scriptConditions(d, out, true);
    expect(verdict).toBe(304);
    expect(r.scriptAnswer(d, out, 200, undefined, verdict, false)).toBe('discard');
    expect(r.res.statusCode).toBe(304);
    expect(r.res.getHeader('etag')).toBe('"v1"');
    expect(r.res.getHeader('content-type')).toBeUndefined();
  });

  it("checks no conditions on a script's answer with a Status line", () => {
    const r = request('GET', { 'if-none-match': '"v1"' });
    expect(r.scriptConditions(scriptDecision(EMPTY_DIR_CONFIG), [['ETag', '"v1"']], false)).toBeUndefined();
  });

  it("leaves a failed precondition's page to the caller, with the script's err_headers_out fields", () => {
    const r = request('GET', { 'if-match': '"other"' });
    const d = scriptDecision(EMPTY_DIR_CONFIG);
    const out: [string, string][] = [
      ['ETag', '"v1"'],
      ['X-Kept', 'yes'],
    ];
    const verdict = r.scriptConditions(d, out, true);
    expect(verdict).toBe(412);
    expect(r.scriptAnswer(d, out, 200, undefined, verdict, false)).toBe('precondition-failed');
    expect(r.res.getHeader('x-kept')).toBe('yes');
    expect(r.res.getHeader('etag')).toBeUndefined();
    expect(r.headSent).toBe(false);
  });

  it("lets a script's streamed body decide its framing, and drops it for HEAD", () => {
    const d = scriptDecision(EMPTY_DIR_CONFIG);
    const r = request('HEAD');
    expect(r.scriptAnswer(d, [['Content-Type', 'text/plain']], 200, undefined, undefined, false)).toBe('stream');
    expect(r.headSent).toBe(false);
    r.data(Buffer.from('body'));
    r.end();
    expect(written(r)).not.toContain('body');
  });

  it('sends a status line below 100 as the script wrote it', () => {
    const r = request();
    const d = scriptDecision(EMPTY_DIR_CONFIG);
    const line = { code: 99, sent: 99, reason: 'Low', invalid: true, unsendable: '099' };
    expect(r.scriptAnswer(d, [['Content-Type', 'text/plain']], 99, line, undefined, false)).toBe('stream');
    r.end(Buffer.from('x'));
    expect(head(r)).toMatch(/^HTTP\/1\.1 099 Low\r\n/);
  });

  it('is the only server file that applies the output rules', () => {
    const dir = join(PROJECT_ROOT, 'src', 'server');
    const users = readdirSync(dir)
      // header-ops.ts adapts a ServerResponse to mod_headers' tables; only the sink imports it.
      .filter((f) => f.endsWith('.ts') && f !== 'response-sink.ts' && f !== 'header-ops.ts')
      .filter((f) => {
        // The request side of mod_headers (RequestHeader, before a script runs) may be imported
        // elsewhere; any other import of the output modules is a second copy of the output side.
        const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/^import([^;]*)['"][^'"]*(header-ops|modules\/headers|modules\/expires)\.js['"]/gm)];
        return imports.some((m) => m[1]!.replace(/[{}\s]/g, '') !== 'applyRequestHeaderLinesfrom');
      });
    expect(users).toEqual([]);
  });

  it("gives a script's fields whole to the head, core's Server and Date excepted", () => {
    const r = hostRequest();
    const fields: [string, string[]][] = [
      ['Content-Type', ['text/plain']],
      ['X-Two', ['a', 'b']],
      ['Set-Cookie', ['c=1', 'd=2']],
      ['Server', ['Mine/1.0']],
      ['date', ['Tue, 01 Jan 2019 00:00:00 GMT']],
    ];
    scriptFieldsOn(r, fields);
    expect((r.res as HostResponse).hasGivenFields()).toBe(true);
    r.end(Buffer.from('hi'));
    const h = head(r);
    expect(h).toMatch(/^HTTP\/1\.1 200 OK\r\nServer: Apache \(htsandbox\)\r\nContent-Type: text\/plain\r\nX-Two: a, b\r\nSet-Cookie: c=1\r\nSet-Cookie: d=2\r\nDate: /);
    expect(h).not.toContain('Mine/1.0');
    expect(h).not.toContain('2019');
    expect(h).toContain('Content-Length: 2\r\n');
  });

  it('puts given fields in the header table once anything asks it', () => {
    const r = hostRequest();
    scriptFieldsOn(r, [
      ['Content-Type', ['text/plain']],
      ['X-A', ['1']],
    ]);
    const res = r.res as HostResponse;
    expect(res.getHeader('x-a')).toBe('1');
    expect(res.hasGivenFields()).toBe(false);
    res.setHeader('X-A', '2');
    res.removeHeader('Content-Type');
    r.end();
    const h = head(r);
    expect(h.match(/X-A/g)).toEqual(['X-A']);
    expect(h).toContain('X-A: 2\r\n');
    expect(h).not.toContain('Content-Type');
  });

  it("keeps a proxied answer's own Server with given fields", () => {
    const r = hostRequest();
    (r.res as HostResponse).proxied = true;
    scriptFieldsOn(r, [
      ['Server', ['Backend/1.0']],
      ['Content-Type', ['text/plain']],
    ]);
    r.end();
    const h = head(r);
    expect(h).toContain('Server: Backend/1.0\r\n');
    expect(h).not.toContain('htsandbox');
  });

  it('alone writes the status line and head of every answer', () => {
    const dir = join(PROJECT_ROOT, 'src', 'server');
    // Not answers of the emulated host: http-server.ts and request-guard.ts answer a request
    // before it has a decision (Node's parser errors, the crash guard); dashboard.ts is
    // htsandbox's own page. file-sender.ts is the sink's pump for a file's bytes.
    const outside = new Set(['response-sink.ts', 'header-ops.ts', 'http-server.ts', 'request-guard.ts', 'dashboard.ts']);
    const head = /\.(writeHead|setHeader|removeHeader|statusMessage|_header)\b|\.statusCode\s*=[^=]/;
    const body = /\bres\.(write|end|cork)\(|\bsendFileBytes\b/;
    const offenders: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !outside.has(n))) {
      const lines = readFileSync(join(dir, f), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (line.trimStart().startsWith('*') || line.trimStart().startsWith('//')) return;
        if (head.test(line) || (f !== 'file-sender.ts' && body.test(line))) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
