/** `htsandbox test`: suites parsed with their lines, checked, reported in four formats, run here or --against a live server. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse as parseJunit } from 'junit2json';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { checkAnswer, parseSuite } from '../src/grammar/test-suite.js';
import { serveInProcess } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';
import { parse as parseYaml } from 'yaml';

const SUITE = join(PROJECT_ROOT, 'fixtures/suites/example-site.yaml');
const havePeers = peerAvailable('Perl FCGI (the starter site)', perlFcgiMissing());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: PROJECT_ROOT }).then((code) => ({
    code,
    out,
    err,
  }));
}

/** A copy of the starter site whose front controller rule has a typo'd flag (the host's 500). */
function brokenSite(): string {
  const root = mkdtempSync(join(tmpdir(), 'htsandbox-suite-'));
  dirs.push(root);
  cpSync(STARTER_SITE, root, { recursive: true });
  const f = join(root, 'front/.htaccess');
  writeFileSync(f, readFileSync(f, 'latin1').replace('[L,QSA]', '[L,QSAA]'), 'latin1');
  return root;
}

describe('suite files', () => {
  it("keep each test's line and report every problem with its line", () => {
    const { suite, problems } = parseSuite(readFileSync(SUITE, 'utf8'), SUITE);
    expect(problems).toEqual([]);
    expect(suite.tests.length).toBeGreaterThanOrEqual(10);
    const lines = readFileSync(SUITE, 'utf8').split('\n');
    for (const t of suite.tests) expect(lines[t.line - 1]).toContain(`- name: ${t.name}`);
    const bad = parseSuite('tests:\n  - request: { path: nope }\n    expect: { status: 2000 }\n  - request: { path: /x }\n    expect: { body: { startsWith: a } }\n', 'bad.yaml');
    expect(bad.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '2: request.path: required, a path starting with "/"',
      '2: expect.status: a status code (100–599) or a list of them',
      '4: expect.body: unknown key "startsWith" (known: equals, contains, matches, absent)',
      '4: expect: nothing to check (give status, headers, location, body or maxTimeMs)',
    ]);
    expect(parseSuite('tests: [\n', 'x.json').problems.length).toBe(1);
  });

  it('match the JSON Schema that editors use (and the schema rejects what the parser rejects)', () => {
    const schema = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs/test-suite.schema.json'), 'utf8')) as object;
    const validate = new Ajv.default({ allErrors: true }).compile(schema);
    expect(validate(parseYaml(readFileSync(SUITE, 'utf8'))), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ tests: [{ request: { path: 'nope' }, expect: { status: 200 } }] })).toBe(false);
    expect(validate({ tests: [{ request: { path: '/' }, expect: { body: { startsWith: 'a' } } }] })).toBe(false);
  });

  it('check an answer: status lists, header matchers, absent, body, time', () => {
    const [t] = parseSuite(
      'tests:\n  - request: { path: / }\n    expect: { status: [301, 302], location: { matches: "/new$" }, headers: { X-A: null, Vary: { contains: Accept, matches: "^A" } }, body: { absent: true }, maxTimeMs: 10 }\n',
      's.yaml',
    ).suite.tests;
    expect(checkAnswer(t!, { status: 302, headers: { location: 'http://h/new', vary: 'Accept-Encoding' }, body: '', timeMs: 3 })).toEqual([]);
    expect(checkAnswer(t!, { status: 200, headers: { location: '/old', 'x-a': '1', vary: 'Cookie' }, body: 'x', timeMs: 30 })).toEqual([
      'status: expected 301 or 302, got 200',
      'header X-A: expected absent, got "1"',
      'header Vary: expected containing "Accept", got "Cookie"',
      'header Vary: expected matching /^A/, got "Cookie"',
      'header Location: expected matching //new$/, got "/old"',
      'body: expected absent, got "x"',
      'time: expected at most 10 ms, took 30 ms',
    ]);
  });
});

