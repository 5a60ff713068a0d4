/**
 * `htsandbox explain`: golden files of the story for the requests students ask about
 * (fixtures/explain/cases.json → NAME.txt and NAME.json). `HTSANDBOX_RECORD=1` rewrites them;
 * the project's path is replaced by {project} so any checkout compares the same.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';

interface ExplainCase {
  name: string;
  site: string;
  url: string;
  method?: string;
  data?: string;
  profile?: string;
}

const DIR = join(PROJECT_ROOT, 'fixtures/explain');
const cases = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as ExplainCase[];
const record = process.env.HTSANDBOX_RECORD === '1';

async function explain(c: ExplainCase, format: 'text' | 'json'): Promise<{ code: number; out: string }> {
  let out = '';
  const args = [
    'explain',
    c.site,
    c.url,
    '--format',
    format,
    ...(c.method ? ['--method', c.method] : []),
    ...(c.data !== undefined ? ['--data', c.data] : []),
    ...(c.profile ? ['--profile', c.profile] : []),
  ];
  const code = await main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {}, cwd: PROJECT_ROOT });
  return { code, out: out.split(PROJECT_ROOT).join('{project}') };
}

describe('htsandbox explain (golden files)', () => {
  for (const c of cases) {
    for (const format of ['text', 'json'] as const) {
      it(`${c.name} (${format})`, async () => {
        const r = await explain(c, format);
        expect(r.code).toBe(0);
        const file = join(DIR, `${c.name}.${format === 'text' ? 'txt' : 'json'}`);
        if (record || !existsSync(file)) writeFileSync(file, r.out);
        expect(r.out).toBe(readFileSync(file, 'utf8'));
      });
    }
  }

  it('names the broken line, the rule that rewrote, and what would run', async () => {
    const byName = new Map(cases.map((c) => [c.name, c]));
    expect((await explain(byName.get('broken-htaccess')!, 'text')).out).toMatch(/errors\/broken-htaccess\/\.htaccess:3:1: the host rejects this file/);
    const front = (await explain(byName.get('front-controller')!, 'text')).out;
    expect(front).toMatch(/\(fixtures\/example-site\/front\/\.htaccess:11\) RewriteRule \^ index\.cgi: matches "articles\/42"/);
    expect(front).toMatch(/^Would run: fixtures\/example-site\/front\/index\.cgi \(#!\/usr\/bin\/perl\)/m);
    const rb = JSON.parse((await explain(byName.get('files-rb-fcgid')!, 'json')).out) as { answer: { kind: string; status: number } };
    expect(rb.answer).toMatchObject({ kind: 'fcgid-script', status: 200 });
  });

  it('exits 2 for a missing site', async () => {
    expect((await explain({ name: 'x', site: 'no/such/site', url: '/' }, 'text')).code).toBe(2);
  });
});
