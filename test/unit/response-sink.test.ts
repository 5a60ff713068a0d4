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
import { refOf } from '../../src/engine/config-ref.js';
import type { Decision, RequestFacts } from '../../src/engine/resolve.js';
import { NO_HOST_FACTS } from '../../src/grammar/conditions.js';
import { parseConfig } from '../../src/grammar/parser.js';
import { decisionHeaders, scriptAnswerHeaders, type SinkRequest } from '../../src/server/response-sink.js';
import type { SiteContext } from '../../src/server/site-context.js';
import { PROJECT_ROOT } from '../helpers/private-apache.js';

const MODULES = new Set(['core', 'headers', 'expires', 'mime']);

function config(text: string): DirConfig {
  const parsed = parseConfig(text, { file: '.htaccess', kind: 'htaccess', host: NO_HOST_FACTS });
  return applyLevel(EMPTY_DIR_CONFIG, parsed.nodes, (m) => MODULES.has(m));
}

function request(): SinkRequest {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  const facts = { method: 'GET', rawPath: '/x', query: undefined, remoteAddr: '127.0.0.1', headers: {} } as unknown as RequestFacts;
  return { site: {} as SiteContext, req, res: new ServerResponse(req), facts };
}

function scriptDecision(cfg: DirConfig): Extract<Decision, { kind: 'handler' }> {
  return { kind: 'handler', handler: 'cgi-script', path: '/site/x.cgi', uri: '/x.cgi', pathInfo: '', config: refOf(cfg) } as Extract<Decision, { kind: 'handler' }>;
}

const LINES = ['Header always set X-Always a', 'Header set X-Success b', 'ExpiresActive On', 'ExpiresDefault "access plus 1 hour"', ''].join('\n');

describe('response sink', () => {
  it("keeps both tables on a script's error answer, without mod_expires", () => {
    const r = request();
    scriptAnswerHeaders(r, scriptDecision(config(LINES)), [['Content-Type', ['text/plain']]], 404, 'text/plain');
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBe('b');
    expect(r.res.getHeader('expires')).toBeUndefined();
  });

  it("adds mod_expires to a script's successful answer", () => {
    const r = request();
    scriptAnswerHeaders(r, scriptDecision(config(LINES)), [['Content-Type', ['text/plain']]], 200, 'text/plain');
    expect(r.res.getHeader('cache-control')).toBe('max-age=3600');
    expect(r.res.getHeader('expires')).toBeDefined();
  });

  it("edits a script's fields with `always` lines only (they are in err_headers_out)", () => {
    const cfg = config('Header unset X-Script\nHeader always set X-Other c\n');
    const r = request();
    scriptAnswerHeaders(r, scriptDecision(cfg), [['X-Script', ['kept']]], 200, undefined);
    expect(r.res.getHeader('x-script')).toBe('kept');
    const r2 = request();
    scriptAnswerHeaders(r2, scriptDecision(config('Header always unset X-Script\n')), [['X-Script', ['gone']]], 200, undefined);
    expect(r2.res.getHeader('x-script')).toBeUndefined();
  });

  it("merges the script's Vary names before those collected earlier, each once", () => {
    const r = request();
    r.res.setHeader('Vary', 'Host');
    scriptAnswerHeaders(r, scriptDecision(config('Header always set X-A a\n')), [['Vary', ['Accept, Host']]], 200, undefined);
    expect(r.res.getHeader('vary')).toBe('Accept,Host');
  });

  it("gives Apache's own error page the `always` lines only, no expiry, no Vary", () => {
    const r = request();
    const cfg = config(LINES);
    const d: Decision = { kind: 'error', status: 403, config: refOf(cfg), vary: ['Host'] };
    decisionHeaders(r, d, cfg, false, ['Accept']);
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBeUndefined();
    expect(r.res.getHeader('expires')).toBeUndefined();
    expect(r.res.getHeader('vary')).toBeUndefined();
  });

  it('gives a listing both kinds of lines, mod_expires and the kept Vary', () => {
    const r = request();
    const cfg = config(LINES);
    decisionHeaders(r, { kind: 'listing', path: '/site', uri: '/', config: refOf(cfg), vary: ['Host'] }, cfg, false, ['Accept']);
    expect(r.res.getHeader('x-always')).toBe('a');
    expect(r.res.getHeader('x-success')).toBe('b');
    expect(r.res.getHeader('cache-control')).toBe('max-age=3600');
    expect(r.res.getHeader('vary')).toBe('Accept,Host');
  });

  it("leaves a script request's lines for its answer", () => {
    const r = request();
    const cfg = config(LINES);
    decisionHeaders(r, scriptDecision(cfg), cfg, true);
    expect(r.res.getHeaderNames()).toEqual([]);
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
});
