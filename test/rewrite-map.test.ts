import { describe, expect, it } from 'vitest';
import { internalMap, lookupTextMap, parseRewriteMap, pickRandomPart } from '../src/grammar/rewrite-map.js';

const abs = (p: string): string => (p.startsWith('/') ? p : `/etc/apache2/${p}`);

describe('RewriteMap declarations', () => {
  it('reads each map type as cmd_rewritemap does', () => {
    expect(parseRewriteMap(['m', 'txt:maps/a.txt'], abs)).toEqual({ name: 'm', type: 'txt', file: '/etc/apache2/maps/a.txt' });
    expect(parseRewriteMap(['m', 'RND:/x.rnd'], abs)).toEqual({ name: 'm', type: 'rnd', file: '/x.rnd' });
    expect(parseRewriteMap(['m', 'prg:/bin/map "a b" c', 'www-data:www-data'], abs)).toEqual({
      name: 'm',
      type: 'prg',
      argv: ['/bin/map', 'a b', 'c'],
      user: 'www-data',
      group: 'www-data',
    });
    expect(parseRewriteMap(['m', 'int:tolower'], abs)).toEqual({ name: 'm', type: 'int', func: 'tolower' });
    expect(parseRewriteMap(['m', 'int:rot13'], abs)).toEqual({ error: 'RewriteMap: internal map not found:rot13' });
    expect(parseRewriteMap(['m', '/plain/file'], abs)).toEqual({ name: 'm', type: 'txt', file: '/plain/file' });
  });
});

describe('text maps', () => {
  const map = '# comment\n  k indented-is-skipped\nk v1 third\nk v2\nkey2\t\tv3\r\nempty\n';
  it('gives the second word of the first line whose first word is the key', () => {
    expect(lookupTextMap(map, 'k')).toBe('v1');
    expect(lookupTextMap(map, 'key2')).toBe('v3');
  });
  it('finds nothing for a prefix, a key without value, or an absent key', () => {
    expect(lookupTextMap(map, 'key')).toBeUndefined();
    expect(lookupTextMap(map, 'empty')).toBeUndefined();
    expect(lookupTextMap(map, 'nope')).toBeUndefined();
  });
  it('rnd picks one alternative', () => {
    expect(pickRandomPart('a|b|c', () => 1)).toBe('b');
    expect(pickRandomPart('only', () => 0)).toBe('only');
  });
});

describe('int: maps', () => {
  it('changes case of ASCII letters only', () => {
    expect(internalMap('tolower', 'AbC-é')).toBe('abc-é');
    expect(internalMap('toupper', 'aBc')).toBe('ABC');
  });
  it('escapes as ap_escape_uri (lower-case hex) and unescapes as ap_unescape_url', () => {
    expect(internalMap('escape', 'a b?c/~')).toBe('a%20b%3fc/~');
    expect(internalMap('unescape', 'a%2541%2F%zz')).toBe('a%41/%zz');
    expect(internalMap('unescape', 'cut%00here')).toBe('cut');
  });
});
