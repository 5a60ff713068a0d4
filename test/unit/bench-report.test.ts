/**
 * `npm run bench`'s report (scripts/bench/report.mjs): besides the ratio of medians, each
 * build's rounds are divided by Apache's round of the same rotation, so a slow stretch of the
 * machine that falls on some rounds moves both sides of a quotient alike.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { markdownTable, summarize } from '../../scripts/bench/report.mjs';

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
