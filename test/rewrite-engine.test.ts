/**
 * mod_rewrite's per-directory round (src/engine/rewrite.ts) against Apache 2.4.71's rules for
 * where a query string may come from (do_expand's unsafe_qmark, hook_fixup's AH10411), how a
 * redirect target is escaped (escape_absolute_uri) and the "initial URL equal rewritten URL"
 * check. The conformance case rewrite-safety asks a real Apache the same questions.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/grammar/parser.js';
import { NO_HOST_FACTS } from '../src/grammar/conditions.js';
import { applyLevel, EMPTY_DIR_CONFIG } from '../src/engine/dir-config.js';
import type { ConfigNode } from '../src/grammar/syntax-tree.js';
import { escapeUriPath, rewriteCookie, runRewriteRound, type RewriteEnvironment, type RewriteOutcome } from '../src/engine/rewrite.js';

const DIR = '/srv/site/rw';
/** The rules of one `.htaccess` in DIR, compiled and merged by mod_rewrite's module. */
const compileRewriteLevel = (nodes: readonly ConfigNode[]) => applyLevel(EMPTY_DIR_CONFIG, nodes, () => true, 0xffff, DIR).rewrite;
const env = (vars: Record<string, string> = {}): RewriteEnvironment => ({
  variable: (name) => vars[name] ?? '',
  fileTest: () => false,
  readText: () => undefined,
  lookahead: () => false,
  map: () => undefined,
});

function round(htaccess: string, path: string, query?: string, vars?: Record<string, string>): RewriteOutcome {
  const nodes = parseConfig(`RewriteEngine On\n${htaccess}\n`, { file: `${DIR}/.htaccess`, kind: 'htaccess', host: NO_HOST_FACTS }).nodes;
  const cfg = compileRewriteLevel(nodes)!;
  const full = `${DIR}/${path}`;
  const filename = full.split('/').slice(0, 5).join('/');
  return runRewriteRound(cfg, { path: full, filename, query, documentRoot: '/srv/site', origin: 'http://localhost:8080' }, env(vars));
}

describe("a '?' that comes from the request (CVE-2024-38474, AH10508)", () => {
  it('refuses a back-reference whose ? would start the query string', () => {
    const r = round('RewriteRule ^q/(.*)$ /cgi/env.cgi/$1', 'q/x?INJECTED=1');
    expect(r).toMatchObject({ kind: 'status', status: 403 });
    expect(r.kind === 'status' && r.reason).toMatch(/^AH10508: /);
  });
  it('takes it with [UnsafeAllow3F]', () => {
    expect(round('RewriteRule ^q/(.*)$ /cgi/env.cgi/$1 [UnsafeAllow3F]', 'q/x?INJECTED=1')).toMatchObject({ kind: 'internal', url: '/cgi/env.cgi/x', query: 'INJECTED=1' });
  });
  it('keeps it in the query string when a literal ? comes first', () => {
    expect(round('RewriteRule ^p/(.*)$ /env.cgi?x=$1', 'p/x?INJECTED=1')).toMatchObject({ kind: 'internal', url: '/env.cgi', query: 'x=x?INJECTED=1' });
  });
  it('judges the last ? with [QSL]', () => {
    expect(round('RewriteRule ^p/(.*)$ /env.cgi?x=$1 [QSL]', 'p/x?INJECTED=1')).toMatchObject({ kind: 'status', status: 403 });
    expect(round('RewriteRule ^p/(.*)$ /env.cgi?x=$1 [QSL]', 'p/plain')).toMatchObject({ kind: 'internal', query: 'x=plain' });
  });
  it('refuses a ? from a variable or a condition back-reference, not an escaped literal', () => {
    expect(round('RewriteRule ^v/ /env.cgi%{QUERY_STRING}', 'v/', undefined, { QUERY_STRING: '?a' })).toMatchObject({ kind: 'status', status: 403 });
    expect(round('RewriteCond %{REQUEST_URI} ^/rw/c/(.*)$\nRewriteRule ^c/ /env.cgi/%1', 'c/a?b', undefined, { REQUEST_URI: '/rw/c/a?b' })).toMatchObject({
      kind: 'status',
      status: 403,
    });
    expect(round('RewriteRule ^e/(.*)$ /env.cgi\\?$1', 'e/a?b')).toMatchObject({ kind: 'status', status: 403 });
  });
  it('lets [B] escape the ? away', () => {
    expect(round('RewriteRule ^q/(.*)$ /env.cgi/$1 [B]', 'q/x?y')).toMatchObject({ kind: 'internal', url: '/env.cgi/x%3fy', query: undefined });
  });
  it('does not look at rules without a substitution', () => {
    expect(round('RewriteRule ^q/(.*)$ /x/$1 [R=404]', 'q/a?b')).toMatchObject({ kind: 'status', status: 404 });
  });
});

