/** The autoindex page, its query string, sort and apr_strfsize, against bytes recorded from Apache. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { listingRequest, patternAdmits, renderListing, strfsize, strnatcmp, wildcardMatch } from '../src/grammar/autoindex-page.js';
import { compileFnmatch } from '../src/grammar/fnmatch.js';
import { applyLevel, EMPTY_DIR_CONFIG } from '../src/engine/dir-config.js';
import { parseConfig } from '../src/grammar/parser.js';
import { hostFacts } from '../src/grammar/host-config.js';
import { AI } from '../src/grammar/autoindex-options.js';

const host = hostFacts(new Set(['autoindex']));
const settingsOf = (text: string) => applyLevel(EMPTY_DIR_CONFIG, parseConfig(text, { file: '/host.conf', kind: 'server', host }).nodes, () => true).autoindex;
const HOST = settingsOf('IndexOptions FancyIndexing VersionSort HTMLTable NameWidth=* DescriptionWidth=* Charset=UTF-8\n');

/** `ap_strcmp_match` as util.c writes it (recursive; -1 stops the search once the string is used up). */
function apStrcmpMatch(str: string, expected: string, caseless: boolean): number {
  const fold = (c: string | undefined) => (caseless && c !== undefined && c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);
  let x = 0;
  for (let y = 0; y < expected.length; ++y, ++x) {
    if (expected[y] === '*') {
      while (expected[++y] === '*');
      if (y === expected.length) return 0;
      while (x < str.length) {
        const ret = apStrcmpMatch(str.slice(x++), expected.slice(y), caseless);
        if (ret !== 1) return ret;
      }
      return -1;
    }
    if (x >= str.length) return -1;
    if (expected[y] !== '?' && fold(str[x]) !== fold(expected[y])) return 1;
  }
  return x < str.length ? 1 : 0;
}

describe('the wildcard matchers', () => {
  it('ap_strcmp_match / ap_strcasecmp_match: the same verdict as util.c on any string and pattern', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', 'é', '.'), maxLength: 8 });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', 'B', '*', '?', '.'), maxLength: 6 });
    fc.assert(
      fc.property(text, pattern, fc.boolean(), (s, p, caseless) => {
        expect(wildcardMatch(s, p, caseless)).toBe(apStrcmpMatch(s, p, caseless) === 0);
      }),
      { numRuns: 3000 },
    );
    // C-locale folding: only A-Z.
    expect(wildcardMatch('TEXT/HTML', 'text/*', true)).toBe(true);
    expect(wildcardMatch('\xc9', '\xe9', true)).toBe(false);
  });

  it('apr_fnmatch with its flags: PATHNAME stops at "/", CASE_BLIND, NOESCAPE, PERIOD', () => {
    expect(compileFnmatch('/a/*')('/a/b/c')).toBe(true);
    expect(compileFnmatch('/a/*', { pathname: true })('/a/b/c')).toBe(false);
    expect(compileFnmatch('a[/]b', { pathname: true })('a/b')).toBe(false);
    expect(compileFnmatch('*.TXT', { caseBlind: true })('x.txt')).toBe(true);
    expect(compileFnmatch('a\\*')('a*')).toBe(true);
    expect(compileFnmatch('a\\*')('ab')).toBe(false);
    expect(compileFnmatch('a\\*', { noEscape: true })('a\\bc')).toBe(true);
    expect(compileFnmatch('*x', { period: true })('.x')).toBe(false);
    expect(compileFnmatch('.*x', { period: true })('.x')).toBe(true);
    expect(compileFnmatch('[!a]?')('bc')).toBe(true);
    expect(compileFnmatch('[a')('[a')).toBe(true);
  });

  it('AddDescription: a plain name is a substring, a wildcard or path pattern is matched whole', () => {
    const s = settingsOf('AddDescription "plain" txt\nAddDescription "wild" *.c\nAddDescription "path" sub/x\n');
    const [plain, wild, path] = [s.descriptions[0]!, s.descriptions[1]!, s.descriptions[2]!];
    expect([plain.matches('notes.txt.bak'), plain.matches('notes.md')]).toEqual([true, false]);
    expect([wild.pattern, wild.matches('main.c'), wild.matches('main.cc.orig'), wild.matches('main.h')]).toEqual(['**.c*', true, true, false]);
    expect([path.pattern, path.fullPath, path.matches('/site/sub/x.txt'), path.matches('/site/x')]).toEqual(['*/sub/x*', true, true, false]);
  });
});

