/** `htsandbox compare`: one script run as CGI and as FastCGI, side by side. */
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { formatComparison } from '../src/cli/compare-command.js';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

function io() {
  let out = '';
  let err = '';
  return { io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: process.cwd() }, out: () => out, err: () => err };
}

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());

describe('htsandbox compare', () => {
  it.runIf(havePerlFcgi)(
    'runs the starter counter both ways: a process per CGI request, a few persistent FastCGI ones',
    async () => {
      const run = io();
      expect(await main(['compare', STARTER_SITE, '/counter.fcgi', '-n', '40', '-c', '2'], run.io)).toBe(0);
      const rows = Object.fromEntries(
        run
          .out()
          .split('\n')
          .filter((l) => /^(CGI|FastCGI)\s+[\d,]+\s/.test(l))
          .map((l) => {
            const cols = l.trim().split(/\s+/);
            return [cols[0], { processes: Number(cols[6]), line: l }];
          }),
      );
      expect(rows.CGI?.processes).toBe(40);
      expect(rows.FastCGI?.processes).toBeGreaterThanOrEqual(1);
      expect(rows.FastCGI?.processes).toBeLessThanOrEqual(2);
      expect(run.out()).not.toContain('failed');
      expect(run.out()).toMatch(/^(FastCGI answered|CGI was faster)/m);
    },
    60_000,
  );

  it('refuses a plain CGI script, which cannot answer as FastCGI, and bad numbers', async () => {
    const plain = io();
    expect(await main(['compare', STARTER_SITE, '/hello.cgi'], plain.io)).toBe(2);
    expect(plain.err()).toContain('shows no FastCGI library');
    const bad = io();
    expect(await main(['compare', STARTER_SITE, '/counter.fcgi', '-n', '10x'], bad.io)).toBe(2);
    const missing = io();
    expect(await main(['compare', STARTER_SITE, '/nope.fcgi'], missing.io)).toBe(2);
  });

  it('concludes from the two rows', () => {
    const r = (requests: number, seconds: number, starts: number) => ({ requests, failed: 0, seconds, p50Ms: 1, p99Ms: 2, processStarts: starts });
    expect(formatComparison(r(100, 2, 100), r(100, 0.2, 1), '/x.fcgi')).toContain('FastCGI answered 10.0× as many requests per second as CGI, starting 1 process instead of 100');
    expect(formatComparison(r(100, 1, 100), r(100, 2, 1), '/x.fcgi')).toContain('CGI was faster here (2.0×)');
  });
});