describe.runIf(havePeers)('htsandbox test on the starter site', () => {
  it('passes the sample suite (redirect, 403, 401, front controller, FastCGI, CGI)', async () => {
    const r = await run(['test', 'fixtures/example-site', '--suite', SUITE]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^14 passed, 0 failed$/m);
  });

  it('fails on a broken rule and names its file:line, in every format', async () => {
    const root = brokenSite();
    const text = await run(['test', root, '--suite', SUITE]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/FAIL 500 GET \/front\/articles\/42/);
    expect(text.out).toMatch(/at fixtures\/suites\/example-site\.yaml:\d+/);
    expect(text.out).toContain('front/.htaccess:11');
    expect(text.out).toContain("RewriteRule: unknown flag 'QSAA'");

    const junit = await run(['test', root, '--suite', SUITE, '--format', 'junit']);
    expect(junit.code).toBe(1);
    const parsed = (await parseJunit(junit.out)) as { tests?: number; failures?: number; testsuite?: { testcase?: { name: string; failure?: { message?: string }[] }[] }[] };
    expect(parsed.tests).toBe(14);
    expect(parsed.failures).toBe(2);
    const failing = parsed.testsuite![0]!.testcase!.filter((c) => c.failure);
    expect(failing.map((c) => c.name).sort()).toEqual(['the front controller answers a pretty URL', "the front controller's own 404"]);

    const gh = await run(['test', root, '--suite', SUITE, '--format', 'github']);
    const lines = readFileSync(SUITE, 'utf8').split('\n');
    const annotations = gh.out.split('\n').filter((l) => l.startsWith('::error '));
    expect(annotations.length).toBe(2);
    for (const a of annotations) {
      const m = /^::error file=fixtures\/suites\/example-site\.yaml,line=(\d+),title=([^:]+)::(.*)$/.exec(a)!;
      expect(lines[Number(m[1]) - 1]).toContain('the front controller');
      expect(m[3]).toContain('front/.htaccess:11');
    }

    const json = JSON.parse((await run(['test', root, '--suite', SUITE, '--format', 'json'])).out) as { failed: number; tests: { passed: boolean; story?: { handler: string } }[] };
    expect(json.failed).toBe(2);
    expect(json.tests.filter((t) => !t.passed).every((t) => t.story?.handler === 'error')).toBe(true);
  });

  it("tells a failing request's story: the rewrite rule that sent it to a missing script, by file:line", async () => {
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-suite-'));
    dirs.push(root);
    cpSync(STARTER_SITE, root, { recursive: true });
    const f = join(root, 'front/.htaccess');
    writeFileSync(f, readFileSync(f, 'latin1').replace('RewriteRule ^ index.cgi', 'RewriteRule ^ index2.cgi'), 'latin1');
    const r = await run(['test', root, '--suite', SUITE]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL 404 GET \/front\/articles\/42/);
    expect(r.out).toMatch(/story: \/front\/\.htaccess:11: RewriteRule \^ index2\.cgi: matches "articles\/42" and rewrites the URL to/);
    expect(r.out).toContain('AH01264: script not found or unable to stat');
  });

  it('prints coverage: rules never applied, files never read, rules that can never apply; --coverage-min fails below it', async () => {
    const full = await run(['test', 'fixtures/example-site', '--suite', SUITE]);
    expect(full.out).toMatch(/^coverage: 100 % \(8 of 8:/m);
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-suite-'));
    dirs.push(root);
    cpSync(STARTER_SITE, root, { recursive: true });
    const f = join(root, 'front/.htaccess');
    writeFileSync(f, `${readFileSync(f, 'latin1')}RewriteRule ^/never$ index.cgi [L]\n`, 'latin1');
    const r = await run(['test', root, '--suite', SUITE, '--coverage-min', '100']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^coverage: 88\.8 % \(8 of 9:/m);
    expect(r.out).toMatch(/not applied: .*front\/\.htaccess:12 RewriteRule \^\/never\$ index\.cgi \[L\]/);
    expect(r.out).toMatch(/can never apply: .*front\/\.htaccess:12 /);
    expect(r.err).toContain('below --coverage-min 100');
    const json = JSON.parse((await run(['test', root, '--suite', SUITE, '--format', 'json'])).out) as { coverage: { percent: number; rulesNotApplied: { line: number }[] } };
    expect(json.coverage.percent).toBe(88.8);
    expect(json.coverage.rulesNotApplied.map((x) => x.line)).toEqual([12]);
  });

  it('runs the same suite --against a live server', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const r = await run(['test', '--suite', SUITE, '--against', `http://127.0.0.1:${server.port}/`]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^14 passed, 0 failed$/m);
    } finally {
      await server.stop();
    }
    const refused = await run(['test', '--suite', SUITE, '--against', `http://127.0.0.1:1/`]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('the request failed');
  });
});

describe('htsandbox test usage', () => {
  it('exits 2 without a suite, with a bad suite, or a bad --against', async () => {
    expect((await run(['test', 'fixtures/example-site'])).code).toBe(2);
    const root = mkdtempSync(join(tmpdir(), 'htsandbox-suite-'));
    dirs.push(root);
    writeFileSync(join(root, 'bad.yaml'), 'tests:\n  - request: { path: nope }\n    expect: { status: 200 }\n');
    const bad = await run(['test', root, '--suite', join(root, 'bad.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad\.yaml:2: request\.path/);
    expect((await run(['test', '--suite', SUITE, '--against', 'ftp://x/'])).code).toBe(2);
  });
});
