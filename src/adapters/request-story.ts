/**
 * The story of one request, in plain words — which `.htaccess` files the host reads, each
 * rewrite rule's turn (its file:line, what it matched, what it did), internal redirects, the
 * access rules on the way, the handler and what it would run — ending with the status and why.
 * Told by `htsandbox explain`, on the dashboard's page of a request, and for a failing
 * `htsandbox test` request.
 */
import { readFileSync, statSync } from 'node:fs';
import { osPath } from './byte-paths.js';
import { runsThroughPhpCgi } from './cgi-process.js';
import type { DiskFsView } from './disk-fs-view.js';
import { fcgidWrapperFor } from '../engine/dir-config.js';
import { dirConfigOf, printDecision } from '../engine/config-ref.js';
import { isPhaseNote, isPhaseRun, resolveRequest, type Decision, type PhaseNote, type RequestFacts, type ResolveContext, type StoryNote } from '../engine/resolve.js';
import type { RewriteTraceStep } from '../engine/rewrite.js';
import { normalizeRequestPath } from '../grammar/url-path.js';
import { STATUS_REASONS } from '../grammar/error-pages.js';

const MAX_INTERNAL_REDIRECTS = 10;

function firstLine(path: string): string {
  try {
    const head = readFileSync(osPath(path)).subarray(0, 256).toString('latin1');
    return head.split('\n')[0]!.replace(/\r$/, '');
  } catch {
    return '';
  }
}

/** One step of the story. */
export interface StoryStep {
  /** The Apache module that acted (core, rewrite, dir, mod_fcgid …). */
  module: string;
  text: string;
  /** The directive's place, when one line decided it. */
  file?: string;
  line?: number;
  /** A rewrite rule's turn: whether it applied (its pattern and conditions held). */
  applied?: boolean;
  /** The walk's step: the access files read, as shown. */
  files?: string[];
}

/** The answer the story ends with. */
export interface StoryAnswer {
  status: number;
  /** What answers: static, listing, a handler name, error, redirect. */
  kind: string;
  why: string;
  location?: string;
  /** What would run (script, interpreter, FastCGI class), when a script answers. */
  wouldRun?: string;
}

export interface Story {
  request: { method: string; url: string };
  steps: StoryStep[];
  /** The engine's runs of Apache's phases: a URI, then the phases that ran for it, in order (JSON only). */
  phases: string[];
  /**
   * The engine's decision as data (JSON only): its configuration as the levels that built it
   * (the reference's id is this process's own), a file's entry as its kind and size.
   */
  decision?: unknown;
  answer: StoryAnswer;
}

/** The .htaccess files a walk of `uriPath` reads, from the root down (those that exist). */
function accessFilesOnPath(ctx: StoryContext, uriPath: string): string[] {
  const parts = uriPath.split('/').filter((p) => p !== '');
  const files: string[] = [];
  let dir = ctx.documentRoot.replace(/\/$/, '');
  const consider = [dir];
  for (const p of parts) {
    dir = `${dir}/${p}`;
    consider.push(dir);
  }
  for (const d of consider) {
    let isDir = false;
    try {
      isDir = statSync(osPath(d)).isDirectory();
    } catch {
      break;
    }
    if (!isDir) break;
    const ht = ctx.fs.htaccess(d);
    if (ht.kind !== 'none') files.push(ht.file);
  }
  return files;
}

/** The access-control lines of the files read (Require, Allow/Deny, Auth…), with their places. */
function accessLines(files: readonly string[], shown: (p: string) => string): StoryStep[] {
  const out: StoryStep[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(osPath(f), 'latin1');
    } catch {
      continue;
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (/^(Require|Allow|Deny|Order|Satisfy|AuthType|AuthName|AuthUserFile|AuthGroupFile|<Files|<FilesMatch|<RequireAll|<RequireAny|<RequireNone|<Limit)\b/i.test(line)) {
        out.push({ module: 'authz', text: line, file: shown(f), line: i + 1 });
      }
    });
  }
  return out;
}

/** The same, when the story names the deciding lines. */
const ACCESS_REASONS_TOLD: Record<number, string> = {
  401: 'this directory asks for a login (the AuthType, AuthUserFile and Require lines above) and the request carries no valid user and password',
  403: 'the access rule above refuses it',
};

