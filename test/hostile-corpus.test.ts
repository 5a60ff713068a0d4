/**
 * The hostile-request corpus (issue 14), part two: the raw bytes Node's http client cannot send
 * (request smuggling, malformed and oversized request lines and fields, bare LFs, control
 * bytes, half-closed connections, pipelining), sent over a socket to a private Apache and to
 * `htsandbox serve` on copies of the same site; the status lines must agree wherever Apache's
 * own answer is stable (asked twice, same both times). Part one is the conformance cases
 * fixtures/conformance/hostile and hostile-script-headers, replayed here too.
 *
 * Around it, the invariants: after the whole corpus the server (a child process, the CLI) still
 * answers, its open file descriptors are back to their count before the corpus, and once it is
 * stopped no process it or its scripts started is left.
 */
import { cpSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apacheMissing, peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROFILES_DIR, PROJECT_ROOT, startPrivateApache, writeHostConfig, type PrivateApache } from './helpers/private-apache.js';
import { copySite, finishSiteCopy } from './helpers/site-copy.js';
import { spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { sendRaw, statusCodes, statusLines, type RawAnswer } from './helpers/raw-http.js';
import { fdCount, fdTargets, killProcessesOfSite, processesOfSite } from './helpers/leftovers.js';

const live = peerAvailable('Apache for the raw hostile corpus', apacheMissing());
const havePerlFcgi = peerAvailable('Perl FCGI for the hostile corpus', perlFcgiMissing());
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const CASES = join(PROJECT_ROOT, 'fixtures/conformance');

interface RawCase {
  name: string;
  bytes: Buffer;
  halfClose?: boolean;
  /** Compare whole status lines (reason phrases too), not only the codes. */
  wholeLine?: boolean;
  /** Only the invariants: no answer of Apache's to compare (it varies, or is a reset). */
  noCompare?: boolean;
  timeoutMs?: number;
}

const CRLF = '\r\n';
const raw = (name: string, text: string, more: Omit<RawCase, 'name' | 'bytes'> = {}): RawCase => ({ name, bytes: Buffer.from(text, 'latin1'), ...more });
/** A request from its line and fields; Host and Connection: close unless given. */
const req = (line: string, fields: string[] = [], body = ''): string => {
  const all = [...fields];
  if (!all.some((f) => /^host\s*:/i.test(f))) all.unshift('Host: localhost');
  if (!all.some((f) => /^connection\s*:/i.test(f))) all.push('Connection: close');
  return [line, ...all].join(CRLF) + CRLF + CRLF + body;
};
const post = (path: string, fields: string[], body: string): string => req(`POST ${path} HTTP/1.1`, fields, body);

const rawCases: RawCase[] = [
  // --- request smuggling: framing the two servers must read alike
  raw('smuggle-cl-te', post('/env.cgi', ['Content-Length: 4', 'Transfer-Encoding: chunked'], `0${CRLF}${CRLF}`)),
  raw(
    'smuggle-te-cl-pipelined',
    post('/env.cgi', ['Transfer-Encoding: chunked', 'Content-Length: 40', 'Connection: keep-alive'], `0${CRLF}${CRLF}` + req('GET /.htpasswd HTTP/1.1')),
  ),
  raw('smuggle-cl-cl-differ', post('/env.cgi', ['Content-Length: 3', 'Content-Length: 5'], 'abcde')),
  raw('smuggle-cl-cl-same', post('/env.cgi', ['Content-Length: 3', 'Content-Length: 3'], 'abc')),
  raw('smuggle-cl-list', post('/env.cgi', ['Content-Length: 3, 3'], 'abc')),
  raw('cl-negative', post('/env.cgi', ['Content-Length: -1'], '')),
  raw('cl-plus', post('/env.cgi', ['Content-Length: +3'], 'abc')),
  raw('cl-hex', post('/env.cgi', ['Content-Length: 0x3'], 'abc')),
  raw('cl-letters', post('/env.cgi', ['Content-Length: abc'], '')),
  raw('cl-overflow', post('/env.cgi', ['Content-Length: 99999999999999999999999'], '')),
  raw('cl-over-limit-static', post('/index.html', ['Content-Length: 2147483648'], '')),
  raw('cl-space-inside', post('/env.cgi', ['Content-Length: 1 2'], 'abc')),
  raw('te-chunked-ok', post('/env.cgi', ['Transfer-Encoding: chunked'], `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunked-upper', post('/env.cgi', ['Transfer-Encoding: CHUNKED'], `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-letters', post('/env.cgi', ['Transfer-Encoding: chunked'], `zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-negative', post('/env.cgi', ['Transfer-Encoding: chunked'], `-1${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-overflow', post('/env.cgi', ['Transfer-Encoding: chunked'], `ffffffffffffffffffff${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-0x', post('/env.cgi', ['Transfer-Encoding: chunked'], `0x3${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-ext', post('/env.cgi', ['Transfer-Encoding: chunked'], `3;name=val${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-space-ext', post('/env.cgi', ['Transfer-Encoding: chunked'], `3 ;x${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-data-too-long', post('/env.cgi', ['Transfer-Encoding: chunked'], `3${CRLF}abcdef${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-bare-lf', post('/env.cgi', ['Transfer-Encoding: chunked'], `3\nabc\n0\n\n`)),
  raw('te-gzip-chunked', post('/env.cgi', ['Transfer-Encoding: gzip, chunked'], `0${CRLF}${CRLF}`)),
  raw('te-chunked-gzip', post('/env.cgi', ['Transfer-Encoding: chunked, gzip'], `0${CRLF}${CRLF}`)),
  raw('te-unknown', post('/env.cgi', ['Transfer-Encoding: xchunked'], `0${CRLF}${CRLF}`)),
  raw('te-identity', post('/env.cgi', ['Transfer-Encoding: identity', 'Content-Length: 3'], 'abc')),
  raw('te-twice', post('/env.cgi', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], `0${CRLF}${CRLF}`)),
  raw('te-space-before-colon', post('/env.cgi', ['Transfer-Encoding : chunked'], `0${CRLF}${CRLF}`)),
  raw('te-tab-value', post('/env.cgi', ['Transfer-Encoding:\tchunked'], `0${CRLF}${CRLF}`)),
  raw('te-obs-fold', post('/env.cgi', ['Transfer-Encoding:', ' chunked'], `0${CRLF}${CRLF}`)),
  raw('te-http10', req('POST /env.cgi HTTP/1.0', ['Transfer-Encoding: chunked'], `0${CRLF}${CRLF}`)),
  // --- malformed header fields
  raw('field-obs-fold', req('GET /env.cgi HTTP/1.1', ['X-Dash: a', '  folded'])),
  raw('field-first-line-folded', req('GET /index.html HTTP/1.1', [' X-A: b', 'Host: localhost'])),
  raw('field-no-colon', req('GET /index.html HTTP/1.1', ['NoColonHere'])),
  raw('field-space-in-name', req('GET /index.html HTTP/1.1', ['X A: b'])),
  raw('field-empty-name', req('GET /index.html HTTP/1.1', [': b'])),
  raw('field-nul-value', req('GET /index.html HTTP/1.1', ['X-A: a\x00b'])),
  raw('field-ctl-value', req('GET /index.html HTTP/1.1', ['X-A: a\x01b'])),
  raw('field-del-value', req('GET /index.html HTTP/1.1', ['X-A: a\x7fb'])),
  raw('field-8bit-value', req('GET /env.cgi HTTP/1.1', ['X-Dash: caf\xe9'])),
  raw('field-8bit-name', req('GET /index.html HTTP/1.1', ['X-\xe9: b'])),
  raw('field-bare-cr', req('GET /index.html HTTP/1.1', ['X-A: a\rb'])),
  raw('field-9000', req('GET /index.html HTTP/1.1', [`X-Big: ${'b'.repeat(9000)}`])),
  raw(
    'field-100',
    req(
      'GET /index.html HTTP/1.1',
      Array.from({ length: 98 }, (_, i) => `X-F${i}: v`),
    ),
  ),
  raw(
    'field-101',
    req(
      'GET /index.html HTTP/1.1',
      Array.from({ length: 101 }, (_, i) => `X-F${i}: v`),
    ),
  ),
  raw('host-missing-11', `GET /index.html HTTP/1.1${CRLF}Connection: close${CRLF}${CRLF}`),
  raw('host-missing-10', `GET /index.html HTTP/1.0${CRLF}${CRLF}`),
  raw('host-twice', req('GET /index.html HTTP/1.1', ['Host: localhost', 'Host: evil.example'])),
  raw('host-empty', req('GET /index.html HTTP/1.1', ['Host: '])),
  raw('host-space', req('GET /index.html HTTP/1.1', ['Host: local host'])),
  raw('host-port-huge', req('GET /index.html HTTP/1.1', ['Host: localhost:99999'])),
  raw('host-ipv6', req('GET /index.html HTTP/1.1', ['Host: [::1]'])),
  raw('proxy-header-env', req('GET /env.cgi HTTP/1.1', ['Proxy: http://evil.example:3128', 'X_Under: u', 'X-Dash: d'])),
  // --- malformed request lines
  raw('line-double-space', `GET  /index.html HTTP/1.1${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`),
  raw('line-trailing-space', `GET /index.html HTTP/1.1 ${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`),
  raw('line-tabs', `GET\t/index.html\tHTTP/1.1${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`),
  raw('line-extra-token', req('GET /index.html HTTP/1.1 extra')),
  raw('line-lowercase-method', req('get /index.html HTTP/1.1')),
  raw('line-method-symbol', req('G@T /index.html HTTP/1.1')),
  raw('line-unknown-method', req('BREW /index.html HTTP/1.1')),
  raw('line-http09', `GET /index.html${CRLF}`),
  raw('line-http09-explicit', req('GET /index.html HTTP/0.9')),
  raw('line-http2', req('GET /index.html HTTP/2.0')),
  raw('line-http12', req('GET /index.html HTTP/1.2')),
  raw('line-http99', req('GET /index.html HTTP/9.9')),
  raw('line-http-leading-zero', req('GET /index.html HTTP/01.1')),
  raw('line-http-lowercase', req('GET /index.html http/1.1')),
  raw('line-https-proto', req('GET /index.html HTTPS/1.1')),
  raw('line-bare-lf', `GET /index.html HTTP/1.1\nHost: localhost\nConnection: close\n\n`),
  raw('line-leading-blank-lines', `${CRLF}${CRLF}` + req('GET /index.html HTTP/1.1')),
  raw('line-nul', req('GET /index.html\x00 HTTP/1.1')),
  raw('target-raw-space', req('GET /a b HTTP/1.1')),
  raw('target-raw-ctl', req('GET /index\x01.html HTTP/1.1')),
  raw('target-raw-8bit', req('GET /\xff\xfe HTTP/1.1')),
  raw('target-raw-quote', req('GET /"<script> HTTP/1.1')),
  raw('target-fragment', req('GET /index.html#frag HTTP/1.1')),
  raw('target-raw-backslash-dotdot', req('GET /..\\..\\etc\\passwd HTTP/1.1')),
  raw('target-10000', req(`GET /${'a'.repeat(10_000)} HTTP/1.1`)),
  raw('target-absolute', req('GET http://localhost/index.html HTTP/1.1')),
  raw('target-absolute-dotdot', req('GET http://localhost/../../etc/passwd HTTP/1.1')),
  raw('target-absolute-https', req('GET https://localhost/index.html HTTP/1.1')),
  raw('target-absolute-userinfo', req('GET http://user:pw@localhost/index.html HTTP/1.1')),
  raw('target-network-path', req('GET //evil.example/index.html HTTP/1.1')),
  raw('target-asterisk-options', req('OPTIONS * HTTP/1.1')),
  raw('target-asterisk-get', req('GET * HTTP/1.1')),
  raw('connect', req('CONNECT localhost:443 HTTP/1.1', ['Host: localhost:443'])),
  raw('connect-path', req('CONNECT /index.html HTTP/1.1')),
  // --- half-closed clients, pipelining, interim answers
  raw('half-close-static', req('GET /index.html HTTP/1.1', ['Connection: keep-alive']), { halfClose: true }),
  raw('half-close-cgi', req('GET /env.cgi HTTP/1.1', ['Connection: keep-alive']), { halfClose: true }),
  raw('half-close-partial', `GET /index.html HTTP/1.1${CRLF}Host: local`, { halfClose: true }),
  raw('pipeline-two', req('GET /index.html HTTP/1.1', ['Connection: keep-alive']) + req('GET /plain.txt HTTP/1.1')),
  raw('pipeline-static-then-ht', req('GET /index.html HTTP/1.1', ['Connection: keep-alive']) + req('GET /.htpasswd HTTP/1.1')),
  raw('pipeline-cgi-then-garbage', req('GET /env.cgi HTTP/1.1', ['Connection: keep-alive']) + `GARBAGE\x01\x02${CRLF}${CRLF}`),
  raw('expect-continue', post('/env.cgi', ['Content-Length: 3', 'Expect: 100-continue'], 'abc')),
  raw('expect-unknown', req('GET /index.html HTTP/1.1', ['Expect: teapot'])),
  raw('post-static', post('/index.html', ['Content-Length: 3'], 'abc')),
  raw('post-early-exit-big', post('/early-exit.cgi', ['Content-Length: 400000'], 'x'.repeat(400_000)), { noCompare: true }),
  raw('post-body-short', post('/env.cgi', ['Content-Length: 10'], 'abc'), { halfClose: true }),
  raw('post-body-short-fcgi', post('/hdr.fcgi?tab-value', ['Content-Length: 10'], 'abc'), { halfClose: true }),
  raw('te-chunk-size-letters-fcgi', post('/hdr.fcgi?tab-value', ['Transfer-Encoding: chunked'], `zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('te-chunk-size-overflow-fcgi', post('/hdr.fcgi?tab-value', ['Transfer-Encoding: chunked'], `ffffffffffffffffffff${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  raw('connect-and-close', '', { halfClose: true, noCompare: true }),
  // --- scripts' header bytes: the whole status line (reason phrases) as Apache writes it
  ...['ctl-status', 'nul-status', 'latin1-status', 'status-600', 'status-099', 'status-space', 'status-abc', 'ctl-value', 'space-name'].flatMap((k) => [
    raw(`script-cgi-${k}`, req(`GET /hdr.cgi?${k} HTTP/1.1`), { wholeLine: true }),
    raw(`script-fcgi-${k}`, req(`GET /hdr.fcgi?${k} HTTP/1.1`), { wholeLine: true }),
  ]),
];

/**
 * Where htsandbox deliberately answers otherwise than Apache (docs/differences.md, "Raw
 * requests Node's parser decides"): both answers are checked exactly, so a change on either
 * side is noticed. Most are Node's HTTP parser (llhttp) refusing what Apache reads leniently —
 * request smuggling's ambiguous framings among them, where refusing is the safer answer.
 */
const DELIBERATE: Record<string, { ours: string; apache: string; why: string }> = {
  'smuggle-cl-te': {
    ours: '400',
    apache: '200',
    why: 'Content-Length with Transfer-Encoding: Node refuses the ambiguous framing (RFC 9112 6.1 allows it); Apache drops Content-Length and closes after',
  },
  'smuggle-te-cl-pipelined': { ours: '400', apache: '200', why: 'the same framing with a request smuggled behind it: refused, nothing after it is read' },
  'te-twice': { ours: '400', apache: '200', why: 'two Transfer-Encoding fields: Node refuses them, Apache reads `chunked, chunked` as chunked' },
  'te-obs-fold': { ours: '400', apache: '200', why: 'a folded Transfer-Encoding: Node refuses obs-fold (RFC 9112 5.2), Apache unfolds it' },
  'field-obs-fold': { ours: '400', apache: '200', why: 'obs-fold in any field: refused by Node, unfolded by Apache' },
  'te-chunk-size-space-ext': { ours: '400', apache: '200', why: 'a space between chunk size and `;`: llhttp refuses it, Apache reads it' },
  'line-double-space': { ours: '200', apache: '400', why: 'two spaces after the method: llhttp accepts them and hides them, Apache (HttpProtocolOptions Strict) refuses' },
  'line-http09': {
    ours: 'no answer (timeout)',
    apache: 'non-http (40 bytes)',
    why: 'htsandbox does not speak HTTP/0.9: Node waits for the rest of a head (then Timeout), Apache sends the bare body',
  },
  'line-http12': { ours: '400', apache: '200', why: 'HTTP/1.2: llhttp accepts only the versions it knows, Apache serves any HTTP/1.x' },
  'line-http99': { ours: '400', apache: '200', why: 'HTTP/9.9: likewise refused by llhttp, served by Apache' },
  'target-raw-8bit': { ours: '400', apache: '404', why: 'raw bytes above 0x7f in the target: llhttp refuses them, Apache looks the path up' },
};

/** The conformance cases' requests as raw bytes (answer only: the conformance suite compares them). */
function conformanceRequests(caseName: string): RawCase[] {
  const lines = readFileSync(join(CASES, caseName, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  return lines.map((l) => {
    const r = JSON.parse(l) as { name: string; path: string; method?: string; headers?: Record<string, string>; body?: string };
    const body = r.body ?? '';
    const fields = Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
    if (body !== '') fields.push(`Content-Length: ${Buffer.byteLength(body)}`);
    return raw(`${caseName}/${r.name}`, req(`${r.method ?? 'GET'} ${r.path} HTTP/1.1`, fields, body), { noCompare: true });
  });
}

/** Runs `cases` against a port, `width` at a time; answers by name. */
async function runAll(port: number, cases: RawCase[], width = 8): Promise<Map<string, RawAnswer>> {
  const answers = new Map<string, RawAnswer>();
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        answers.set(c.name, await sendRaw(port, c.bytes, { halfClose: c.halfClose, timeoutMs: c.timeoutMs ?? 5_000 }));
      }
    }),
  );
  return answers;
}

const summary = (a: RawAnswer | undefined, wholeLine = false): string => {
  if (!a) return '(none)';
  const lines = statusLines(a.data);
  if (lines.length === 0) return `no answer (${a.end})`;
  return (wholeLine ? lines : statusCodes(lines)).join(' | ');
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(havePerlFcgi)('hostile corpus: raw requests and invariants', () => {
  const base = mkdtempSync(join(tmpdir(), 'htsandbox-hostile-'));
  chmodSync(base, 0o755);
  const source = join(base, 'source');
  const setupScript = join(CASES, 'hostile', 'setup.sh');
  // The site: the hostile case's, plus the header-printing scripts of hostile-script-headers.
  cpSync(join(CASES, 'hostile', 'site'), source, { recursive: true, verbatimSymlinks: true });
  for (const f of readdirSync(join(CASES, 'hostile-script-headers', 'site'))) cpSync(join(CASES, 'hostile-script-headers', 'site', f), join(source, f));
  const extra = [isRoot ? 'User www-data\nGroup www-data' : '', 'FcgidMaxProcessesPerClass 1'].join('\n');

  let apache: PrivateApache | undefined;
  let server: ServeChild | undefined;
  let siteRoot = '';
  const apacheFirst = new Map<string, RawAnswer>();
  const apacheSecond = new Map<string, RawAnswer>();
  const ours = new Map<string, RawAnswer>();
  let baselineFds: string[] = [];
  let exitedDuringCorpus: string | undefined;

  beforeAll(async () => {
    if (live) {
      apache = await startPrivateApache({ site: source, extraConfig: extra, prepare: (root) => finishSiteCopy(root, undefined, setupScript) });
      for (const [k, v] of await runAll(apache.port, rawCases)) apacheFirst.set(k, v);
      for (const [k, v] of await runAll(apache.port, rawCases)) apacheSecond.set(k, v);
      await apache.stop();
    }
    const dir = join(base, 'htsandbox');
    siteRoot = join(dir, 'site');
    copySite(source, siteRoot, undefined, join(CASES, 'hostile'));
    const conf = join(base, 'host.conf');
    writeHostConfig(conf, siteRoot, join(PROFILES_DIR, 'apache.conf'), extra);
    server = await spawnServe([siteRoot, '--port', '0', '--host', '127.0.0.1', '--config', conf]);
    server.child.once('exit', (code, signal) => (exitedDuringCorpus = `exit code ${code}, signal ${signal}`));
    // Warm up: the lazily opened things (logs, the FastCGI application of each class) exist
    // before the baseline is taken.
    for (const p of ['/index.html', '/env.cgi', '/hdr.fcgi?tab-value', '/hdr.fcgi?tab-value']) await sendRaw(server.port, Buffer.from(req(`GET ${p} HTTP/1.1`)));
    await sleep(300);
    baselineFds = fdTargets(server.child.pid!);
    // The corpus: raw cases (their answers are compared below), then the conformance cases'.
    for (const [k, v] of await runAll(server.port, rawCases)) ours.set(k, v);
    await runAll(server.port, [...conformanceRequests('hostile'), ...conformanceRequests('hostile-script-headers')]);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await apache?.stop();
    // What a failed run left behind is ended here (by pid, only processes of our site copy).
    if (siteRoot) killProcessesOfSite(siteRoot);
    rmSync(base, { recursive: true, force: true });
  });

  describe.runIf(live)('status lines as Apache writes them (where Apache answers the same twice)', () => {
    for (const c of rawCases.filter((x) => !x.noCompare && !(x.name in DELIBERATE))) {
      it(c.name, () => {
        const a1 = summary(apacheFirst.get(c.name), c.wholeLine);
        const a2 = summary(apacheSecond.get(c.name), c.wholeLine);
        if (a1 !== a2 || a1.startsWith('no answer (timeout)')) {
          process.stderr.write(`[hostile-corpus] ${c.name}: Apache's answer is not stable (${a1} / ${a2}), not compared\n`);
          return;
        }
        expect(summary(ours.get(c.name), c.wholeLine), `${c.name}: ${JSON.stringify(c.bytes.toString('latin1').slice(0, 160))}`).toBe(a1);
      });
    }
  });

  describe('deliberate differences from Apache: both answers as recorded (docs/differences.md)', () => {
    for (const [name, d] of Object.entries(DELIBERATE)) {
      const c = rawCases.find((x) => x.name === name)!;
      it(`${name}: ${d.why}`, () => {
        expect(c, `${name} is not in the corpus`).toBeDefined();
        expect(summary(ours.get(name), c.wholeLine), `htsandbox's answer to ${name}`).toBe(d.ours);
        if (live) expect(summary(apacheFirst.get(name), c.wholeLine), `Apache's answer to ${name}`).toBe(d.apache);
      });
    }
  });

  it('the corpus is at least 200 requests', () => {
    expect(rawCases.length + conformanceRequests('hostile').length + conformanceRequests('hostile-script-headers').length).toBeGreaterThanOrEqual(200);
  });

  it('the server is still up after the whole corpus', async () => {
    expect(exitedDuringCorpus, `htsandbox ended during the corpus (${exitedDuringCorpus}); log:\n${server?.log().slice(-3000)}`).toBeUndefined();
    const answer = await sendRaw(server!.port, Buffer.from(req('GET /index.html HTTP/1.1')));
    expect(summary(answer)).toBe('200');
  });

  it('no file descriptor leaked: back to the count before the corpus', async () => {
    expect(exitedDuringCorpus, 'htsandbox ended during the corpus').toBeUndefined();
    const pid = server!.child.pid!;
    // Connections close asynchronously; give them a moment, then the count must be exact.
    for (let i = 0; i < 50 && fdCount(pid) !== baselineFds.length; i++) await sleep(100);
    const now = fdTargets(pid);
    const before = new Set(baselineFds);
    expect(now.length, `open now and not before the corpus:\n${now.filter((f) => !before.has(f)).join('\n')}`).toBe(baselineFds.length);
  });

  it('nothing the server or its scripts started is left after it stops', async () => {
    const wasUp = exitedDuringCorpus === undefined;
    const code = await server!.stop();
    if (wasUp) expect(code, 'exit code after SIGTERM').toBe(0);
    let left = processesOfSite(siteRoot);
    for (let i = 0; i < 30 && left.length > 0; i++) {
      await sleep(100);
      left = processesOfSite(siteRoot);
    }
    expect(left).toEqual([]);
    expect(existsSync(siteRoot)).toBe(true);
  });
});