describe('a rewritten query string with controls or spaces (AH10411)', () => {
  it('is refused for an internal rewrite', () => {
    const r = round('RewriteRule ^s/(.*)$ /env.cgi?x=$1', 's/a b');
    expect(r).toMatchObject({ kind: 'status', status: 403 });
    expect(r.kind === 'status' && r.reason).toMatch(/^AH10411: /);
    expect(round('RewriteRule ^s/(.*)$ /env.cgi?x=$1', 's/a\r\nb')).toMatchObject({ kind: 'status', status: 403 });
  });
  it('allows 8-bit bytes, and [B] or [BCTLS] escaping', () => {
    expect(round('RewriteRule ^s/(.*)$ /env.cgi?x=$1', 's/a\u00e9b')).toMatchObject({ kind: 'internal', query: 'x=a\u00e9b' });
    expect(round('RewriteRule ^s/(.*)$ /env.cgi?x=$1 [B]', 's/a b')).toMatchObject({ kind: 'internal', query: 'x=a+b' });
    expect(round('RewriteRule ^s/(.*)$ /env.cgi?x=$1 [BCTLS]', 's/a b&c')).toMatchObject({ kind: 'internal', query: 'x=a+b&c' });
  });
  it('is refused for a redirect with [NE], escaped without it', () => {
    expect(round('RewriteRule ^s/(.*)$ /t/?x=$1 [R,NE]', 's/a b')).toMatchObject({ kind: 'status', status: 403 });
    expect(round('RewriteRule ^s/(.*)$ /t/?x=$1 [R]', 's/a b')).toMatchObject({ kind: 'redirect', location: 'http://localhost:8080/t/?x=a%20b' });
  });
});

describe('redirect targets (escape_absolute_uri)', () => {
  it('escapes the path after the host, lower-case hex, unless [NE]', () => {
    expect(round('RewriteRule ^a/(.*)$ http://example.org/$1 [R]', 'a/a b%20"#{|}^`~;')).toMatchObject({
      kind: 'redirect',
      status: 302,
      location: 'http://example.org/a%20b%2520%22%23%7b%7c%7d%5e%60~;',
    });
    expect(round('RewriteRule ^a/(.*)$ http://example.org/$1 [R,NE]', 'a/a b')).toMatchObject({ location: 'http://example.org/a b' });
    expect(round('RewriteRule ^a/(.*)$ http://example.org/$1', 'a/caf\u00c3\u00a9')).toMatchObject({ location: 'http://example.org/caf%c3%a9' });
    expect(round('RewriteRule ^a/(.*)$ /t/$1 [R=301]', 'a/a b')).toMatchObject({ status: 301, location: 'http://localhost:8080/t/a%20b' });
  });
  it("copies the request's own query string, escapes one the rules built", () => {
    expect(round('RewriteRule ^k/(.*)$ /t/$1 [R]', 'k/x', 'a=%20b&c')).toMatchObject({ location: 'http://localhost:8080/t/x?a=%20b&c' });
    expect(round('RewriteRule ^k/(.*)$ /t/?x=$1 [R]', 'k/a%b&c')).toMatchObject({ location: 'http://localhost:8080/t/?x=a%25b&c' });
    expect(round('RewriteRule ^k/(.*)$ /t/?x=$1 [R,NE]', 'k/a%b')).toMatchObject({ location: 'http://localhost:8080/t/?x=a%b' });
  });
  it('ap_escape_uri keeps the path-safe set', () => {
    expect(escapeUriPath("az09$-_.+!*'(),:;@&=/~ ?%#\u0001\u00ff")).toBe("az09$-_.+!*'(),:;@&=/~%20%3f%25%23%01%ff");
  });
});

describe("a result that is the request's own file", () => {
  it('is ignored, but the query string it built stays', () => {
    expect(round('RewriteRule ^env\\.cgi$ env.cgi?added=1 [QSA]', 'env.cgi', 'orig=1')).toMatchObject({ kind: 'unchanged', query: 'added=1&orig=1' });
    const plain = round('RewriteRule ^env\\.cgi$ env.cgi', 'env.cgi');
    expect(plain.kind).toBe('unchanged');
    expect('query' in plain).toBe(false);
  });
  it('is compared as a file name: a URL path to the same file is a new request', () => {
    expect(round('RewriteRule ^env\\.cgi$ /rw/env.cgi?x=1', 'env.cgi')).toMatchObject({ kind: 'internal', url: '/rw/env.cgi', query: 'x=1' });
  });
});

