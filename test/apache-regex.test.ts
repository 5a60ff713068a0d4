/**
 * Apache's regular expressions (PCRE2 with DOTALL | DOLLAR_ENDONLY, ap_regcomp) as
 * src/grammar/regex.ts runs them: RE2's syntax in linear time, so that a hostile URL against a
 * student's catastrophic pattern is answered at once instead of stalling the server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { installRegexMatchLimit, REGEX_MATCH_LIMIT_MS, type MatchLimitEvent } from '../src/adapters/regex-match-limit.js';
import { compileApacheRegex, setBacktrackingExec, type ApacheRegex } from '../src/grammar/regex.js';

function compiled(pattern: string, icase = false): ApacheRegex {
  const r = compileApacheRegex(pattern, icase);
  if (!r.ok || !r.regex) throw new Error(`${pattern} did not compile: ${JSON.stringify(r)}`);
  return r.regex;
}

describe('Apache regex semantics', () => {
  it("reads PCRE's spellings and Apache's default flags", () => {
    expect(compiled('^a.b$').test('a\nb')).toBe(true); // DOTALL
    expect(compiled('^a$').test('a\n')).toBe(false); // DOLLAR_ENDONLY
    expect(compiled('(?i)^INDEX\\.PHP$').test('index.php')).toBe(true);
    expect(compiled('^index\\.php$', true).test('INDEX.PHP')).toBe(true); // [NC]
    expect(compiled('^[[:alpha:]]+[[:digit:]]\\z').test('abc1')).toBe(true);
    expect(compiled('\\Ablog/(?P<year>\\d{4})/').groups('blog/2024/x')).toEqual({ year: '2024' });
  });

  it('gives unmatched groups as undefined, as the rewrite engine expects', () => {
    expect(compiled('^(a)|(b)$').exec('b')).toEqual(['b', undefined, 'b']);
  });

  it('hands backreferences and lookaround to the backtracking fallback, and says so', () => {
    const back = compiled('^(\\w+)-\\1$');
    expect(back.engine).toBe('js');
    expect(back.mayBacktrack).toBe(true);
    expect(back.test('ab-ab')).toBe(true);
    const ahead = compiled('^\\.(?!well-known)');
    expect(ahead.engine).toBe('js');
    expect(ahead.test('.well-known/x')).toBe(false);
    expect(compiled('^(a+)+$').mayBacktrack).toBe(false);
  });
});

describe('catastrophic patterns against hostile URLs', () => {
  // Each would run for minutes (or forever) on a backtracking engine without a limit.
  const cases: [string, string][] = [
    ['^(a+)+$', `${'a'.repeat(8000)}b`],
    ['^(a|aa)*c$', 'a'.repeat(8000)],
    ['^(.*)*x$', 'y'.repeat(8000)],
    ['^/(.*)/(.*)/(.*)\\.php$', `/${'a/'.repeat(4000)}`],
    ['(.*)(.*)(.*)(.*)(.*)=(.*)z', `${'q='.repeat(4000)}`],
    ['^(\\w+\\s?)*$', `${'word '.repeat(1600)}!`],
  ];
  it.each(cases)('%s runs in linear time on RE2 and finds no match', (pattern, subject) => {
    const re = compiled(pattern);
    expect(re.mayBacktrack).toBe(false);
    const start = performance.now();
    expect(re.exec(subject)).toBeNull();
    expect(re.test(subject)).toBe(false);
    // Linear: milliseconds here; a generous bound so a loaded machine cannot fail it.
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('the match limit of the backtracking fallback', () => {
  const events: MatchLimitEvent[] = [];
  installRegexMatchLimit((e) => events.push(e));
  afterAll(() => setBacktrackingExec(undefined));

  it('answers lookaround, backreferences and named groups as before', () => {
    expect(compiled('^\\.(?!well-known)').test('.htaccess')).toBe(true);
    expect(compiled('^\\.(?!well-known)').test('.well-known/acme')).toBe(false);
    expect(compiled('^(?P<w>\\w+)-(?P=w)(/.*)?$').exec('ab-ab/x')).toEqual(['ab-ab/x', 'ab', '/x']);
    expect(compiled('^(?P<w>\\w+)-(?P=w)$').groups('ab-ab')).toEqual({ w: 'ab' });
    expect(compiled('^(a)|(b)(?=c)').exec('bc')).toEqual(['b', undefined, 'b']);
    expect(events).toEqual([]);
  });

  it('takes a runaway match as no match at the limit, says so, and runs the next one', () => {
    // Exponential on V8 (and on PCRE2, which stops at its match limit: ap_regexec gives no match).
    const runaway = compiled('^(a+)+\\1$');
    expect(runaway.engine).toBe('js');
    const start = performance.now();
    expect(runaway.exec(`${'a'.repeat(40)}b`)).toBeNull();
    const took = performance.now() - start;
    expect(took).toBeGreaterThanOrEqual(REGEX_MATCH_LIMIT_MS - 1);
    expect(took).toBeLessThan(5000);
    expect(events).toEqual([{ source: '^(a+)+\\1$', subjectLength: 41, reason: 'limit' }]);
    // A fresh worker answers the next match.
    expect(runaway.test('aaaa')).toBe(true);
    expect(compiled('^(x)\\1(?<=xx)$').test('xx')).toBe(true);
  });
});
