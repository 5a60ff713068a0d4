/** ap_expr (grammar/ap-expr.ts): what parses as on Apache, what does not and why, and evaluation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateApExpr, parseApExpr, type Expr, type ExprFacts } from '../src/grammar/ap-expr.js';

const facts = (vars: Record<string, string> = {}, headers: Record<string, string> = {}): ExprFacts => ({
  variable: (n) => vars[n] ?? '',
  header: (n) => headers[n.toLowerCase()] ?? '',
  env: () => undefined,
  osenv: () => undefined,
  fileTest: (op, path) => op === 'f' && path === '/srv/site/x.txt',
  readFile: (path) => (path === '/srv/site/x.txt' ? 'hello\n' : undefined),
  remoteAddr: '127.0.0.1',
});

const run = (text: string, f = facts()): boolean => {
  const p = parseApExpr(text);
  if (!p.ok) throw new Error(p.error);
  return evaluateApExpr(p.expr, f);
};

describe('ap_expr parsing', () => {
  it('accepts the forms of the grammar', () => {
    for (const ok of [
      'true',
      "%{REQUEST_URI} == '/a'",
      "%{REQUEST_URI} = '/a'",
      '%{request_uri} != "x"',
      '%{QUERY_STRING} -lt 10 && %{QUERY_STRING} ge 2',
      "!(%{REQUEST_METHOD} in {'POST', 'PUT'})",
      'not true or false and true',
      '%{REQUEST_URI} =~ m#^/a# && $0 == "/a"',
      '%{REQUEST_URI} !~ m#x#i',
      '-f %{REQUEST_FILENAME}',
      "-R '10.0.0.0/8'",
      "%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'",
      "tolower(%{HTTP_HOST}) . ':' == 'a:'",
      "%{HTTP:X-Test} == 'yes' || req('X-Other') -strcmatch 'a*'",
      "'%{REQUEST_METHOD}-$1 \\t\\101' == ''",
      '-1 -eq -1',
    ]) {
      expect(parseApExpr(ok), ok).toMatchObject({ ok: true });
    }
  });
  it('refuses what Apache refuses, with its reasons', () => {
    const cases: [string, string][] = [
      ["%{NOPE} == 'x'", "Variable 'NOPE' does not exist"],
      ["foo('x') == 'y'", "Function 'foo' does not exist"],
      ["%{nope:x} == 'y'", "Function 'nope' does not exist"],
      ['-Q %{REQUEST_URI}', "Unary operator 'Q' does not exist"],
      ["'a' -nope 'b'", "Binary operator 'nope' does not exist"],
      ["'a' in split('x')", "List-returning function 'split' does not exist"],
      ['%{REQUEST_URI} == ', 'syntax error, unexpected $end'],
      ['%{REQUEST_URI ', "Invalid character in variable name ' '"],
      ["'abc", 'Unterminated string or variable'],
      ["'\\777' == 'x'", 'Escape sequence out of bound'],
      ['%{REQUEST_URI} =~ /(/', 'Failed to compile regular expression'],
      // The scanner has no escape for the delimiter: the expression ends at the second '/'.
      ['%{REQUEST_URI} =~ /^\\/a/', 'Failed to compile regular expression'],
      ['%{REQUEST_URI} == @', "Parse error near '@'"],
      ['%{REQUEST_URI}', 'syntax error, unexpected $end'],
    ];
    for (const [text, error] of cases) expect(parseApExpr(text), text).toEqual({ ok: false, error });
  });
  it('reads thousands of nested parentheses and negations, as Apache does (fixtures deep-expr-*)', () => {
    expect(parseApExpr(`${'('.repeat(4000)}true${')'.repeat(4000)}`)).toMatchObject({ ok: true });
    expect(parseApExpr(`${'('.repeat(50_000)}true${')'.repeat(50_000)}`)).toMatchObject({ ok: true });
    const nots = parseApExpr(`${'!'.repeat(8001)}true`);
    expect(nots.ok && evaluateApExpr(nots.expr, facts())).toBe(false);
    const mixed = parseApExpr(`${'(!'.repeat(3001)}false${')'.repeat(3001)} && ${'(true || '.repeat(2000)}false${')'.repeat(2000)}`);
    expect(mixed.ok && evaluateApExpr(mixed.expr, facts())).toBe(true);
    expect(parseApExpr(`${'('.repeat(3000)}true${')'.repeat(2999)}`)).toEqual({ ok: false, error: 'syntax error, unexpected $end' });
  });
  it('gives the same tree as the grammar written out (property)', () => {
    // Precedence and associativity: ! over && over ||, both binary ones to the right.
    const show = (e: Expr): string =>
      e.kind === 'not' ? `!${show(e.e)}` : e.kind === 'and' ? `(${show(e.a)}&${show(e.b)})` : e.kind === 'or' ? `(${show(e.a)}|${show(e.b)})` : e.kind;
    expect(show((parseApExpr('true || false && !true || false') as { expr: Expr }).expr)).toBe('(true|((false&!true)|false))');
    expect(show((parseApExpr('!(true || false) && (false)') as { expr: Expr }).expr)).toBe('(!(true|false)&false)');
    const leaf = fc.constantFrom('true', 'false');
    const tree: fc.Arbitrary<string> = fc.letrec<{ t: string }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        tie('t').map((x) => `!${x}`),
        tie('t').map((x) => `(${x})`),
        fc.tuple(tie('t'), fc.constantFrom(' && ', ' || '), tie('t')).map(([a, o, b]) => a + o + b),
      ),
    })).t;
    fc.assert(
      fc.property(tree, (text) => {
        const r = parseApExpr(text);
        expect(r.ok).toBe(true);
        // JavaScript's own reading of the same text: ! over && over ||, left to right; the
        // value must agree whatever the associativity.
        const js = Function(`return ${text};`)() as boolean;
        expect(r.ok && evaluateApExpr(r.expr, facts())).toBe(js);
      }),
      { numRuns: 2000 },
    );
  });
  it('never throws on any input: an error or a tree (property)', () => {
    const piece = fc.constantFrom(
      '%{',
      '}',
      'REQUEST_URI',
      "'",
      '"',
      '(',
      ')',
      '{',
      '}',
      ',',
      '==',
      '=~',
      '/',
      'm#',
      '#',
      '-f',
      '-eq',
      '-ipmatch',
      '!',
      '&&',
      '||',
      'in',
      '$1',
      '\\',
      ' ',
      'true',
      'req',
      ':',
      'x',
      '.',
      '-',
      '1',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const r = parseApExpr(parts.join(''));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ap_expr evaluation', () => {
  it('compares strings and integers, lists, regexes with back-references, and the unary tests', () => {
    const f = facts({ REQUEST_URI: '/chain/x.txt', QUERY_STRING: '5', REQUEST_FILENAME: '/srv/site/x.txt', REQUEST_METHOD: 'GET' }, { 'x-flag': 'Off', 'x-test': 'yes' });
    expect(run("%{REQUEST_URI} == '/chain/x.txt'", f)).toBe(true);
    expect(run("%{REQUEST_URI} < '/d'", f)).toBe(true);
    expect(run('%{QUERY_STRING} -lt 10 && %{QUERY_STRING} -ge 2', f)).toBe(true);
    expect(run("'10' > '9'", f)).toBe(false);
    expect(run('10 -gt 9', f)).toBe(true);
    expect(run("%{REQUEST_METHOD} in {'POST', 'GET'}", f)).toBe(true);
    expect(run('%{REQUEST_URI} =~ m#/(ch)(ain)/# && $2 == "ain" && "$1-$0" == "ch-/chain/"', f)).toBe(true);
    expect(run('%{REQUEST_URI} !~ /CHAIN/i', f)).toBe(false);
    expect(run('-f %{REQUEST_FILENAME} && !-f "/nope"', f)).toBe(true);
    expect(run('-T %{HTTP:X-Flag} || -T req("X-None")', f)).toBe(false);
    expect(run('-n %{HTTP:X-Test} && -z %{HTTP_REFERER}', f)).toBe(true);
    expect(run("-R '127.0.0.0/8' && !-R '10.0.0.1'", f)).toBe(true);
    expect(run("'/a/b.txt' -strmatch '/a/*.txt' && 'ABC' -strcmatch 'a?c' && !('ABC' -strmatch 'a*')", f)).toBe(true);
    // -fnmatch is apr_fnmatch with APR_FNM_PATHNAME: '*', '?' and brackets stop at '/'.
    expect(run("'/a/b/c' -strmatch '/a/*' && !('/a/b/c' -fnmatch '/a/*') && '/a/b' -fnmatch '/a/*'", f)).toBe(true);
    expect(run("!('a/b' -fnmatch 'a?b') && !('a/b' -fnmatch 'a[/]b') && 'a/b' -strmatch 'a?b'", f)).toBe(true);
    expect(run("toupper('ab') . tolower('CD') == 'ABcd' && escape('a b') == 'a%20b' && unescape('a%20b') == 'a b'", f)).toBe(true);
    expect(run('base64("ab") == "YWI=" && unbase64("YWI=") == "ab"', f)).toBe(true);
    // apr_tolower/apr_toupper and APR_FNM_CASE_BLIND in the C locale: bytes above 0x7F stay.
    expect(run("tolower('CAF\u00c9') == 'caf\u00c9' && toupper('caf\u00e9\u00df\u00ff\u00b5') == 'CAF\u00e9\u00df\u00ff\u00b5'", f)).toBe(true);
    expect(run("!('caf\u00c9' -strcmatch 'caf\u00e9') && 'CAF\u00e9' -strcmatch 'caf\u00e9' && !('caf\u00c9' -strcmatch 'caf[\u00e0-\u00ef]')", f)).toBe(true);
    expect(run("'caf\u00e3' -strcmatch 'CAF[\u00e0-\u00ef]' && 'Q' -strcmatch '[a-z]' && 'q' -strcmatch '[A-Z]' && '_' -strcmatch '[Z-a]' && !('_' -strcmatch '[!Z-a]')", f)).toBe(
      true,
    );
    expect(run('%{HTTP:X-W} !~ /^caf\\xe9$/i && %{HTTP:X-W} =~ /^CAF\u00c9$/i', facts({}, { 'x-w': 'caf\u00c9' }))).toBe(true);
    // unescape is byte-wise (a UTF-8 é is two characters), keeps %2F, and is empty on a bad escape or %00.
    expect(run("unescape('caf%C3%A9') == 'caf\u00c3\u00a9' && unescape('%e9') == '\u00e9' && unescape('a%2Fb') == 'a%2Fb'", f)).toBe(true);
    expect(run("-z unescape('a%zzb') && -z unescape('a%4') && -z unescape('a%00b')", f)).toBe(true);
    expect(run("md5('a') == '0cc175b9c0f1b6a831c399e269772661' && sha1('a') == '86f7e437faa5a7fce15d1ddcb9eaeaea377667b8'", f)).toBe(true);
    expect(run("file('/srv/site/x.txt') == 'hello\\n' && filesize('/srv/site/x.txt') -eq 6 && filesize('/nope') == '0'", f)).toBe(true);
  });
});

describe("mod_ssl's names in ap_expr (ssl_expr_lookup)", () => {
  const withSsl = { ssl: true };
  it('exist only where mod_ssl is loaded, in any case (as Apache 2.4.71 finds them)', () => {
    for (const text of ["%{SSL_PROTOCOL} == ''", "%{ssl_protocol} == ''", "%{SSL:HTTPS} == 'on'", "%{ssl:HTTPS} == 'on'", "SSL('HTTPS') == 'on'"]) {
      expect(parseApExpr(text, withSsl).ok, text).toBe(true);
      expect(parseApExpr(text), text).toMatchObject({ ok: false });
    }
    expect(parseApExpr("%{ssl_protocol} == ''")).toEqual({ ok: false, error: "Variable 'ssl_protocol' does not exist" });
    expect(parseApExpr("%{ssl:HTTPS} == ''")).toEqual({ ok: false, error: "Function 'ssl' does not exist" });
    expect(parseApExpr("%{SSLX} == ''", withSsl)).toEqual({ ok: false, error: "Variable 'SSLX' does not exist" });
    // Core's own names come first: HTTPS is core's variable whether mod_ssl is loaded or not.
    expect(parseApExpr("%{HTTPS} == 'on'", withSsl)).toMatchObject({ ok: true, expr: { a: { kind: 'var', name: 'HTTPS' } } });
  });

  it("ask the facts: the variable form the connection's record, the function form the whole lookup", () => {
    const asked: string[] = [];
    const f: ExprFacts = {
      ...facts(),
      ssl: (name, how) => {
        asked.push(`${how}:${name}`);
        return how === 'variable' ? 'TLSv1.3' : 'on';
      },
    };
    const p = parseApExpr("%{ssl_Protocol} == 'TLSv1.3' && %{SSL:HTTPS} == 'on' && ssl('https') == 'on'", withSsl);
    expect(p.ok && evaluateApExpr(p.expr, f)).toBe(true);
    expect(asked).toEqual(['variable:PROTOCOL', 'function:HTTPS', 'function:https']);
  });
});