describe('rules after [R] or an absolute substitution (apply_rewrite_list goes on)', () => {
  it('match the fully qualified URL', () => {
    expect(round('RewriteRule ^p$ http://example.org/p [R]\nRewriteRule ^http://example\\.org/(.*)$ http://example.net/$1 [R,L]', 'p')).toMatchObject({
      kind: 'redirect',
      status: 302,
      location: 'http://example.net/p',
    });
    // The second rule's implicit redirect sets its own status (302), as Apache answers.
    expect(round('RewriteRule ^q$ /rw/q2 [R=301]\nRewriteRule ^(http://[^/]+)/rw/q2$ $1/rw/q3', 'q')).toMatchObject({
      kind: 'redirect',
      status: 302,
      location: 'http://localhost:8080/rw/q3',
    });
  });
  it('can make it local again: an internal redirect that carries the status', () => {
    expect(round('RewriteRule ^a$ /rw/b [R]\nRewriteRule ^http://.*$ /rw/t.cgi [L]', 'a')).toMatchObject({ kind: 'internal', url: '/rw/t.cgi', status: 302 });
  });
  it("a URL of this server without [R] stays a redirect (reduce_uri matches no address of the host's server)", () => {
    expect(round('RewriteRule ^own$ http://localhost:8080/rw/t.cgi', 'own')).toMatchObject({ kind: 'redirect', status: 302, location: 'http://localhost:8080/rw/t.cgi' });
  });
  it('sees path info again after each substitution, until [DPI]', () => {
    const nodes = parseConfig('RewriteEngine On\nRewriteRule ^a\\.cgi/(.*)$ b.cgi\nRewriteRule ^b\\.cgi/(.*)$ c.cgi?pi=$1 [L]\n', {
      file: `${DIR}/.htaccess`,
      kind: 'htaccess',
      host: NO_HOST_FACTS,
    }).nodes;
    const cfg = compileRewriteLevel(nodes)!;
    const input = { path: `${DIR}/a.cgi/x/y`, filename: `${DIR}/a.cgi`, query: undefined, documentRoot: '/srv/site', origin: 'http://localhost:8080' };
    expect(runRewriteRound(cfg, input, env())).toMatchObject({ kind: 'internal', url: '/rw/c.cgi', query: 'pi=x/y' });
    const dpi = compileRewriteLevel(
      parseConfig('RewriteEngine On\nRewriteRule ^a\\.cgi/(.*)$ b.cgi [DPI]\nRewriteRule ^b\\.cgi/(.*)$ c.cgi?pi=$1 [L]\n', {
        file: `${DIR}/.htaccess`,
        kind: 'htaccess',
        host: NO_HOST_FACTS,
      }).nodes,
    )!;
    expect(runRewriteRound(dpi, input, env())).toMatchObject({ kind: 'internal', url: '/rw/b.cgi' });
  });
});

describe('[CO] cookies (add_cookie)', () => {
  const now = Date.UTC(2026, 11, 5, 19, 40, 0);
  it('builds the Set-Cookie value with path, domain, expiry in minutes and the flags', () => {
    expect(rewriteCookie('a:b:example.org', now)).toEqual({ name: 'a', value: 'a=b; path=/; domain=example.org' });
    expect(rewriteCookie('a:b:.example.org:90:/app:true:1:None', now)?.value).toBe(
      'a=b; path=/app; domain=.example.org; expires=Sat, 05-Dec-2026 21:10:00 GMT; secure; HttpOnly; SameSite=None',
    );
    expect(rewriteCookie(';a;x:y;example.org;0;/;false;0;0', now)?.value).toBe('a=x:y; path=/; domain=example.org');
  });
  it('skips empty fields and needs a domain', () => {
    expect(rewriteCookie('a:b::example.org', now)?.value).toBe('a=b; path=/; domain=example.org');
    expect(rewriteCookie('a:b', now)).toBeUndefined();
  });
  it('sets a name once per round, also on a forbidden answer', () => {
    expect(round('RewriteRule ^t$ - [CO=d:1:x.org]\nRewriteRule ^t$ - [CO=d:2:x.org,CO=e:3:x.org,F]', 't')).toMatchObject({
      kind: 'status',
      status: 403,
      cookies: ['d=1; path=/; domain=x.org', 'e=3; path=/; domain=x.org'],
    });
  });
});