describe('autoindex', () => {
  it('formats sizes as apr_strfsize', () => {
    expect([0, 4, 972, 973, 1024, 9 * 1024, 10 * 1024, 1024 * 1024 * 5].map(strfsize)).toEqual(['  0 ', '  4 ', '972 ', '1.0K', '1.0K', '9.0K', ' 10K', '5.0M']);
  });

  it('sorts digit runs as numbers (apr_strnatcmp), a leading zero as a fraction', () => {
    expect(['b10.txt', 'b9.txt', 'a.txt', 'b09.txt'].sort((a, b) => strnatcmp(a, b))).toEqual(['a.txt', 'b09.txt', 'b9.txt', 'b10.txt']);
    expect(strnatcmp('Q.txt', 'q.txt', true)).toBe(0);
  });

  it('reads C=, O=, F=, V= and P= as index_directory does; a syntax error ends the query', () => {
    expect(listingRequest(HOST, 'C=S;O=D')).toMatchObject({ key: 'S', direction: 'D', colargs: '' });
    expect(listingRequest(HOST, 'F=1;V=0').opts & (AI.TABLE_INDEXING | AI.VERSION_SORT)).toBe(0);
    expect(listingRequest(HOST, 'F=1;V=0').colargs).toBe(';F=1;V=0');
    const filtered = listingRequest(HOST, 'P=*.txt;C=D;O=D');
    expect(filtered).toMatchObject({ key: 'D', direction: 'D', colargs: ';P=*.txt' });
    // P= is apr_fnmatch with APR_FNM_PERIOD and APR_FNM_NOESCAPE, compiled once for the listing.
    expect(['a.txt', '.hidden.txt', 'b.html'].filter((n) => patternAdmits(filtered, n))).toEqual(['a.txt']);
    expect(['a\\b', 'ab'].filter((n) => patternAdmits(listingRequest(HOST, 'P=a%5Cb'), n))).toEqual(['a\\b']);
    expect(patternAdmits(listingRequest(HOST, 'C=N'), '.anything')).toBe(true);
    expect(listingRequest(HOST, 'C=X;O=D')).toMatchObject({ key: 'N', direction: 'A' });
    const ignoring = settingsOf('IndexOptions FancyIndexing IgnoreClient\n');
    expect(listingRequest(ignoring, 'C=S;O=D')).toMatchObject({ key: 'N', direction: 'A' });
  });

  it('renders the page Apache 2.4 renders for FancyIndexing HTMLTable', () => {
    const t = Date.UTC(2001, 8, 9, 1, 46, 40);
    process.env.TZ = 'UTC';
    const entry = (name: string, isDir: boolean) => ({ name, isDir, size: 4, mtimeMs: t, filename: `/site/listing/${name}` });
    const page = renderListing({
      uri: '/listing/',
      settings: HOST,
      request: listingRequest(HOST, undefined),
      entries: [entry('two.html', false), entry('one.txt', false), entry('sub', true)],
      parentShown: true,
      dirPath: '/site/listing/',
    });
    // Recorded from Apache (shared oracle case headers-indexes, listing-200).
    expect(page).toBe(
      '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html>\n <head>\n  <title>Index of /listing</title>\n </head>\n <body>\n<h1>Index of /listing</h1>\n  <table>\n   <tr><th valign="top">&nbsp;</th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n   <tr><th colspan="5"><hr></th></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="one.txt">one.txt</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  4 </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="sub/">sub/</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  - </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="two.html">two.html</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  4 </td><td>&nbsp;</td></tr>\n   <tr><th colspan="5"><hr></th></tr>\n</table>\n</body></html>\n',
    );
  });

  it('cuts names and descriptions to NameWidth / DescriptionWidth in the <pre> listing', () => {
    const t = Date.UTC(2001, 8, 9, 1, 46, 40);
    process.env.TZ = 'UTC';
    const s = settingsOf('IndexOptions FancyIndexing NameWidth=10 DescriptionWidth=15\nAddDescription "The A file with a long description" a.txt\n');
    const page = renderListing({
      uri: '/w/',
      settings: s,
      request: listingRequest(s, undefined),
      entries: [
        { name: 'a.txt', isDir: false, size: 6, mtimeMs: t, filename: '/site/w/a.txt' },
        { name: 'arch.tar.gz', isDir: false, size: 2, mtimeMs: t, filename: '/site/w/arch.tar.gz' },
      ],
      parentShown: true,
      dirPath: '/site/w/',
    });
    // Recorded from Apache (conformance case autoindex-options, widths).
    expect(page).toContain('<a href="/">Parent ..&gt;</a>                      -   \n');
    expect(page).toContain('<a href="a.txt">a.txt</a>      2001-09-09 01:46    6   The A file wit>\n');
    expect(page).toContain('<a href="arch.tar.gz">arch.ta..&gt;</a> 2001-09-09 01:46    2   \n');
  });
});
