/**
 * URL expectation suites for `htsandbox test` (docs/test-suites.md, schema in
 * docs/test-suite.schema.json): requests and what their answers must be. Pure: a suite file's
 * text in, the suite and its problems (with the line of each) out. YAML through the `yaml`
 * package, which keeps source positions, so a failure and a GitHub annotation point at the test's
 * own line; JSON is YAML too.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';

/** A header or body text expectation. */
export type TextMatcher = { equals: string } | { contains: string } | { matches: string } | { absent: true };

export interface SuiteRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface SuiteExpect {
  /** One status, or any of several. */
  status?: number[];
  /** By header name (case-insensitive); every matcher listed must hold. */
  headers: { name: string; matchers: TextMatcher[] }[];
  body: TextMatcher[];
  /** The whole answer must arrive within this many milliseconds. */
  maxTimeMs?: number;
}

export interface SuiteTest {
  name: string;
  /** 1-based line of the test in its file. */
  line: number;
  request: SuiteRequest;
  expect: SuiteExpect;
}

export interface Suite {
  file: string;
  tests: SuiteTest[];
}

export interface SuiteProblem {
  file: string;
  line: number;
  message: string;
}

const METHOD = /^[A-Z][A-Z0-9_-]*$/;

function matchersOf(value: unknown, where: string, problems: string[]): TextMatcher[] {
  if (typeof value === 'string' || typeof value === 'number') return [{ equals: String(value) }];
  if (value === null || value === false) return [{ absent: true }];
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${where}: expected a string or { equals | contains | matches | absent }`);
    return [];
  }
  const out: TextMatcher[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'absent') {
      if (v === true) out.push({ absent: true });
      else problems.push(`${where}.absent: only "absent: true" is meaningful`);
    } else if (k === 'equals' || k === 'contains' || k === 'matches') {
      if (typeof v !== 'string' && typeof v !== 'number') {
        problems.push(`${where}.${k}: expected a string`);
        continue;
      }
      if (k === 'matches') {
        try {
          new RegExp(String(v));
        } catch (err) {
          problems.push(`${where}.matches: ${(err as Error).message}`);
          continue;
        }
      }
      out.push({ [k]: String(v) } as TextMatcher);
    } else problems.push(`${where}: unknown key "${k}" (known: equals, contains, matches, absent)`);
  }
  return out;
}

/** Reads one test; problems are pushed as messages (the caller adds the line). */
function readTest(raw: unknown, index: number, problems: string[]): Omit<SuiteTest, 'line'> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`tests[${index}]: expected a mapping with name, request and expect`);
    return undefined;
  }
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!['name', 'request', 'expect'].includes(k)) problems.push(`unknown key "${k}" (known: name, request, expect)`);
  const req = (t.request ?? {}) as Record<string, unknown>;
  if (typeof req !== 'object' || Array.isArray(req)) {
    problems.push('request: expected a mapping');
    return undefined;
  }
  for (const k of Object.keys(req)) if (!['method', 'path', 'headers', 'body'].includes(k)) problems.push(`request: unknown key "${k}" (known: method, path, headers, body)`);
  const path = req.path;
  if (typeof path !== 'string' || !path.startsWith('/')) problems.push('request.path: required, a path starting with "/"');
  const method = req.method === undefined ? 'GET' : String(req.method).toUpperCase();
  if (!METHOD.test(method)) problems.push(`request.method: "${String(req.method)}" is not a method`);
  const headers: Record<string, string> = {};
  if (req.headers !== undefined) {
    if (typeof req.headers !== 'object' || req.headers === null || Array.isArray(req.headers)) problems.push('request.headers: expected a mapping of name: value');
    else for (const [k, v] of Object.entries(req.headers as Record<string, unknown>)) headers[k] = String(v);
  }
  const exp = (t.expect ?? {}) as Record<string, unknown>;
  if (typeof exp !== 'object' || Array.isArray(exp)) {
    problems.push('expect: expected a mapping');
    return undefined;
  }
  for (const k of Object.keys(exp))
    if (!['status', 'headers', 'location', 'body', 'maxTimeMs'].includes(k)) problems.push(`expect: unknown key "${k}" (known: status, headers, location, body, maxTimeMs)`);
  let status: number[] | undefined;
  if (exp.status !== undefined) {
    const list = Array.isArray(exp.status) ? exp.status : [exp.status];
    status = list.map(Number);
    if (status.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) problems.push('expect.status: a status code (100–599) or a list of them');
  }
  const headerExpect: SuiteExpect['headers'] = [];
  if (exp.headers !== undefined) {
    if (typeof exp.headers !== 'object' || exp.headers === null || Array.isArray(exp.headers)) problems.push('expect.headers: expected a mapping of name: expectation');
    else for (const [name, v] of Object.entries(exp.headers as Record<string, unknown>)) headerExpect.push({ name, matchers: matchersOf(v, `expect.headers.${name}`, problems) });
  }
  if (exp.location !== undefined) headerExpect.push({ name: 'Location', matchers: matchersOf(exp.location, 'expect.location', problems) });
  const body = exp.body === undefined ? [] : matchersOf(exp.body, 'expect.body', problems);
  let maxTimeMs: number | undefined;
  if (exp.maxTimeMs !== undefined) {
    maxTimeMs = Number(exp.maxTimeMs);
    if (!(maxTimeMs > 0)) problems.push('expect.maxTimeMs: a positive number of milliseconds');
  }
  if (status === undefined && headerExpect.length === 0 && body.length === 0 && maxTimeMs === undefined)
    problems.push('expect: nothing to check (give status, headers, location, body or maxTimeMs)');
  return {
    name: typeof t.name === 'string' && t.name !== '' ? t.name : `${method} ${typeof path === 'string' ? path : '?'}`,
    request: { method, path: typeof path === 'string' ? path : '/', headers, ...(req.body !== undefined ? { body: String(req.body) } : {}) },
    expect: { ...(status ? { status } : {}), headers: headerExpect, body, ...(maxTimeMs !== undefined ? { maxTimeMs } : {}) },
  };
}

/** Parses a suite file (YAML or JSON). Every problem is reported, each with its line. */
export function parseSuite(text: string, file: string): { suite: Suite; problems: SuiteProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: SuiteProblem[] = [];
  const lineOf = (node: YamlNode | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  for (const e of doc.errors) problems.push({ file, line: e.linePos?.[0]?.line ?? 1, message: e.message.split('\n')[0]! });
  const tests: SuiteTest[] = [];
  if (problems.length) return { suite: { file, tests }, problems };
  const root = doc.contents;
  const seq = isMap(root) ? root.get('tests', true) : undefined;
  if (!isMap(root) || !isSeq(seq)) {
    problems.push({ file, line: lineOf(root as YamlNode), message: 'a suite is a mapping with a "tests" list' });
    return { suite: { file, tests }, problems };
  }
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (key !== 'tests') problems.push({ file, line: lineOf(pair.key as YamlNode), message: `unknown key "${key}" (known: tests)` });
  }
  seq.items.forEach((item, i) => {
    const line = lineOf(item as YamlNode);
    const msgs: string[] = [];
    const t = readTest((item as { toJSON(): unknown }).toJSON(), i, msgs);
    for (const m of msgs) problems.push({ file, line, message: m });
    if (t && msgs.length === 0) tests.push({ ...t, line });
  });
  if (seq.items.length === 0) problems.push({ file, line: lineOf(seq), message: 'the suite has no tests' });
  return { suite: { file, tests }, problems };
}

/** An answer as the checker sees it. */
export interface SuiteAnswer {
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: string;
  timeMs: number;
}

function describe(m: TextMatcher): string {
  if ('equals' in m) return `equal to ${JSON.stringify(m.equals)}`;
  if ('contains' in m) return `containing ${JSON.stringify(m.contains)}`;
  if ('matches' in m) return `matching /${m.matches}/`;
  return 'absent';
}

function holds(m: TextMatcher, value: string | undefined): boolean {
  if ('absent' in m) return value === undefined;
  if (value === undefined) return false;
  if ('equals' in m) return value === m.equals;
  if ('contains' in m) return value.includes(m.contains);
  return new RegExp(m.matches).test(value);
}

const shown = (v: string | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v.length > 300 ? `${v.slice(0, 300)}…` : v));

/** What does not hold of a test's expectations, one line each (empty: it passed). */
export function checkAnswer(test: SuiteTest, answer: SuiteAnswer): string[] {
  const out: string[] = [];
  const e = test.expect;
  if (e.status && !e.status.includes(answer.status)) out.push(`status: expected ${e.status.join(' or ')}, got ${answer.status}`);
  for (const h of e.headers) {
    const value = answer.headers[h.name.toLowerCase()];
    for (const m of h.matchers) if (!holds(m, value)) out.push(`header ${h.name}: expected ${describe(m)}, got ${shown(value)}`);
  }
  // An absent body is an empty one.
  for (const m of e.body) if (!holds(m, 'absent' in m && answer.body === '' ? undefined : answer.body)) out.push(`body: expected ${describe(m)}, got ${shown(answer.body)}`);
  if (e.maxTimeMs !== undefined && answer.timeMs > e.maxTimeMs) out.push(`time: expected at most ${e.maxTimeMs} ms, took ${Math.round(answer.timeMs)} ms`);
  return out;
}
