/**
 * `htsandbox test [SITE] --suite FILE …`: runs URL expectation suites against the site, served
 * in this process on a free port as `serve` would serve it (or, with `--against URL`, against any
 * live server: the real host after a deploy, a staging server, a real Apache), and reports each
 * request — text, JSON, JUnit XML or GitHub annotations. A failure served here comes with the
 * request's story from the dashboard's record: what answered, the host's log lines, the reason.
 */
import { readFileSync, statSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { relative, resolve } from 'node:path';
import { loadHost } from '../adapters/server-config-loader.js';
import { checkSite } from '../adapters/site-checker.js';
import { checkAnswer, parseSuite, type Suite, type SuiteAnswer, type SuiteProblem, type SuiteTest } from '../grammar/test-suite.js';
import { serveQuietly } from './serve-command.js';
import type { CommandIo } from './io.js';
import { accessFilesUnder } from '../adapters/site-files.js';

export type TestFormat = 'text' | 'json' | 'junit' | 'github';

export interface TestOptions {
  root: string;
  suites: string[];
  format: TestFormat;
  config?: string;
  profile?: string;
  /** Run against this live server instead of serving the site. */
  against?: string;
  /** Fail the run when coverage is below this percentage (local runs). */
  coverageMin?: number;
}

/** What served a request, from the dashboard's record (local runs only). */
export interface RequestStory {
  handler: string;
  pid?: number;
  reason?: string;
  log: string[];
  /** The engine's story of the request: each step, with the directive's file:line where one decided. */
  steps?: { module: string; text: string; file?: string; line?: number; applied?: boolean; files?: string[] }[];
}

/** What the suite exercised of the site's configuration (local runs). */
export interface Coverage {
  /** Every RewriteRule line and every .htaccess file, as `file:line` or `file`. */
  items: number;
  covered: number;
  percent: number;
  /** RewriteRule lines no request applied. */
  rulesNotApplied: { file: string; line: number; text: string }[];
  /** .htaccess files no request read. */
  filesNotRead: string[];
  /** Rules `check` finds can never apply (HT220, HT223), with why. */
  neverApplicable: { file: string; line: number; why: string }[];
}

export interface TestResult {
  test: SuiteTest;
  file: string;
  passed: boolean;
  failures: string[];
  status?: number;
  timeMs: number;
  story?: RequestStory;
  /** The request could not be sent or answered (connection refused, reset). */
  error?: string;
}

interface Target {
  base: URL;
  agent: Agent;
}

function send(target: Target, t: SuiteTest): Promise<{ answer: SuiteAnswer; explain?: string }> {
  const url = target.base;
  const body = t.request.body === undefined ? undefined : Buffer.from(t.request.body);
  const headers: Record<string, string> = { ...t.request.headers };
  if (body && !Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) headers['Content-Length'] = String(body.length);
  const started = process.hrtime.bigint();
  const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((res, rej) => {
    const req = requestFn(
      {
        protocol: url.protocol,
        host: url.hostname,
        port: url.port,
        // The path exactly as written (a suite may test %2F, //, ..): not the URL's normalised one.
        path: `${target.base.pathname.replace(/\/$/, '')}${t.request.path}`,
        method: t.request.method,
        headers,
        ...(url.protocol === 'https:' ? {} : { agent: target.agent }),
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
          const explain = typeof r.headers['x-htsandbox-explain'] === 'string' ? r.headers['x-htsandbox-explain'] : undefined;
          res({
            answer: { status: r.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8'), timeMs: Number(process.hrtime.bigint() - started) / 1e6 },
            ...(explain ? { explain } : {}),
          });
        });
        r.on('error', rej);
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

function storyOf(target: Target, link: string): Promise<RequestStory | undefined> {
  return new Promise((res) => {
    const req = httpRequest({ host: target.base.hostname, port: target.base.port, path: link.replace('/r/', '/api/requests/'), agent: target.agent }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => {
        try {
          const j = JSON.parse(text) as RequestStory & { story?: { steps: NonNullable<RequestStory['steps']> } };
          res({ handler: j.handler, log: j.log ?? [], ...(j.pid ? { pid: j.pid } : {}), ...(j.reason ? { reason: j.reason } : {}), ...(j.story ? { steps: j.story.steps } : {}) });
        } catch {
          res(undefined);
        }
      });
    });
    req.on('error', () => res(undefined));
    req.end();
  });
}

async function runSuites(target: Target, suites: Suite[], local: boolean, progress: ((done: number, total: number) => void) | undefined): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const total = suites.reduce((n, s) => n + s.tests.length, 0);
  for (const suite of suites) {
    for (const test of suite.tests) {
      try {
        const { answer, explain } = await send(target, test);
        const failures = checkAnswer(test, answer);
        // The story of every request feeds coverage; a failure prints it.
        const story = local && explain ? await storyOf(target, explain) : undefined;
        results.push({ test, file: suite.file, passed: failures.length === 0, failures, status: answer.status, timeMs: answer.timeMs, ...(story ? { story } : {}) });
      } catch (err) {
        const message = `the request failed: ${(err as Error).message}`;
        results.push({ test, file: suite.file, passed: false, failures: [message], timeMs: 0, error: message });
      }
      progress?.(results.length, total);
    }
  }
  return results;
}

const xml = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 cannot carry most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** GitHub's workflow-command escaping of a message and of a property. */
const ghData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const ghProp = (s: string): string => ghData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function storyLines(story: RequestStory | undefined): string[] {
  if (!story) return [];
  const out = [`answered by ${story.handler || '?'}${story.pid ? ` (process ${story.pid})` : ''}`];
  if (story.reason) out.push(`why: ${story.reason}`);
  for (const s of story.steps ?? []) if (s.file) out.push(`story: ${s.file}:${s.line}: ${s.text}`);
  for (const l of story.log) out.push(`log: ${l}`);
  return out;
}

/** Every .htaccess under `root`, and its RewriteRule lines. */
function siteRules(root: string): { files: string[]; rules: { file: string; line: number; text: string }[] } {
  const files = accessFilesUnder(root);
  const rules: { file: string; line: number; text: string }[] = [];
  for (const p of files) {
    readFileSync(p, 'latin1')
      .split('\n')
      .forEach((text, i) => {
        if (/^\s*RewriteRule\s/i.test(text)) rules.push({ file: p, line: i + 1, text: text.trim() });
      });
  }
  return { files, rules };
}

/**
 * What the suite exercised: each RewriteRule some request applied, each .htaccess some request
 * read (from the requests' stories), and what `check` finds can never apply.
 */
export function measureCoverage(root: string, results: readonly TestResult[], neverApplicable: Coverage['neverApplicable']): Coverage {
  const { files, rules } = siteRules(root);
  const base = root.replace(/\/$/, '');
  const abs = (shownPath: string): string => (shownPath.startsWith('/') && !shownPath.startsWith(`${base}/`) ? base + shownPath : shownPath);
  const applied = new Set<string>();
  const read = new Set<string>();
  for (const r of results) {
    for (const s of r.story?.steps ?? []) {
      if (s.applied && s.file) applied.add(`${abs(s.file)}:${s.line}`);
      for (const f of s.files ?? []) read.add(abs(f));
    }
  }
  const rulesNotApplied = rules.filter((r) => !applied.has(`${r.file}:${r.line}`));
  const filesNotRead = files.filter((f) => !read.has(f));
  const items = rules.length + files.length;
  const covered = items - rulesNotApplied.length - filesNotRead.length;
  return { items, covered, percent: items === 0 ? 100 : Math.floor((covered / items) * 1000) / 10, rulesNotApplied, filesNotRead, neverApplicable };
}

function coverageText(c: Coverage, cwd: string): string[] {
  const rel = (p: string): string => relative(cwd, p) || p;
  const out = [`coverage: ${c.percent} % (${c.covered} of ${c.items}: every RewriteRule applied by some request, every .htaccess read by some request)`];
  for (const r of c.rulesNotApplied) out.push(`  not applied: ${rel(r.file)}:${r.line} ${r.text}`);
  for (const f of c.filesNotRead) out.push(`  not read: ${rel(f)}`);
  for (const n of c.neverApplicable) out.push(`  can never apply: ${rel(n.file)}:${n.line} ${n.why}`);
  return out;
}

/** The report in the chosen format. */
export function formatResults(results: TestResult[], format: TestFormat, cwd: string, against: string | undefined, coverage?: Coverage): string {
  const failed = results.filter((r) => !r.passed);
  const where = (r: TestResult): string => `${relative(cwd, r.file) || r.file}:${r.test.line}`;
  const summary = `${results.length - failed.length} passed, ${failed.length} failed`;
  if (format === 'json') {
    return JSON.stringify(
      {
        against: against ?? null,
        passed: results.length - failed.length,
        failed: failed.length,
        ...(coverage ? { coverage } : {}),
        tests: results.map((r) => ({
          name: r.test.name,
          file: r.file,
          line: r.test.line,
          request: r.test.request,
          passed: r.passed,
          status: r.status ?? null,
          timeMs: Math.round(r.timeMs * 10) / 10,
          failures: r.failures,
          ...(r.story ? { story: r.story } : {}),
        })),
      },
      null,
      2,
    );
  }
  if (format === 'junit') {
    const byFile = new Map<string, TestResult[]>();
    for (const r of results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
    const suites = [...byFile].map(([file, rs]) => {
      const name = relative(cwd, file) || file;
      const cases = rs.map((r) => {
        const head = `    <testcase name="${xml(r.test.name)}" classname="${xml(name)}" file="${xml(name)}" line="${r.test.line}" time="${(r.timeMs / 1000).toFixed(3)}"`;
        if (r.passed) return `${head}/>`;
        const detail = [...r.failures, ...storyLines(r.story)].join('\n');
        const tag = r.error ? 'error' : 'failure';
        return `${head}>\n      <${tag} message="${xml(r.failures[0] ?? 'failed')}" type="${tag === 'error' ? 'RequestError' : 'ExpectationFailed'}">${xml(detail)}</${tag}>\n    </testcase>`;
      });
      const failures = rs.filter((r) => !r.passed && !r.error).length;
      const errors = rs.filter((r) => r.error).length;
      const time = rs.reduce((t, r) => t + r.timeMs, 0) / 1000;
      return `  <testsuite name="${xml(name)}" tests="${rs.length}" failures="${failures}" errors="${errors}" skipped="0" time="${time.toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>`;
    });
    const time = results.reduce((t, r) => t + r.timeMs, 0) / 1000;
    return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="htsandbox test" tests="${results.length}" failures="${failed.filter((r) => !r.error).length}" errors="${failed.filter((r) => r.error).length}" time="${time.toFixed(3)}">\n${suites.join('\n')}\n</testsuites>`;
  }
  if (format === 'github') {
    const lines = failed.map(
      (r) =>
        `::error file=${ghProp(relative(cwd, r.file) || r.file)},line=${r.test.line},title=${ghProp(`${r.test.name}`)}::${ghData([...r.failures, ...storyLines(r.story)].join('\n'))}`,
    );
    for (const r of coverage?.rulesNotApplied ?? [])
      lines.push(`::notice file=${ghProp(relative(cwd, r.file) || r.file)},line=${r.line},title=not covered::${ghData(`no request of the suite applied ${r.text}`)}`);
    for (const n of coverage?.neverApplicable ?? []) lines.push(`::warning file=${ghProp(relative(cwd, n.file) || n.file)},line=${n.line},title=never applies::${ghData(n.why)}`);
    lines.push(`htsandbox test: ${summary}${coverage ? `; coverage ${coverage.percent} %` : ''}`);
    return lines.join('\n');
  }
  const out: string[] = [];
  for (const r of results) {
    const status = r.status === undefined ? '---' : String(r.status);
    out.push(`${r.passed ? 'ok  ' : 'FAIL'} ${status} ${r.test.request.method} ${r.test.request.path}  ${r.test.name}  (${Math.round(r.timeMs)} ms)`);
    if (!r.passed) {
      out.push(`     at ${where(r)}`);
      for (const f of r.failures) out.push(`     ${f}`);
      for (const s of storyLines(r.story)) out.push(`     ${s}`);
    }
  }
  out.push('', summary);
  if (coverage) out.push(...coverageText(coverage, cwd));
  return out.join('\n');
}

/** Rules `check` finds can never apply in the site (HT220: ^/ in .htaccess, HT223: after a catch-all). */
function neverApplicable(root: string, opts: TestOptions, cwd: string): Coverage['neverApplicable'] {
  const loaded = loadHost({ siteRoot: root, ...(opts.config ? { configFile: resolve(cwd, opts.config) } : {}), ...(opts.profile ? { profile: opts.profile } : {}) });
  if ('error' in loaded) return [];
  // check names files from the root it was given, here absolute.
  return checkSite(root, loaded)
    .diagnostics.filter((d) => d.code === 'HT220' || d.code === 'HT223')
    .map((d) => ({ file: d.file, line: d.line, why: d.message }));
}

/** Runs `test`: 0 all passed, 1 a failure, 2 usage (bad suite, unreadable site). */
export async function runTest(opts: TestOptions, io: CommandIo): Promise<number> {
  if (opts.suites.length === 0) {
    io.stderr.write('htsandbox test: give at least one suite file (--suite FILE)\n');
    return 2;
  }
  const suites: Suite[] = [];
  const problems: SuiteProblem[] = [];
  for (const file of opts.suites) {
    const abs = resolve(io.cwd, file);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      io.stderr.write(`htsandbox test: cannot read ${file}: ${(err as Error).message}\n`);
      return 2;
    }
    const parsed = parseSuite(text, abs);
    suites.push(parsed.suite);
    problems.push(...parsed.problems);
  }
  if (problems.length) {
    for (const p of problems) io.stderr.write(`${relative(io.cwd, p.file) || p.file}:${p.line}: ${p.message}\n`);
    io.stderr.write(`htsandbox test: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the suite; nothing was run\n`);
    return 2;
  }
  const progress = io.stderr.isTTY && opts.format === 'text' ? (done: number, total: number) => io.stderr.write(`\r${done}/${total} `) : undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    if (opts.against) {
      let base: URL;
      try {
        base = new URL(opts.against);
        if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
      } catch {
        io.stderr.write(`htsandbox test: --against takes an http:// or https:// URL (got ${opts.against})\n`);
        return 2;
      }
      const results = await runSuites({ base, agent }, suites, false, progress);
      if (progress) io.stderr.write('\r');
      io.stdout.write(`${formatResults(results, opts.format, io.cwd, opts.against)}\n`);
      return results.every((r) => r.passed) ? 0 : 1;
    }
    const root = resolve(io.cwd, opts.root);
    try {
      if (!statSync(root).isDirectory()) throw new Error('not a directory');
    } catch {
      io.stderr.write(`htsandbox test: ${opts.root} is not a directory\n`);
      return 2;
    }
    const served = await serveQuietly({ root, ...(opts.config ? { config: opts.config } : {}), ...(opts.profile ? { profile: opts.profile } : {}) }, io.cwd);
    if ('error' in served) {
      io.stderr.write(`htsandbox test: the site could not be served: ${served.error}\n`);
      return 2;
    }
    const port = served.port;
    try {
      const results = await runSuites({ base: new URL(`http://127.0.0.1:${port}/`), agent }, suites, true, progress);
      if (progress) io.stderr.write('\r');
      const coverage = measureCoverage(root, results, neverApplicable(root, opts, io.cwd));
      io.stdout.write(`${formatResults(results, opts.format, io.cwd, undefined, coverage)}\n`);
      if (opts.coverageMin !== undefined && coverage.percent < opts.coverageMin) {
        io.stderr.write(`htsandbox test: coverage ${coverage.percent} % is below --coverage-min ${opts.coverageMin}\n`);
        return 1;
      }
      return results.every((r) => r.passed) ? 0 : 1;
    } finally {
      agent.destroy();
      await served.stop();
    }
  } finally {
    agent.destroy();
  }
}
