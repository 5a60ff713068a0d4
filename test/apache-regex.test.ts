/**
 * Apache's regular expressions (PCRE2 with DOTALL | DOLLAR_ENDONLY, ap_regcomp) as
 * src/grammar/regex.ts runs them: RE2's syntax in linear time, so that a hostile URL against a
 * student's catastrophic pattern is answered at once instead of stalling the server.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { installRegexMatchLimit, REGEX_MATCH_LIMIT_MS, type MatchLimitEvent } from '../src/adapters/regex-match-limit.js';
import { compileApacheRegex, patternBytesApart, runsInBoundedTime, setBacktrackingExec, type ApacheRegex } from '../src/grammar/regex.js';

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

describe('caseless matching folds A-Z only, as PCRE2 with its C-locale tables (case-folding case)', () => {
  // Subjects are byte strings: \xc9 is the byte 0xC9 ('É' in Latin-1), \xe9 is 'é'.
  it.each([
    ['^caf\xe9$', true, 'caf\xc9', false],
    ['^caf\xe9$', true, 'CAF\xe9', true],
    ['^caf\\xe9$', true, 'caf\xc9', false],
    ['^caf\\x{e9}$', true, 'caf\xc9', false],
    ['^caf\\351$', true, 'caf\xc9', false],
    ['(?i)^caf\xe9$', false, 'caf\xc9', false],
    ['^caf(?i:\xe9)$', false, 'caf\xc9', false],
    ['^caf[\xe0-\xef]$', true, 'caf\xc9', false],
    ['^caf[^\xe9]$', true, 'caf\xc9', true],
    ['^caf[\\x00-\\xc9]$', true, 'caf\xe9', false],
    ['^caf[\\x00-\\xc9]$', true, 'caf\xc9', true],
    // The backtracking engine (a backreference, lookahead): no folding, and \s is not 0xA0.
    ['^(c)af\xe9(\\1)?$', true, 'caf\xc9', false],
    ['^caf(\\xe9)\\1$', true, 'caf\xe9\xc9', false],
    ['^caf(?=\\xe9)', true, 'caf\xc9', false],
    ['^(c)af\\s(\\1)?$', false, 'caf\xa0', false],
    ['^(c)af\\s(\\1)?$', false, 'caf ', true],
  ])('%s (icase %s) against %j: %s', (pattern, icase, subject, matches) => {
    expect(compiled(pattern, icase).test(subject)).toBe(matches);
  });

  it("gives captures, named groups and positions in the subject's own bytes", () => {
    expect(compiled('^caf(\xe9|\xc9)(?P<rest>.*)$', true).exec('CAF\xc9\xff!')).toEqual(['CAF\xc9\xff!', '\xc9', '\xff!']);
    expect(compiled('^caf(\xe9|\xc9)(?P<rest>.*)$', true).groups('CAF\xc9\xff!')).toEqual({ rest: '\xff!' });
    expect(compiled('(?i)\xe9(.)', false).match('ab\xe9\xb5')).toEqual({ index: 2, captures: ['\xe9\xb5', '\xb5'] });
    expect(compiled('^(\\w)\\1(.)$').exec('aa\xe9')).toEqual(['aa\xe9', 'a', '\xe9']);
  });

  it('leaves a pattern that names no high byte as it was', () => {
    expect(patternBytesApart('^index\\.php$')).toBe('^index\\.php$');
    expect(compiled('^caf.$', true).test('CAF\xc9')).toBe(true);
    // A class range across 0x7F/0x80 is split; escapes of ASCII stay as written.
    expect(patternBytesApart('[\\x20-\\xff]\\x41')).toBe('[\\x20-\\x7f\ue080-\ue0ff]\\x41');
    expect(patternBytesApart('\\p{Lu}')).toBeUndefined();
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

describe('backtracking patterns that provably run in bounded time skip the worker', () => {
  it.each([
    ['^\\.(?!well-known)', true],
    ['/\\.|^\\.(?!well-known/)', true],
    ['^(\\.(?!well-known).*|composer\\.(json|lock)|web\\.config)$', true],
    ['^.*(?<!\\.php)$', true],
    ['^(?:ab)*(?=c)', true],
    ['^(a+)+\\1$', false], // backreference
    ['^(\\w+)-\\1$', false], // backreference: quadratic
    ['^(?=.*x).*y', false], // two unbounded quantifiers
    ['a.*(?!b)', false], // unanchored and unbounded: quadratic
    ['^a|.*b(?=c)', false], // the second alternative is unanchored
    ['^(a|b)*(?=c)', false], // a repeated group that can match two ways
    ['^a?a?a?a?a?a?a?aaaaaaa(?=x)', false], // 128 ways
  ])('%s: %s', (pattern, bounded) => {
    expect(runsInBoundedTime(pattern, 's')).toBe(bounded);
    expect(runsInBoundedTime(pattern, 'sm')).toBe(bounded && !pattern.includes('*'));
  });

  it('every random pattern it calls bounded matches 8 KB hostile subjects in milliseconds', () => {
    const atom = fc.constantFrom('a', 'b', '.', '[ab]', '\\w', 'x');
    // Subjects where overlapping alternatives (`.|b`) and repeats (`a*a*`) have the most ways to fail.
    const quant = fc.constantFrom('', '', '*', '+', '?', '{2,5}', '*?');
    const piece: fc.Arbitrary<string> = fc.letrec((tie) => ({
      p: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.tuple(atom, quant).map(([a, q]) => a + q),
        fc
          .tuple(fc.constantFrom('(', '(?:', '(?=', '(?!', '(?<=', '(?<!'), fc.array(tie('p'), { minLength: 1, maxLength: 3 }), fc.constantFrom(')', '|b)'), quant)
          .map(([open, inner, close, q]) => open + inner.join('') + close + (open.startsWith('(?') && open !== '(?:' ? '' : q)),
      ),
    })).p;
    const patterns = fc.sample(
      fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 5 })).map(([anchor, ps]) => (anchor ? '^' : '') + ps.join('')),
      { numRuns: 3000, seed: 19 },
    );
    const bounded = [...new Set(patterns)].filter((p) => {
      try {
        new RegExp(p, 's');
      } catch {
        return false;
      }
      return runsInBoundedTime(p, 's');
    });
    expect(bounded.length).toBeGreaterThan(200);
    // In a child with a deadline: a wrong verdict would hang the matching thread.
    const script = `const ps = JSON.parse(process.argv[1]); const subjects = ['a'.repeat(8000), 'b'.repeat(8000), 'ab'.repeat(4000), 'ba'.repeat(4000) + '!', 'a'.repeat(8000) + 'y', 'x'.repeat(8000)]; let worst = 0, at = '';
      for (const p of ps) { const re = new RegExp(p, 's'); for (const s of subjects) { const t = performance.now(); re.exec(s); const d = performance.now() - t; if (d > worst) { worst = d; at = p; } } }
      console.log(JSON.stringify({ worst, at }));`;
    const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(bounded)], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, `${r.error ?? ''} ${r.stderr}`).toBe(0);
    const { worst, at } = JSON.parse(r.stdout) as { worst: number; at: string };
    // Linear: well under a millisecond per match here; quadratic would be ~100 ms, exponential never end.
    expect(worst, at).toBeLessThan(50);
  }, 90_000);
});