/**
 * A phase note as a step of the story, with the deciding line's place, which its compiled
 * value carries. A line outside the access files read is the host's own configuration. A
 * grant the host's own configuration makes is left out (it is the same for every request); a
 * refusal is told wherever it comes from.
 */
function phaseStep(n: PhaseNote, files: readonly string[], shown: (p: string) => string): StoryStep | undefined {
  const place = n.source && files.includes(n.source.file) ? n.source : undefined;
  if (place) return { module: n.module, text: n.text, file: shown(place.file), line: place.line };
  if (n.phase === 'authz' && / grants /.test(n.text)) return undefined;
  return { module: n.module, text: n.directive !== undefined ? `${n.text} (in the host's own configuration)` : n.text };
}

/** What a 401 or 403 without a log line of its own means, in plain words. */
const ACCESS_REASONS: Record<number, string> = {
  401: 'this directory asks for a login (Basic authentication: AuthType, AuthUserFile and a Require user/valid-user line above) and the request carries no valid user and password',
  403: 'the access rules above refuse it',
};

function rewriteStep(s: RewriteTraceStep, shown: (p: string) => string): StoryStep {
  const rule = `RewriteRule ${s.pattern} ${s.substitution}`;
  const text = !s.matched
    ? `${rule}: the pattern does not match "${s.subject}"`
    : !s.conditionsHeld
      ? `${rule}: the pattern matches "${s.subject}", but its RewriteCond lines do not all hold`
      : `${rule}: matches "${s.subject}" and ${s.result ?? 'applies'}`;
  return { module: 'rewrite', text, applied: s.matched && s.conditionsHeld, ...(s.source ? { file: shown(s.source.file), line: s.source.line } : {}) };
}

/** The request a story is told of. */
export interface StoryRequest {
  method: string;
  url: string;
  /** "Name: value" fields. */
  headers: readonly string[];
  data?: string;
}

/** A site's resolver with the file view the walk reads `.htaccess` files through. */
export type StoryContext = ResolveContext & { fs: Pick<DiskFsView, 'htaccess'> };

/**
 * Builds the story of one request against a site's configuration as it reads now: the engine
 * decides as `serve` does (rewrite rules tell their turns through the request's `story`), and
 * internal redirects and error documents are followed the way the responder follows them.
 * Nothing is served and nothing runs. `shown` turns a path into what the reader sees.
 */
