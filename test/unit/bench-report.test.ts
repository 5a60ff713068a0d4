/**
 * `npm run bench`'s report (scripts/bench/report.mjs): besides the ratio of medians, each
 * build's rounds are divided by Apache's round of the same rotation, so a slow stretch of the
 * machine that falls on some rounds moves both sides of a quotient alike.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { groupRatios, markdownTable, parseComparison, summarize } from '../../scripts/bench/report.mjs';

const rounds = (...rps: number[]) => rps.map((r) => ({ rps: r, p99: 1, errors: 0, non2xx: 0 }));

describe('the per-round ratios', () => {
  it('divides each round by the same round of Apache, and reports median and quartiles', () => {
    // Round 3 fell in a slow stretch for both: the ratio of medians moves, the per-round one does not.
    const results = { 'fcgi-c': { apache: rounds(100, 100, 50, 100), htsandbox: rounds(120, 120, 60, 120) } };
    const summary = summarize(results, ['apache', 'htsandbox']);
    expect(summary['fcgi-c'].htsandbox.perRound).toEqual({ median: 1.2, q1: 1.2, q3: 1.2, rounds: 4 });
    expect(summary['fcgi-c'].apache.perRound).toEqual({ median: 1, q1: 1, q3: 1, rounds: 4 });
  });

  it('leaves out a round in which either side had no answer', () => {
    const results = { 'static-1k': { apache: rounds(100, 0, 100), htsandbox: rounds(200, 300, 0) } };
    expect(summarize(results, ['apache', 'htsandbox'])['static-1k'].htsandbox.perRound).toEqual({ median: 2, q1: 2, q3: 2, rounds: 1 });
  });

  it('prints them as a second table, one column per build', () => {
    const results = { 'fcgi-c': { apache: rounds(100, 110, 90), apache2: rounds(101, 108, 92), htsandbox: rounds(150, 160, 140) } };
    const summary = summarize(results, ['apache', 'apache2', 'htsandbox']);
    const table = markdownTable(summary, {
      servers: ['apache', 'apache2', 'htsandbox'],
      builds: ['apache2', 'htsandbox'],
      endpoints: ['fcgi-c'],
      meta: { rounds: 3, wrk: 'wrk', warmup: 1, cpus: 2, load: [0, 0, 0], date: 'now', skipped: [] },
    });
    expect(table).toContain('| endpoint | Apache again / Apache, per round | htsandbox / Apache, per round |');
    expect(table).toMatch(/\| fcgi-c \| 1\.0\d× \(0\.98–1\.02, 3 rounds\) \| 1\.\d\d× \(1\.45–1\.56, 3 rounds\) \|/);
  });
});

describe('build groups compared round by round (--compare)', () => {
  it('divides the geometric mean of one group by the other in each round, skipping rounds with no answer', () => {
    const byServer = {
      new1: rounds(200, 90, 100, 50),
      new2: rounds(50, 90, 100, 50),
      base1: rounds(100, 100, 0, 50),
      base2: rounds(100, 100, 100, 50),
    };
    // Round 1: √(200·50) / √(100·100) = 1; round 2: 0.9; round 3 has no answer from base1; round 4: 1.
    const r = groupRatios(byServer, ['new1', 'new2'], ['base1', 'base2']);
    expect(r.rounds).toBe(3);
    expect(r.median).toBeCloseTo(1, 10);
    expect(r.q1).toBeCloseTo(0.9, 10);
    expect(r.geomean).toBeCloseTo(0.9 ** (1 / 3), 10);
  });

  it('reads NAMES/NAMES and refuses anything else', () => {
    expect(parseComparison('nodash,nodash2/base,base2')).toEqual({ numerator: ['nodash', 'nodash2'], denominator: ['base', 'base2'] });
    expect(parseComparison('nodash')).toBeNull();
    expect(parseComparison('a/b/c')).toBeNull();
    expect(parseComparison(',/base')).toBeNull();
  });

  it('prints a third table with Apache again over Apache as the floor', () => {
    const results = {
      'fcgi-c': { apache: rounds(100, 100), apache2: rounds(99, 101), a: rounds(120, 130), b: rounds(100, 100) },
    };
    const table = markdownTable(summarize(results, ['apache', 'apache2', 'a', 'b']), {
      servers: ['apache', 'apache2', 'a', 'b'],
      builds: ['apache2', 'a', 'b'],
      endpoints: ['fcgi-c'],
      meta: { rounds: 2, wrk: 'wrk', warmup: 1, cpus: 2, load: [0, 0, 0], date: 'now', skipped: [] },
      comparisons: [{ numerator: ['a'], denominator: ['b'] }],
      results,
    });
    expect(table).toContain('| endpoint | a / b, per round | Apache again / Apache, per round |');
    expect(table).toContain('| fcgi-c | 1.250 (1.200–1.300; geometric mean 1.249) | 1.000 (0.990–1.010; geometric mean 1.000) |');
  });
});