describe('[P], a trailing ? and [N=limit]', () => {
  it('[P] ends the list with the fully qualified URL for mod_proxy', () => {
    expect(round('RewriteRule ^p$ /rw/t.txt?x=1 [P]\nRewriteRule ^.*$ /never', 'p')).toMatchObject({ kind: 'proxy', url: 'http://localhost:8080/rw/t.txt?x=1' });
  });
  it("a trailing '?' drops the query string without splitting; with [QSA] the last '?' splits", () => {
    expect(round('RewriteRule ^u/(.*)$ /t.cgi/$1? [UnsafeAllow3F]', 'u/a?b', 'orig=1')).toMatchObject({ kind: 'internal', url: '/t.cgi/a?b', query: undefined });
    expect(round('RewriteRule ^k$ /t.cgi?a=1? [QSA]', 'k', 'orig=1')).toMatchObject({ kind: 'internal', url: '/t.cgi?a=1', query: 'orig=1' });
  });
  it('[N=limit] counts rounds from 1 (AH02596)', () => {
    const r = round('RewriteRule ^(a{0,5})x$ $1ax [N=3]', 'x');
    expect(r).toMatchObject({ kind: 'status', status: 500 });
    expect(r.kind === 'status' && r.reason).toMatch(/^AH02596: /);
    expect(round('RewriteRule ^(a{0,1})x$ $1ax [N=4]', 'x')).toMatchObject({ kind: 'internal', url: '/rw/aax' });
  });
});

describe('rules inside an <If> (per-dir prefix "*If/"; the rewrite-in-if conformance case)', () => {
  /** The lines as an `<If>` in DIR's .htaccess gives them to mod_rewrite. */
  function ifRound(lines: string, path: string): RewriteOutcome {
    const nodes = parseConfig(`RewriteEngine On\n${lines}\n`, { file: `${DIR}/.htaccess`, kind: 'htaccess', host: NO_HOST_FACTS }).nodes;
    const cfg = applyLevel(EMPTY_DIR_CONFIG, nodes, () => true, 0xffff, '*If').rewrite!;
    const full = `${DIR}/${path}`;
    return runRewriteRound(cfg, { path: full, filename: full, query: undefined, documentRoot: '/srv/site', origin: 'http://localhost:8080' }, env());
  }
  it('matches the pattern against the whole file system path', () => {
    expect(ifRound('RewriteRule ^x\\.txt$ /t.txt', 'x.txt')).toMatchObject({ kind: 'unchanged' });
    expect(ifRound('RewriteRule ^(/.*)$ /show.cgi?s=$1', 'x.txt')).toMatchObject({ kind: 'internal', url: '/show.cgi', query: `s=${DIR}/x.txt` });
  });
  it('answers 400 to a relative substitution, with or without RewriteBase', () => {
    expect(ifRound('RewriteRule x\\.txt$ y.txt', 'x.txt')).toMatchObject({ kind: 'status', status: 400 });
    expect(ifRound('RewriteBase /rw/\nRewriteRule x\\.txt$ y.txt', 'x.txt')).toMatchObject({ kind: 'status', status: 400 });
  });
  it('redirects a relative [R] to /*If/…, or under RewriteBase', () => {
    expect(ifRound('RewriteRule x\\.txt$ y.txt [R]', 'x.txt')).toMatchObject({ kind: 'redirect', status: 302, location: 'http://localhost:8080/*If/y.txt' });
    expect(ifRound('RewriteBase /rw/\nRewriteRule x\\.txt$ y.txt [R]', 'x.txt')).toMatchObject({ location: 'http://localhost:8080/rw/y.txt' });
    expect(ifRound('RewriteBase /\nRewriteRule x\\.txt$ y.txt [R]', 'x.txt')).toMatchObject({ location: 'http://localhost:8080/y.txt' });
  });
});

describe('[NC] compares bytes with A-Z folded only (strcasecmp in the C locale; case-folding case)', () => {
  // The header value is a byte string: \xc9 is 'É' in Latin-1, \xe9 is 'é'.
  const matched = (cond: string, value: string): boolean =>
    round(`RewriteCond %{HTTP:X-W} ${cond}\nRewriteRule ^x$ /yes`, 'x', undefined, { 'HTTP:X-W': value }).kind === 'internal';
  it.each([
    ['^caf\xe9$ [NC]', 'CAF\xe9', true],
    ['^caf\xe9$ [NC]', 'caf\xc9', false],
    ['=caf\xe9 [NC]', 'CAF\xe9', true],
    ['=caf\xe9 [NC]', 'caf\xc9', false],
    // strcasecmp: 0xC9 < 0xE0 (toLowerCase would compare 0xE9 with 0xE0).
    ['<caf\xe0 [NC]', 'caf\xc9', true],
    ['<caf\xe0 [NC]', 'caf\xe9', false],
  ])('RewriteCond %s against %j: %s', (cond, value, expected) => {
    expect(matched(cond, value)).toBe(expected);
  });
});