export function tellStory(ctx: StoryContext, opts: StoryRequest, suexec: boolean, shown: (p: string) => string): Story | { error: string } {
  const headers: Record<string, string> = { host: 'localhost' };
  for (const h of opts.headers) {
    const colon = h.indexOf(':');
    if (colon > 0) headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  if (opts.data !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.data));
  const steps: StoryStep[] = [];
  const phases: string[] = [];
  let url = opts.url.startsWith('/') ? opts.url : `/${opts.url}`;
  let method = opts.method.toUpperCase();
  let redirectEnv: Map<string, string> | undefined;
  for (let round = 0; ; round++) {
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const norm = normalizeRequestPath(rawPath);
    const files = accessFilesOnPath(ctx, norm.ok ? norm.uri : rawPath);
    steps.push({
      module: 'core',
      text: files.length
        ? `${method} ${url}: the host reads ${files.map(shown).join(', ')} (from the root down; a child's settings add to or override its parent's)`
        : `${method} ${url}: no .htaccess on the way; only the host's own configuration applies`,
      files: files.map(shown),
    });
    const story: StoryNote[] = [];
    const facts: RequestFacts = {
      method,
      rawPath,
      query: q === -1 ? undefined : url.slice(q + 1),
      remoteAddr: '127.0.0.1',
      origin: 'http://localhost',
      headers,
      rawTarget: url,
      story,
      ...(redirectEnv ? { redirectEnv } : {}),
    };
    let d: Decision;
    try {
      d = resolveRequest(ctx, facts);
    } catch (err) {
      return { error: `htsandbox could not decide this request (a bug; serve would answer 500): ${(err as Error).message}` };
    }
    const rewriteTurns: RewriteTraceStep[] = [];
    let accessTold = false;
    for (const s of story) {
      if (isPhaseRun(s)) {
        // One line per run: the URI, then the phases that ran for it (a DirectoryIndex candidate runs its own).
        const last = phases.length - 1;
        const starts = s.ran === 'post_read_request' || (s.ran === 'translate_name' && !phases[last]?.endsWith(': post_read_request'));
        if (starts || last < 0) phases.push(`${s.uri}: ${s.ran}`);
        else phases[last] += `, ${s.ran}`;
        continue;
      }
      if (isPhaseNote(s)) {
        const step = phaseStep(s, files, shown);
        if (!step) continue;
        step.text = step.text.split(ctx.documentRoot).join(shown(ctx.documentRoot));
        if (s.phase !== 'handler') accessTold = true;
        steps.push(step);
        continue;
      }
      rewriteTurns.push(s);
      const step = rewriteStep(s, shown);
      step.text = step.text.split(ctx.documentRoot).join(shown(ctx.documentRoot));
      steps.push(step);
    }
    if (d.kind === 'internal' && round < MAX_INTERNAL_REDIRECTS) {
      const next = d.url + (d.query !== undefined ? `?${d.query}` : '');
      steps.push({ module: 'rewrite', text: `an internal redirect: the request starts again at ${next}, with that file's own settings (the browser never sees it)` });
      url = next;
      redirectEnv = new Map([
        ['REDIRECT_STATUS', '200'],
        // The previous r->uri, decoded (as the server's responder gives it).
        ['REDIRECT_URL', norm.ok ? norm.uri : rawPath],
      ]);
      continue;
    }
    if (d.kind === 'internal') {
      return {
        request: { method: opts.method, url: opts.url },
        steps,
        phases,
        answer: { status: 500, kind: 'error', why: `more than ${MAX_INTERNAL_REDIRECTS} internal redirects (AH00124): a rewrite rule keeps matching its own result` },
      };
    }
    const answer = describeDecision(d, suexec, shown, rewriteTurns);
    if (d.kind === 'error' && (d.status === 401 || d.status === 403)) {
      // Without a note of the deciding line (a refusal made before the access phase), the
      // access lines on the way are listed instead.
      const rules = accessTold ? [] : accessLines(files, shown);
      if (rules.length) {
        steps.push({ module: 'authz', text: "the access rules on the way (with the server's own, e.g. no .ht* file is ever served):" });
        steps.push(...rules);
      }
      if (!d.log?.explain) answer.why = (accessTold ? ACCESS_REASONS_TOLD : ACCESS_REASONS)[d.status]! + (d.log ? ` — the host logs: ${d.log.message}` : '');
    }
    if (d.kind === 'error') {
      const doc = (d.config ? dirConfigOf(d.config) : ctx.serverConfig).errorDocuments.get(d.status);
      if (doc?.kind === 'local' && round < MAX_INTERNAL_REDIRECTS) {
        steps.push({ module: 'core', text: `ErrorDocument ${d.status} ${doc.value}: the host answers ${d.status} with that page (an internal redirect as GET)` });
        answer.why += `; the body comes from ErrorDocument ${doc.value}`;
      } else if (doc?.kind === 'message') answer.why += `; the body is the ErrorDocument's text "${doc.value}"`;
      else if (doc?.kind === 'url') {
        answer.status = 302;
        answer.location = doc.value;
        answer.why += `; ErrorDocument ${d.status} names a full URL, so the host redirects there instead (302)`;
      }
    }
    method = 'GET';
    return {
      request: { method: opts.method, url: opts.url },
      steps,
      phases,
      decision: decisionData(d, (text) => text.split(ctx.documentRoot).join(shown(ctx.documentRoot))),
      answer,
    };
  }
}

/** A decision as plain JSON for the story: what does not change between runs and checkouts. */
function decisionData(d: Decision, shownText: (text: string) => string): unknown {
  const view: Record<string, unknown> = { ...d };
  if (d.config) view.config = d.config.levels;
  if ('entry' in d && d.entry) view.entry = { kind: d.entry.kind, size: d.entry.size };
  return JSON.parse(shownText(printDecision(view)));
}

function describeDecision(d: Decision, suexec: boolean, shown: (p: string) => string, story: RewriteTraceStep[]): StoryAnswer {
  switch (d.kind) {
    case 'error': {
      const why = [d.log?.explain, d.log?.message].filter(Boolean).join(' — the host logs: ');
      return { status: d.status, kind: 'error', why: why || `${d.status} ${STATUS_REASONS[d.status] ?? ''}`.trim() };
    }
    case 'redirect': {
      const byRewrite = story.some((s) => s.result?.startsWith('redirects'));
      const by = byRewrite
        ? 'a RewriteRule with [R] (above)'
        : /\/$/.test(d.location) && d.status === 301
          ? "mod_dir (DirectorySlash: a directory's URL needs its trailing slash)"
          : 'a Redirect/RedirectMatch line (mod_alias)';
      return { status: d.status, kind: 'redirect', why: `redirected by ${by}`, location: d.location };
    }
    case 'file':
      return {
        status: 200,
        kind: 'static',
        why: `the file ${shown(d.path)} is sent as it is${d.contentType ? `, as ${d.contentType}` : ', with no Content-Type (no type is mapped to its name)'}`,
      };
    case 'listing':
      return { status: 200, kind: 'autoindex', why: `no DirectoryIndex file exists in ${shown(d.path)} and Options Indexes is on: mod_autoindex lists the directory` };
    case 'options':
      return { status: 200, kind: 'options', why: `OPTIONS: Allow: ${d.allow}` };
    case 'fcgi-auth':
      return {
        status: 200,
        kind: 'fcgid-authorizer',
        why: `a FastCGI access-phase program decides first (${d.role}): ${shown(d.program)}; its answer is not known without running it`,
        wouldRun: shown(d.program),
      };
    case 'handler': {
      if (d.handler === 'fcgid-script') {
        const wrapper = fcgidWrapperFor(dirConfigOf(d.config), d.path);
        const run = wrapper ? `${wrapper.argv.join(' ')} (FcgidWrapper) for ${shown(d.path)}` : `${shown(d.path)} (${firstLine(d.path) || 'no #! line'})`;
        return {
          status: 200,
          kind: 'fcgid-script',
          why: 'a FastCGI application under mod_fcgid: a process of its class answers (one is started if none is free); the status is what the application says',
          wouldRun: run,
        };
      }
      if (d.handler === 'cgi-script' || d.handler === 'application/x-httpd-cgi') {
        const run = runsThroughPhpCgi(d.path, suexec) ? `php-cgi for ${shown(d.path)}` : `${shown(d.path)} (${firstLine(d.path) || 'no #! line: the host cannot start it'})`;
        return {
          status: 200,
          kind: 'cgi-script',
          why: `a CGI script: a new process for this request${d.pathInfo ? `, with PATH_INFO ${d.pathInfo}` : ''}; the status is what the script says`,
          wouldRun: run,
        };
      }
      if (d.handler.startsWith('proxy:'))
        return { status: 200, kind: d.handler, why: `mod_proxy_fcgi forwards the request to ${d.handler.slice(6)}; the status is what that server says` };
      return { status: 200, kind: d.handler, why: `the ${d.handler} handler answers` };
    }
    default:
      return { status: 200, kind: d.kind, why: '' };
  }
}

/** The story as text: numbered steps, then the answer. */
export function formatStory(story: Story): string {
  const lines = [`${story.request.method.toUpperCase()} ${story.request.url}`, ''];
  story.steps.forEach((s, i) => {
    const where = s.file ? ` (${s.file}:${s.line})` : '';
    lines.push(`${i + 1}. [${s.module}]${where} ${s.text}`);
  });
  const a = story.answer;
  lines.push('', `Answer: ${a.status} ${STATUS_REASONS[a.status] ?? ''}`.trimEnd());
  lines.push(`Why: ${a.why}`);
  if (a.location) lines.push(`Location: ${a.location}`);
  if (a.wouldRun) lines.push(`Would run: ${a.wouldRun} (explain runs nothing; htsandbox serve would)`);
  return `${lines.join('\n')}\n`;
}
