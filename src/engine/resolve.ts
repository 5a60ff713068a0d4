/**
 * Turns a request into a decision, as Apache's request pipeline would (`ap_process_request_internal`):
 * URL normalisation, the directory walk with every `.htaccess`, `<Files>`, access control, type
 * and handler selection, mod_dir. Pure: the file system is seen through an `FsView`.
 */
import { parseProxyHandler } from '../grammar/proxy-target.js';
import type { ErrorCode } from '../vocabulary/error-catalog.js';
import type { HostConfig } from '../grammar/host-config.js';
import { directorySectionsFor, EMULATED_APACHE_VERSION } from '../grammar/host-config.js';
import { fileExtensions } from '../grammar/mime-types.js';
import { OPT_EXECCGI, OPT_INDEXES, OPT_SYM_LINKS, OPT_SYM_OWNER } from '../grammar/options.js';
import { normalizeRequestPath } from '../grammar/url-path.js';
import { apPregsub } from '../grammar/regex.js';
import { evaluateApExpr, evaluateApExprFully, type ExprFacts } from '../grammar/ap-expr.js';
import {
  accessCompatAllows,
  accessCompatDenyingLine,
  accessCompatSatisfy,
  authorizeUser,
  authorizeWithoutUser,
  authzReadsRequest,
  decidingRequire,
  requireLine,
  type AccessRequest,
  type HostNameLookup,
} from './access.js';
import { findUserHash, groupsOf, verifyPassword } from '../grammar/htpasswd.js';
import { escapeUriPath, exprFactsOf, HEADER_VARIABLES, runRewriteRound, type RewriteEnvironment, type RewriteTraceStep } from './rewrite.js';
import { applyLevelCached as applyLevel, FCGID_AUTH_NAMES, sectionWhere, type DirConfig, type FcgidAuthRole, type SatisfyLine } from './dir-config.js';
import { dirConfigOf, noteCopy, noteLevel, refOf, type ConfigRef } from './config-ref.js';
import { sslConnectionVariable, sslLookup } from './ssl-variables.js';
import type { FsEntry, FsView, HtaccessRead } from './fs-view.js';
import { applyEnvFixup } from '../modules/env.js';
import { startMergeChain } from '../modules/autoindex.js';
import type { LineSource } from '../modules/module.js';

/** One line for the error log, in Apache's wording. */
export interface LogEvent {
  module: string;
  level: 'alert' | 'crit' | 'error' | 'warn' | 'info';
  message: string;
  /** Plain-words explanation for students (htsandbox's addition). */
  explain?: string;
  /** The catalog code of a run-time failure (docs/errors.md): the log shows it, and its hint when `explain` is absent. */
  code?: ErrorCode;
}

export interface RequestFacts {
  method: string;
  /** Path part of the request-target, raw. */
  rawPath: string;
  query: string | undefined;
  remoteAddr: string;
  /** The client's port and the address it reached (REMOTE_PORT, SERVER_ADDR), when known. */
  remotePort?: number;
  serverAddr?: string;
  /** Scheme://host[:port] the client used (for absolute redirects). */
  origin: string;
  /** Request headers, lower-cased names (for SetEnvIf). */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw request line's target (THE_REQUEST, REQUEST_URI for scripts). */
  rawTarget?: string;
  /** REDIRECT_* variables when this request is an internal redirect. */
  redirectEnv?: ReadonlyMap<string, string>;
  /** A rewrite rule with [END] ran earlier on this request chain. */
  rewriteEnded?: boolean;
  /** Over TLS: what mod_ssl puts into the environment (HTTPS=on, the SSL_* variables under StdEnvVars). */
  tls?: ReadonlyMap<string, string>;
  /** Over TLS: every variable ssl_var_lookup answers (`%{SSL:…}`, mod_headers' `%{…}s`), whatever SSLOptions says. */
  sslLookup?: ReadonlyMap<string, string>;
  /** r->request_time: when the request arrived, microseconds since the epoch. */
  requestTimeUs?: number;
  /**
   * A lookup sub-request (ap_sub_req_lookup_dirent, mod_autoindex's per entry): it runs up to
   * the fixups and stops before the handler, so a passing lookup is a `file` decision.
   */
  lookupOnly?: boolean;
  /**
   * A mod_rewrite look-ahead's sub-request (%{LA-U:…}): its main request's URI, and how deep
   * look-aheads are nested. A look-ahead from it at that same URI is refused (subreq_ok).
   */
  lookaheadOf?: { uri: string; depth: number };
  /** When someone asks for the request's story (`explain`): the steps that decided it are added here. */
  story?: StoryNote[];
  /**
   * An internal redirect's previous request: its per-directory configuration and user. When the
   * new URI has the very same configuration, access control is not run again (below).
   */
  previous?: { config: ConfigRef; user: { name: string; authType: string } | undefined };
}

/**
 * `req` with `changes` over it: a sub-request's, a lookup's or an internal redirect's facts.
 * Object.assign onto a new object, not a spread literal: in optimized code (Node 20's V8) a
 * spread that adds a field its source lacks (`lookupOnly`, `previous`, `redirectEnv`) makes a
 * new hidden class on every call, so every site reading the copy meets one more shape, and a
 * `delete` makes it a dictionary (docs/performance.md, session 14). A field to drop is given as
 * undefined.
 */
export function factsWith(req: RequestFacts, changes: Partial<RequestFacts>): RequestFacts {
  return Object.assign({}, req, changes);
}

/**
 * What decided one phase of a request, for its story: the module, what it did, and the
 * directive that made it do so, as written (name and arguments), so that its file:line can be
 * found among the configuration files the request read.
 */
export interface PhaseNote {
  phase: 'access' | 'authn' | 'authz' | 'handler';
  module: string;
  /** The deciding directive's opening words (`Require all denied`, `SetHandler fcgid-script`). */
  directive?: string;
  /** Where the deciding directive is written, when its compiled value carries it. */
  source?: LineSource;
  text: string;
}

/** A phase the runner started, for the story: its name and the URI it ran for (a DirectoryIndex candidate runs its own). */
export interface PhaseRun {
  ran: PhaseName;
  uri: string;
}

/** One note of a request's story: a phase the runner started, a rewrite rule's turn, or what decided a phase. */
export type StoryNote = RewriteTraceStep | PhaseNote | PhaseRun;

/** Whether a story note is the runner's note of a phase it started. */
export function isPhaseRun(n: StoryNote): n is PhaseRun {
  return 'ran' in n;
}

/** Whether a story note is a phase's (not a rewrite rule's turn). */
export function isPhaseNote(n: StoryNote): n is PhaseNote {
  return 'phase' in n;
}

/**
 * mod_setenvif `match_headers` (per-directory rules), then nothing else: SetEnv comes later.
 * `exprFacts` gives what a `SetEnvIfExpr` reads of the request, over the variables set so far;
 * the request headers such an expression reads go to `vary` (ap_expr_exec merges them).
 */
export function setEnvIfVariables(cfg: DirConfig, req: RequestFacts, uri: string, exprFacts?: (env: Map<string, string>) => ExprFacts, vary?: string[]): Map<string, string> {
  const env = new Map<string, string>();
  let facts: ExprFacts | undefined;
  for (const rule of cfg.setEnvIf) {
    let captures: readonly (string | undefined)[] = [];
    if ('expr' in rule) {
      if (!exprFacts) continue;
      facts ??= exprFacts(env);
      const r = evaluateApExprFully(rule.expr, facts);
      vary?.push(...r.vary);
      if (!r.result) continue;
      captures = r.captures;
    } else {
      const a = rule.attribute.toLowerCase();
      let subject: string | undefined;
      if (a === 'remote_addr') subject = req.remoteAddr;
      else if (a === 'request_method') subject = req.method;
      else if (a === 'request_uri') subject = uri;
      else if (a === 'request_protocol') subject = 'HTTP/1.1';
      else if (a === 'remote_host') subject = req.remoteAddr;
      else if (a === 'server_addr') subject = '127.0.0.1';
      else {
        const h = req.headers?.[a];
        subject = Array.isArray(h) ? h.join(', ') : h;
        if (subject === undefined && env.has(rule.attribute)) subject = env.get(rule.attribute);
      }
      // match_headers: a field (or variable) that is not there is matched as "" (so `^$` and
      // `.*` match a request without it, as on the host).
      if (rule.literal) {
        if (!rule.regex.test(subject ?? '')) continue;
      } else {
        const m = rule.regex.exec(subject ?? '');
        if (!m) continue;
        captures = m;
      }
    }
    for (const [name, value] of rule.assignments) {
      if (value.startsWith('!')) env.delete(name);
      // A plain pattern's values are set as written; the others go through ap_pregsub.
      else env.set(name, 'expr' in rule || !rule.literal ? apPregsub(value, captures) : value);
    }
  }
  return env;
}

export type Decision = DecisionBody & {
  /** The request's environment (SetEnvIf, SetEnv), for Header env= and scripts. */
  env?: Map<string, string>;
  /** REMOTE_USER and AUTH_TYPE once Basic authentication succeeded. */
  user?: { name: string; authType: string };
  /** The client's name, when `Require host` looked it up (conn->remote_host: scripts see it as REMOTE_HOST). */
  remoteHost?: string;
  /** Request headers mod_rewrite's conditions read (its `Vary`); error pages drop them, as Apache's do. */
  vary?: string[];
  /** Header fields of mod_fcgid access-phase programs' answers: they go out with the response. */
  authHeaders?: [string, string][];
  /** The status a failing non-authoritative mod_fcgid program left (Apache keeps r->status). */
  statusOverride?: number;
  /**
   * r->args as mod_rewrite left it when it ignored a rewrite to the request's own file
   * (hook_fixup keeps the query string the rules built): the response uses this query.
   */
  args?: { query: string | undefined };
  /** Set-Cookie values of mod_rewrite's [CO] flags (err_headers_out: sent with any answer). */
  cookies?: string[];
};

type DecisionBody =
  | {
      kind: 'error';
      status: number;
      log?: LogEvent;
      allow?: string;
      config?: ConfigRef;
      errorNotes?: string;
      /** Headers that go out with the error page (err_headers_out), e.g. WWW-Authenticate. */
      headers?: Record<string, string>;
      /**
       * The status the response had when its header fields were refused (check_headers): ap_die
       * then skips ErrorDocument and names that status in its "Additionally" line.
       */
      abortedStatus?: number;
      /** Apache's process would crash here: the connection is closed with no answer. */
      noAnswer?: boolean;
    }
  | { kind: 'redirect'; status: number; location: string; config: ConfigRef }
  /**
   * Run a mod_fcgid access-phase program (FastCGI Authorizer role) for the file the walk found,
   * then go on with `continueAfterAuthorizer` from `access`, where the access phase stopped.
   */
  | {
      kind: 'fcgi-auth';
      role: FcgidAuthRole;
      program: string;
      path: string;
      uri: string;
      pathInfo: string;
      entry: FsEntry;
      config: ConfigRef;
      env: Map<string, string>;
      user?: { name: string; authType: string };
      /** REMOTE_PASSWD, for an authenticator. */
      password?: string;
      access: AccessState;
    }
  | {
      kind: 'file';
      path: string;
      uri: string;
      entry: FsEntry;
      contentType: string | undefined;
      encoding?: string;
      /** r->content_languages, for Content-Language. */
      languages?: readonly string[];
      config: ConfigRef;
    }
  | { kind: 'listing'; path: string; uri: string; config: ConfigRef }
  | { kind: 'options'; allow: string; config: ConfigRef /** mod_mime's type of the file (none for a name without one). */; contentType?: string }
  /** mod_rewrite changed the URL: the request starts again there (same method); `status` is an [R]'s r->status it carries. */
  | { kind: 'internal'; url: string; query: string | undefined; config: ConfigRef; rewriteEnv: [string, string | undefined][]; end: boolean; status?: number }
  | {
      kind: 'handler';
      handler: string;
      path: string;
      uri: string;
      pathInfo: string;
      config: ConfigRef;
      /** The request's document root (a user's web_scripts under --userdir). */
      documentRoot?: string;
      /** CONTEXT_PREFIX (`/~name` under --userdir). */
      contextPrefix?: string;
      /** The script's file (device, inode, mode) as the walk found it. */
      entry?: FsEntry;
      /** The type mod_mime gave the script's file: the answer's when the script prints none. */
      contentType?: string;
      /** r->content_languages (AddLanguage, DefaultLanguage): merged into the answer's Content-Language. */
      languages?: readonly string[];
    };

export interface ResolveContext {
  host: HostConfig;
  fs: FsView;
  documentRoot: string;
  /** `--userdir`: `/~NAME/…` is served from `userDir/NAME/web_scripts/…` (mod_userdir, Scripts layout). */
  userDir?: string;
  /** The server-level configuration (top-level directives, server `<Files>`). */
  serverConfig: DirConfig;
  mimeTypes: ReadonlyMap<string, string>;
  hasModule: (m: string) => boolean;
  /** The server's `RewriteMap`s; without it every lookup fails (gives the default). */
  rewriteMaps?: RewriteMapLookup;
  /** The server process's environment variables, for ap_expr's `osenv()` (read by the server, not here). */
  osEnv?: (name: string) => string | undefined;
  /** False on the Scripts host, whose patched mod_status ignores `SetHandler server-status` in .htaccess. */
  statusHandlerPermitted?: boolean;
  /** The resolver `Require host` and `Require forward-dns` ask; without it no name is known. */
  hostNames?: HostNameLookup;
}

/** Answers `${name:key}`; undefined when the map or key is unknown or the lookup failed. */
export interface RewriteMapLookup {
  lookup(name: string, key: string): string | undefined;
}

/** An empty environment (no SetEnv, no redirect variables). */
const NO_VARIABLES: ReadonlyMap<string, string> = new Map();

/** What a directory known to exist (its .htaccess was found) looks like to the walk. */
const DIR_ENTRY: FsEntry = { kind: 'dir', size: 0, mtimeUs: 0n, uid: -1, mode: 0o755, dev: 0, ino: 0 };

/** Handlers that run the file as a CGI or FastCGI script (mod_cgid/mod_cgi, mod_fcgid). */
export const SCRIPT_HANDLERS: ReadonlySet<string> = new Set(['cgi-script', 'application/x-httpd-cgi', 'fcgid-script']);
/** Handlers some module provides; any other name falls to the default handler. */
const KNOWN_HANDLERS = new Set([...SCRIPT_HANDLERS, 'server-status']);

/** mod_mime's type for a directory (DIR_MAGIC_TYPE). */
const DIR_MAGIC_TYPE = 'httpd/unix-directory';

interface Walked {
  cfg: DirConfig;
  filename: string;
  entry: FsEntry;
  pathInfo: string;
  /** Request headers `<If>` conditions read (ap_expr adds them to Vary). */
  vary?: string[];
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s, i, a) => s !== '' || i === a.length - 1);
}

/**
 * The configuration in force at the document root's parent, when nothing above the document
 * root can change between requests (no `.htaccess` may be read there): computed once.
 */
const ancestorMemo = new WeakMap<ResolveContext, Map<string, { cfg: DirConfig } | null>>();

function ancestorConfig(ctx: ResolveContext, docRoot: string): { cfg: DirConfig } | null {
  let byRoot = ancestorMemo.get(ctx);
  if (!byRoot) ancestorMemo.set(ctx, (byRoot = new Map()));
  let m = byRoot.get(docRoot);
  if (m !== undefined) return m;
  const parts = docRoot.split('/').filter(Boolean);
  let cfg = ctx.serverConfig;
  m = { cfg };
  for (let depth = 0; depth < parts.length; depth++) {
    const d = depth === 0 ? '/' : `/${parts.slice(0, depth).join('/')}`;
    if (ctx.fs.htaccess(d).kind !== 'none') {
      m = null;
      break;
    }
    for (const s of directorySectionsFor(ctx.host, d)) {
      if (s.components === depth) cfg = noteLevel(cfg, applyLevel(cfg, s.node.children, ctx.hasModule), () => sectionWhere(s.node));
    }
    m = { cfg };
  }
  if (byRoot.size > 1000) byRoot.clear();
  byRoot.set(docRoot, m);
  return m;
}

/** Walks remembered per context: by document root and URL path, for one file-system generation. */
const walkMemo = new WeakMap<ResolveContext, { generation: number; walks: Map<string, Walked> }>();
/** Bound on remembered walks (hostile URLs make many distinct paths). */
const MAX_REMEMBERED_WALKS = 10_000;

/**
 * `walk`, reused while nothing it read on disk can have changed: the walk is a pure function of
 * the URL path, the document root and the file system's answers, and the view counts every
 * change it hears of (`generation`) and every answer it would not hear a change to. The walk
 * (splits, joins, config lookups, hashing the path strings) was the largest part of the
 * resolver's time per request; Apache repeats it every time, with the same result.
 */
function rememberedWalk(ctx: ResolveContext, uri: string, docRoot: string): Walked | Decision {
  const generation = ctx.fs.generation;
  if (generation === undefined) return walk(ctx, uri, docRoot);
  let memo = walkMemo.get(ctx);
  if (!memo || memo.generation !== generation) walkMemo.set(ctx, (memo = { generation, walks: new Map() }));
  const key = docRoot === ctx.documentRoot ? uri : `${docRoot}\0${uri}`;
  const known = memo.walks.get(key);
  if (known) return known;
  const unwatched = ctx.fs.unwatchedAnswers;
  const walked = walk(ctx, uri, docRoot);
  // Decisions (errors) are objects later steps add to: only plain walks are kept.
  if (!('kind' in walked) && ctx.fs.unwatchedAnswers === unwatched) {
    if (memo.walks.size >= MAX_REMEMBERED_WALKS) memo.walks.clear();
    memo.walks.set(key, walked);
  }
  return walked;
}

/** `ap_directory_walk` + `ap_file_walk`. */
function walk(ctx: ResolveContext, uri: string, docRoot: string): Walked | Decision {
  const filename = docRoot.replace(/\/$/, '') + uri;
  const components = splitPath(filename.slice(1));
  let cfg = ctx.serverConfig;
  let dir = '/';
  let depth = 0;
  const applyDir = (d: string, level: number, known?: HtaccessRead): Decision | undefined => {
    for (const s of directorySectionsFor(ctx.host, d)) {
      if (s.components === level) cfg = noteLevel(cfg, applyLevel(cfg, s.node.children, ctx.hasModule, 0xffff, d), () => sectionWhere(s.node));
    }
    const ht = known ?? ctx.fs.htaccess(d);
    if (ht.kind === 'unreadable') {
      return {
        kind: 'error',
        status: 403,
        errorNotes: 'Server unable to read htaccess file, denying access to be safe',
        log: {
          module: 'core',
          level: 'crit',
          message: `(13)Permission denied: AH00529: ${ht.file} pcfg_openfile: unable to check htaccess file, ensure it is readable and that '${d.endsWith('/') ? d : `${d}/`}' is executable`,
          code: 'HT302',
        },
      };
    }
    if (ht.kind === 'parsed') {
      const fatal = ht.analysis.fatal;
      if (fatal?.code === 'HT111') {
        // Apache's child dies of the nesting while reading: the client gets no answer at all.
        return {
          kind: 'error',
          status: 500,
          noAnswer: true,
          log: {
            module: 'core',
            level: 'alert',
            message: `${ht.file}: ${fatal.message}`,
            explain: `${ht.file}:${fatal.line}:${fatal.column}: on the host the process reading this file crashes (the main log says "AH00052: child pid … exit signal Segmentation fault (11)"), so every request in ${d} and below is cut off without an answer. ${fatal.hint ?? ''}`,
          },
        };
      }
      if (fatal) {
        return {
          kind: 'error',
          status: 500,
          log: {
            module: 'core',
            level: 'alert',
            message: `${ht.file}: ${fatal.message}`,
            explain: `${ht.file}:${fatal.line}:${fatal.column}: the host rejects this file, so every request in ${d} and below fails with 500.${fatal.hint ? ` ${fatal.hint}` : ''}`,
          },
        };
      }
      cfg = noteLevel(cfg, applyLevel(cfg, ht.analysis.nodes, ctx.hasModule, ht.policy.opts, d), () => ht.file);
    }
    return undefined;
  };
  let start = 0;
  const ancestors = ancestorConfig(ctx, docRoot);
  const rootParts = docRoot.split('/').filter(Boolean).length;
  if (ancestors && rootParts > 0) {
    // Resume the walk at the document root itself (its parents cannot change per request).
    cfg = ancestors.cfg;
    depth = rootParts - 1;
    dir = `/${components.slice(0, depth).join('/')}`;
    start = depth;
  } else {
    const first = applyDir('/', 0);
    if (first) return first;
  }
  for (let i = start; i < components.length; i++) {
    const seg = components[i]!;
    if (seg === '') {
      // trailing slash on a directory: r->filename keeps it, path_info is empty
      return fileWalk(ctx, cfg, `${dir === '/' ? '' : dir}/`, ctx.fs.stat(dir), '');
    }
    const path = dir === '/' ? `/${seg}` : `${dir}/${seg}`;
    // With FollowSymLinks (and no owner check) links need no look of their own, as in Apache.
    const plainFollow = (cfg.options & OPT_SYM_LINKS) !== 0 && (cfg.options & OPT_SYM_OWNER) === 0;
    // An intermediate component whose .htaccess exists is a directory: that look at the
    // access file (needed anyway) spares a stat of the directory itself.
    let early: HtaccessRead | undefined;
    if (plainFollow && i + 1 < components.length && components[i + 1] !== undefined) {
      early = ctx.fs.htaccess(path);
      if (early.kind === 'none') early = undefined;
    }
    let entry = early ? DIR_ENTRY : plainFollow ? ctx.fs.stat(path) : ctx.fs.lstat(path);
    // Nothing there by stat, but there may be a link whose target is missing or loops:
    // directory_walk's look (APR_FINFO_LINK) finds the link, and resolve_symlink's stat of
    // its target fails, which is 403 (AH00037), not 404.
    if (plainFollow && entry.kind === 'missing' && ctx.fs.lstat(path).kind === 'symlink') entry = ctx.fs.lstat(path);
    const rest = components.slice(i + 1).join('/');
    const pathInfo = i + 1 < components.length ? `/${rest}` : '';
    if (entry.kind === 'denied') {
      return {
        kind: 'error',
        status: 403,
        log: {
          module: 'core',
          level: 'error',
          message: `AH00035: access to ${uri} denied (filesystem path '${path}') because search permissions are missing on a component of the path`,
        },
      };
    }
    if (entry.kind === 'failed') {
      // ap_directory_walk: a look that fails other than ENOENT/ENOTDIR/EACCES is a 403.
      return {
        kind: 'error',
        status: 403,
        log: { module: 'core', level: 'error', message: `(36)File name too long: AH00036: access to ${uri} failed (filesystem path '${path}')` },
      };
    }
    if (entry.kind === 'symlink') {
      const target = ctx.fs.stat(path);
      const follow = (cfg.options & OPT_SYM_LINKS) !== 0;
      const ownerOk = (cfg.options & OPT_SYM_OWNER) !== 0 && target.kind !== 'missing' && target.uid === entry.uid;
      if ((!follow && !ownerOk) || target.kind === 'missing' || target.kind === 'denied') {
        return {
          kind: 'error',
          status: 403,
          config: refOf(cfg),
          log: { module: 'core', level: 'error', message: `AH00037: Symbolic link not allowed or link target not accessible: ${path}` },
        };
      }
      entry = target;
    }
    if (entry.kind === 'missing') {
      return fileWalk(ctx, cfg, path, entry, pathInfo);
    }
    if (entry.kind === 'file') return fileWalk(ctx, cfg, path, entry, pathInfo);
    if (entry.kind === 'other') {
      return { kind: 'error', status: 403, log: { module: 'core', level: 'error', message: `AH00038: Forbidden: ${path} doesn't point to a file or directory` } };
    }
    dir = path;
    depth++;
    const err = applyDir(dir, depth, early);
    if (err) return err;
  }
  return fileWalk(ctx, cfg, dir, ctx.fs.stat(dir), '');
}

const mergeChains = new WeakMap<DirConfig, DirConfig>();
/**
 * `cfg` as the base of a new walk: ap_file_walk and ap_if_walk merge their sections among
 * themselves, then onto what the walk before them made (mod_autoindex's options depend on
 * it). One object per base, so what is merged onto it stays memoised.
 */
function newMergeChain(cfg: DirConfig): DirConfig {
  let out = mergeChains.get(cfg);
  if (!out) {
    out = noteCopy(cfg, { ...cfg, ...startMergeChain(cfg) });
    mergeChains.set(cfg, out);
  }
  return out;
}

function fileWalk(ctx: ResolveContext, base: DirConfig, filename: string, entry: FsEntry, pathInfo: string): Walked {
  const basename = filename.slice(filename.lastIndexOf('/') + 1);
  let cfg = base;
  // Each matching section is merged in list order. A `<Files>` nested in another lands in
  // that section's own list, which `ap_file_walk` never reads: Apache ignores it (measured:
  // `<Files a><Files a>Header …` sets nothing), so only the sections of the walk count.
  let chained = false;
  for (const s of base.files) {
    if (!s.matches(basename)) continue;
    if (!chained) {
      cfg = newMergeChain(cfg);
      chained = true;
    }
    // Its lines have the pattern as their path (filesection's cmd->path): mod_rewrite's per-dir prefix.
    cfg = noteLevel(cfg, applyLevel(cfg, s.nodes, ctx.hasModule, 0xffff, s.path), () => s.where);
  }
  return { cfg, filename, entry, pathInfo };
}

function allowHeader(): string {
  return 'GET,POST,OPTIONS,HEAD';
}

/** mod_userdir: the document root and path for a `/~NAME/…` URL, when --userdir is on. */
function userDirTarget(ctx: ResolveContext, uri: string): { docRoot: string; path: string; prefix: string } | undefined {
  if (!ctx.userDir) return undefined;
  const m = /^\/~([^/]+)(\/.*)?$/.exec(uri);
  if (!m) return undefined;
  const name = m[1]!;
  return { docRoot: `${ctx.userDir.replace(/\/$/, '')}/${name}/web_scripts`, path: m[2] ?? '', prefix: `/~${name}` };
}

/**
 * Apache's request phases, in the order `ap_process_request_internal` (httpd server/request.c)
 * runs their hooks, then the handler (`ap_invoke_handler`). Each phase is a function of the
 * context, the request and where the request stands: it gives that state back to go on, or a
 * decision that ends the run. The table is static, so a request allocates no list of phases.
 * The two `authentication` phases run only while access is not yet granted (Apache runs
 * check_user_id and auth_checker only when access_checker_ex declined).
 */
const PHASES: readonly { readonly name: PhaseName; readonly run: Phase; readonly authentication?: true }[] = [
  { name: 'post_read_request', run: postReadRequest },
  { name: 'translate_name', run: translateName },
  { name: 'map_to_storage', run: mapToStorage },
  { name: 'header_parser', run: headerParser },
  { name: 'access_checker', run: accessChecker },
  { name: 'access_checker_ex', run: accessCheckerEx },
  { name: 'check_user_id', run: checkUserId, authentication: true },
  { name: 'auth_checker', run: authChecker, authentication: true },
  { name: 'type_checker', run: typeChecker },
  { name: 'fixups', run: fixups },
  { name: 'handler', run: handlerPhase },
];

/** One of Apache's request phases (hook names as in httpd's `ap_hook_…`). */
export type PhaseName =
  | 'post_read_request'
  | 'translate_name'
  | 'map_to_storage'
  | 'header_parser'
  | 'access_checker'
  | 'access_checker_ex'
  | 'check_user_id'
  | 'auth_checker'
  | 'type_checker'
  | 'fixups'
  | 'handler';

/** A phase: the state to go on with (the same object, updated), or the decision that ends the request. */
type Phase = (ctx: ResolveContext, req: RequestFacts, s: RunState) => RunState | Decision;

const phaseIndex = (name: PhaseName): number => PHASES.findIndex((p) => p.name === name);
const TRANSLATE_NAME = phaseIndex('translate_name');
const ACCESS_CHECKER_EX = phaseIndex('access_checker_ex');
const AUTH_CHECKER = phaseIndex('auth_checker');
const TYPE_CHECKER = phaseIndex('type_checker');
const FIXUPS = phaseIndex('fixups');

/**
 * Where a request stands between two phases. Every field is present from the start (one
 * shape for every request); each phase fills in what it decides.
 */
interface RunState {
  /** The request's URI (decoded, normalised) once post_read_request ran. */
  uri: string;
  /** Internal redirects so far (DirectoryIndex). */
  depth: number;
  /** translate_name: the document root and the path below it the walk maps. */
  docRoot: string;
  walkPath: string;
  /** mod_userdir's document root and URL prefix, for a `/~NAME/` request. */
  userDir: { docRoot: string; prefix: string } | undefined;
  /** map_to_storage: the file, its per-directory configuration, PATH_INFO. */
  walked: Walked | undefined;
  /** The request's environment (r->subprocess_env): SetEnvIf, then mod_fcgid's Variable-*, SetEnv. */
  env: Map<string, string> | undefined;
  /** mod_access_compat's verdict (`Satisfy Any` lets it grant alone). */
  compatOk: boolean;
  /** Access needs nothing more: authz_core (or a FastCGI authorizer) granted the request. */
  authorized: boolean;
  /** check_user_id: the authenticated user (r->user, r->ap_auth_type). */
  user: { name: string; authType: string } | undefined;
  /** The client's name as `Require host` looked it up (Apache keeps it on the connection). */
  clientName: { name?: string };
  /** A non-authoritative FcgidAuthorizer declined: auth_checker goes on with the Require lines. */
  authorizerDeclined: boolean;
  /** Header fields of mod_fcgid programs' answers so far (err_headers_out). */
  authHeaders: [string, string][];
  /** A non-authoritative mod_fcgid program's failing status, which the response keeps (r->status). */
  status: number | undefined;
  /** type_checker: what mod_mime and core make of the file name (shared, never changed). */
  typed: TypeByName | undefined;
  /** fixups: the content type and handler after mod_rewrite's T= and H=. */
  contentType: string | undefined;
  handler: string | undefined;
  /** fixups: request headers mod_rewrite's conditions read, its [CO] cookies, r->args it changed. */
  rewriteVary: string[] | undefined;
  cookies: string[] | undefined;
  args: { query: string | undefined } | undefined;
}

function startState(uri: string, depth: number): RunState {
  return {
    uri,
    depth,
    docRoot: '',
    walkPath: '',
    userDir: undefined,
    walked: undefined,
    env: undefined,
    compatOk: true,
    authorized: false,
    user: undefined,
    clientName: {},
    authorizerDeclined: false,
    authHeaders: [],
    status: undefined,
    typed: undefined,
    contentType: undefined,
    handler: undefined,
    rewriteVary: undefined,
    cookies: undefined,
    args: undefined,
  };
}

/**
 * Runs the phases from `from` on. When someone asks for the request's story, each phase is
 * noted as it starts; otherwise the loop costs one property test per phase.
 */
function runPhases(ctx: ResolveContext, req: RequestFacts, s: RunState, from: number): Decision {
  for (let i = from; i < PHASES.length; i++) {
    const phase = PHASES[i]!;
    if (phase.authentication && s.authorized) continue;
    if (req.story) req.story.push({ ran: phase.name, uri: s.uri });
    const out = phase.run(ctx, req, s);
    if (out === s) continue;
    const decided = out as Decision;
    return i >= FIXUPS ? withRequestNotes(req, s, decided) : decided;
  }
  throw new Error('the handler phase decides every request');
}

/** Resolves one request: every phase, from the request line on. `depth` counts internal redirects (DirectoryIndex). */
export function resolveRequest(ctx: ResolveContext, req: RequestFacts, depth = 0): Decision {
  return runPhases(ctx, req, startState(req.rawPath, depth), 0);
}

/** What a request carries when it starts again at another URL (`ap_internal_redirect`). */
export interface InternalRedirect {
  /** The previous request's per-directory configuration and user (access control may be skipped). */
  previous?: { config: ConfigRef; user: { name: string; authType: string } | undefined };
  /** The previous request's variables renamed REDIRECT_* (REDIRECT_STATUS, REDIRECT_URL, …). */
  env: ReadonlyMap<string, string>;
  /** The new request's method: GET for an error document or a script's Location; unchanged by default (mod_rewrite). */
  method?: string;
  /** A RewriteRule with [END] ran earlier on this request chain. */
  rewriteEnded?: boolean;
}

/**
 * `ap_internal_redirect`: the request starts again at `url` (split at its first '?') and runs
 * every phase anew, so the new URI's own per-directory configuration — its `.htaccess` files,
 * `<Files>` and `<If>` sections — decides it, not the configuration of the URL it came from.
 * Error documents, mod_rewrite's internal redirects and a script's local Location all come
 * here; the server counts them against LimitInternalRecursion.
 */
export function redirectInternally(ctx: ResolveContext, req: RequestFacts, url: string, why: InternalRedirect): { facts: RequestFacts; decision: Decision } {
  const q = url.indexOf('?');
  const facts = factsWith(req, {
    method: why.method ?? req.method,
    rawPath: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? undefined : url.slice(q + 1),
    redirectEnv: why.env,
    rewriteEnded: Boolean(req.rewriteEnded || why.rewriteEnded),
    previous: why.previous,
  });
  return { facts, decision: resolveRequest(ctx, facts) };
}

/** Resolves a URI already decoded and normalised (a DirectoryIndex candidate, an error document, a look-ahead): from translate_name on. */
export function resolveUri(ctx: ResolveContext, req: RequestFacts, uri: string, depth = 0): Decision {
  return runPhases(ctx, req, startState(uri, depth), TRANSLATE_NAME);
}

/**
 * The request line's path, decoded and normalised. Apache does this at the start of
 * `ap_process_request_internal`, after the post_read_request hooks (none of the emulated
 * modules hooks that phase with an effect on the decision), so it is this phase's work here.
 */
function postReadRequest(_ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const norm = normalizeRequestPath(req.rawPath);
  if (!norm.ok) {
    return { kind: 'error', status: norm.status, log: { module: 'core', level: norm.status === 400 ? 'error' : 'info', message: norm.reason } };
  }
  s.uri = norm.uri;
  return s;
}

/** mod_userdir's `translate_userdir`, else core's `ap_core_translate` (the document root). */
function translateName(ctx: ResolveContext, _req: RequestFacts, s: RunState): RunState | Decision {
  const user = userDirTarget(ctx, s.uri);
  if (!user) {
    s.docRoot = ctx.documentRoot;
    s.walkPath = s.uri;
    return s;
  }
  if (ctx.fs.stat(user.docRoot).kind !== 'dir') {
    return { kind: 'error', status: 404, log: { module: 'core', level: 'info', message: `AH00128: File does not exist: ${user.docRoot}` } };
  }
  s.docRoot = user.docRoot;
  s.walkPath = user.path;
  s.userDir = { docRoot: user.docRoot, prefix: user.prefix };
  return s;
}

/** core's `core_map_to_storage` (`ap_directory_walk`, `ap_file_walk`), then `ap_if_walk`, which runs before access control. */
function mapToStorage(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const walked = rememberedWalk(ctx, s.walkPath, s.docRoot);
  if ('kind' in walked) return walked;
  if (walked.cfg.ifs.length > 0) {
    const vary: string[] = [];
    s.walked = { ...walked, cfg: applyIfSections(ctx, req, s.uri, walked, vary), vary };
  } else s.walked = walked;
  return s;
}

/** mod_setenvif's per-directory `match_headers`. */
function headerParser(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const walked = s.walked!;
  // Most directories have no SetEnvIf lines: no closure or Vary list for them.
  if (walked.cfg.setEnvIf.length === 0) {
    s.env = new Map();
    return s;
  }
  const vary: string[] = [];
  s.env = setEnvIfVariables(walked.cfg, req, s.uri, (env) => requestExprFacts(ctx, req, s.uri, walked.filename, walked.pathInfo, env), vary);
  if (vary.length) {
    // The walk may be a remembered one, shared between requests: Vary gets a copy of its own.
    s.walked = { ...walked, vary: [...(walked.vary ?? []), ...vary] };
  }
  return s;
}

/** mod_access_compat's `check_dir_access`, then mod_fcgid's access checker (`FcgidAccessChecker`). */
function accessChecker(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg, filename } = s.walked!;
  if (req.previous && req.previous.config === refOf(cfg)) {
    // ap_process_request_internal: an internal redirect whose per-directory configuration is
    // the previous request's (the same directory walk, no other <Files>/<If>) does not run
    // access control again and keeps its user, even when that request was refused: an
    // ErrorDocument in a `Require all denied` directory is served.
    s.authorized = true;
    s.user = req.previous.user;
    return s;
  }
  if (cfg.accessCompat) {
    const accessReq = accessRequest(ctx, req, s);
    s.compatOk = accessCompatAllows(cfg.accessCompat, accessReq);
    if (!s.compatOk && !accessCompatSatisfy(cfg.accessCompat, req.method)?.any) {
      if (req.story) req.story.push(compatNote(cfg, accessReq));
      return {
        kind: 'error',
        status: 403,
        config: refOf(cfg),
        log: { module: 'access_compat', level: 'error', message: `AH01797: client denied by server configuration: ${filename}` },
      };
    }
  }
  return askFcgid('ACCESS_CHECKER', s) ?? s;
}

/**
 * authz_core's `authorize_userless_request`: granted (with Satisfy Any, mod_access_compat's
 * Allow is enough) ends access control; a refusal is 403; "needs a user" goes on to authentication.
 */
function accessCheckerEx(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  // Already authorized here only by accessChecker's same-configuration redirect.
  if (s.authorized) return s;
  const { cfg, filename } = s.walked!;
  const satisfy = accessCompatSatisfy(cfg.accessCompat, req.method);
  if (satisfy?.any && s.compatOk) {
    // ap_process_request_internal, SATISFY_ANY: an access_checker's OK ends access control;
    // the Require lines are never asked (no Vary from their expressions, no name lookups).
    if (req.story) req.story.push(satisfyAnyNote(satisfy));
    s.authorized = true;
    return s;
  }
  const accessReq = authzRequest(ctx, req, s);
  const authz = authorizeWithoutUser(cfg.authz, accessReq);
  if (req.story) req.story.push(...authzNotes(cfg, accessReq, authz));
  if (authz === 'granted') {
    s.authorized = true;
    return s;
  }
  if (authz !== 'denied-no-user') {
    return {
      kind: 'error',
      status: 403,
      config: refOf(cfg),
      log: { module: 'authz_core', level: 'error', message: `AH01630: client denied by server configuration: ${filename}` },
    };
  }
  return s;
}

/**
 * What access control reads of every request: method, address, variables, and the resolver for
 * host names (`Allow from NAME`, `Require host`), asked only when a line names a host; the
 * client's name, once looked up, is kept on the request (conn->remote_host).
 */
function accessRequest(ctx: ResolveContext, req: RequestFacts, s: RunState): AccessRequest {
  const out: AccessRequest = { method: req.method, remoteAddr: req.remoteAddr, env: s.env!, clientName: s.clientName };
  if (ctx.hostNames) out.hostNames = ctx.hostNames;
  return out;
}

/**
 * What authz_core's providers read of the request: `Require expr` sees REMOTE_USER and
 * AUTH_TYPE once a user is known, and the request headers it reads join Vary (ap_expr_exec).
 */
function authzRequest(ctx: ResolveContext, req: RequestFacts, s: RunState, user?: { name: string; authType: string }, groups?: readonly string[]): AccessRequest {
  const out = accessRequest(ctx, req, s);
  if (user) out.user = user.name;
  if (groups) out.groups = groups;
  const rules = s.walked!.cfg.authz;
  if (!rules || !authzReadsRequest(rules)) return out;
  // The walk may be a remembered one, shared between requests: Vary gets a copy of its own.
  if (!s.walked!.vary) s.walked = { ...s.walked!, vary: [] };
  const walked = s.walked!;
  out.vary = walked.vary!;
  let facts: ExprFacts | undefined;
  out.exprFacts = () => {
    if (facts) return facts;
    const base = requestExprFacts(ctx, req, s.uri, walked.filename, walked.pathInfo, s.env);
    const variable = (name: string): string => (name === 'REMOTE_USER' ? (user?.name ?? '') : name === 'AUTH_TYPE' ? (user?.authType ?? '') : base.variable(name));
    facts = { ...base, variable };
    return facts;
  };
  return out;
}

/** mod_auth_basic with mod_authn_file, then (AuthBasicAuthoritative Off, user unknown) mod_fcgid's authenticator. */
function checkUserId(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg } = s.walked!;
  if (req.story) req.story.push(...authnNotes(cfg));
  const authn = authenticate(ctx, cfg, req, s.uri);
  if ('kind' in authn) return authn;
  if ('notFound' in authn) {
    const { user, password } = authn.notFound;
    return askFcgid('AUTHENTICATOR', s, { name: user, authType: 'Basic' }, password) ?? userNotFound(cfg, user, s.uri);
  }
  s.user = { name: authn.user, authType: cfg.auth.type ?? 'Basic' };
  return s;
}

/** mod_fcgid's authorizer (its auth_checker hook runs before authz_core's), else the Require lines for the user. */
function authChecker(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  if (!s.authorizerDeclined) {
    const waiting = askFcgid('AUTHORIZER', s, s.user);
    if (waiting) return waiting;
  }
  return authorizeByRequire(ctx, req, s);
}

/** mod_mime's `find_ct`, then core's `core_override_type` (ForceType, SetHandler). A directory's name has no extension that counts. */
function typeChecker(ctx: ResolveContext, _req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg, filename, entry } = s.walked!;
  s.typed = entry.kind === 'dir' ? typeWithoutExtensions(cfg) : typeByName(ctx, cfg, filename.slice(filename.lastIndexOf('/') + 1));
  return s;
}

/**
 * Where the access phase stands, as plain data: what a decision waiting for a mod_fcgid
 * program carries so that the request goes on (`continueAfterAuthorizer`) where it stopped.
 */
export interface AccessState {
  /** The request's URI (decoded, normalised). */
  uri: string;
  /** Internal redirects so far (DirectoryIndex). */
  depth: number;
  /** mod_userdir's document root and URL prefix, for a `/~NAME/` request. */
  userDir?: { docRoot: string; prefix: string };
  /** Request headers `<If>` conditions read (ap_expr adds them to Vary). */
  vary?: string[];
  /** mod_access_compat's verdict (`Satisfy Any` lets it grant alone). */
  compatOk: boolean;
  /** Header fields of the programs' answers so far: they go out with the response (err_headers_out). */
  authHeaders: [string, string][];
  /** A non-authoritative program's failing status, which the response keeps (r->status). */
  status?: number;
  /** The client's name, when `Require host` looked it up ('' for none). */
  clientName?: string;
}

/** mod_access_compat's refusal, for the story: which of Order, Allow and Deny decided, and where it is written. */
function compatNote(cfg: DirConfig, req: AccessRequest): PhaseNote {
  const c = cfg.accessCompat!;
  const deny = accessCompatDenyingLine(c, req);
  if (deny) {
    return {
      phase: 'access',
      module: 'access_compat',
      directive: 'Deny from',
      ...(deny.source ? { source: deny.source } : {}),
      text: `Order ${c.order}: a Deny from line matches the client${c.order === 'deny,allow' ? ' and no Allow from line does' : ''}, so it is refused (403)`,
    };
  }
  return {
    phase: 'access',
    module: 'access_compat',
    directive: 'Order',
    ...(c.orderSource ? { source: c.orderSource } : {}),
    text: `Order ${c.order}: no Allow from line matches the client, so it is refused (403)`,
  };
}

/** authz_core's verdict, for the story: the Require line that settled it. */
function authzNotes(cfg: DirConfig, req: AccessRequest, verdict: ReturnType<typeof authorizeWithoutUser>): PhaseNote[] {
  // Told after the verdict: its re-evaluation must not add the headers it reads to Vary again.
  const { vary: _told, ...quiet } = req;
  const rule = decidingRequire(cfg.authz, quiet);
  if (!rule) return [];
  const who = req.user !== undefined ? `user ${req.user}` : 'the request';
  const line = requireLine(rule);
  const what =
    verdict === 'granted'
      ? `grants ${who}`
      : verdict === 'denied-no-user'
        ? req.user !== undefined
          ? `still needs a user: it reads REMOTE_USER and does not hold for ${who} (401)`
          : 'needs an authenticated user: authentication runs'
        : `refuses ${who}${req.user !== undefined ? (cfg.forbiddenOnFailure ? ' (403: AuthzSendForbiddenOnFailure On)' : ' (401)') : ' (403)'}`;
  return [{ phase: 'authz', module: 'authz_core', directive: line, ...(rule.source ? { source: rule.source } : {}), text: `${line} ${what}` }];
}

/** `Satisfy Any` letting the request in on mod_access_compat's verdict alone, for the story. */
function satisfyAnyNote(satisfy: SatisfyLine): PhaseNote {
  return {
    phase: 'access',
    module: 'access_compat',
    directive: 'Satisfy any',
    ...(satisfy.source ? { source: satisfy.source } : {}),
    text: "Satisfy Any: the client passes mod_access_compat's Allow lines, which is enough; the Require lines are not asked",
  };
}

/** Authentication, for the story: the AuthType and AuthUserFile lines it reads. */
function authnNotes(cfg: DirConfig): PhaseNote[] {
  const notes: PhaseNote[] = [];
  const { type: typeSource, userFile: userFileSource } = cfg.authSources;
  if (cfg.auth.type !== undefined) {
    notes.push({
      phase: 'authn',
      module: 'auth_basic',
      directive: `AuthType ${cfg.auth.type}`,
      ...(typeSource ? { source: typeSource } : {}),
      text: `AuthType ${cfg.auth.type}: the browser is asked for a name and password`,
    });
  }
  if (cfg.auth.userFile !== undefined) {
    notes.push({
      phase: 'authn',
      module: 'authn_file',
      directive: 'AuthUserFile',
      ...(userFileSource ? { source: userFileSource } : {}),
      text: `AuthUserFile ${cfg.auth.userFile}: the names and password hashes are checked there`,
    });
  }
  return notes;
}

/** authz_core: the Require lines for an authenticated user (and the groups AuthGroupFile gives). */
function authorizeByRequire(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg } = s.walked!;
  const authUser = s.user!;
  const groups = cfg.auth.groupFile ? groupsOf(ctx.fs.readText(serverRootPath(cfg.auth.groupFile)) ?? '', authUser.name) : [];
  const userReq = authzRequest(ctx, req, s, authUser, groups);
  const verdict = authorizeUser(cfg.authz, userReq);
  if (req.story) req.story.push(...authzNotes(cfg, userReq, verdict));
  if (verdict === 'denied-no-user') {
    // authorize_user_core after authentication: still no verdict without a user (`Require expr` reading REMOTE_USER).
    return {
      kind: 'error',
      status: 401,
      config: refOf(cfg),
      headers: challenge(cfg),
      log: { module: 'authz_core', level: 'error', message: `AH01629: authorization failure (no authenticated user): ${s.uri}` },
    };
  }
  if (verdict !== 'granted') {
    const log = { module: 'authz_core', level: 'error', message: `AH01631: user ${authUser.name}: authorization failure for "${s.uri}": ` } as const;
    // AuthzSendForbiddenOnFailure On: 403, and no new challenge.
    if (cfg.forbiddenOnFailure) return { kind: 'error', status: 403, config: refOf(cfg), log };
    return { kind: 'error', status: 401, config: refOf(cfg), headers: challenge(cfg), log };
  }
  s.authorized = true;
  return s;
}

/**
 * The path core's `ifsection` gives the lines of an `<If>` (cmd->path = "*If"): what a module
 * that keeps the directory of its per-dir configuration (mod_rewrite's per-dir prefix) sees.
 */
const IF_SECTION_PATH = '*If';

/**
 * `ap_if_walk`: each `<If>`/`<ElseIf>` whose condition holds, or `<Else>` after ones that did
 * not, is merged in order; sections nested in a merged one join the end of the list.
 */

function applyIfSections(ctx: ResolveContext, req: RequestFacts, uri: string, walked: Walked, vary: string[]): DirConfig {
  const facts = requestExprFacts(ctx, req, uri, walked.filename, walked.pathInfo);
  let cfg = walked.cfg;
  let previous: boolean | undefined;
  for (let i = 0; i < cfg.ifs.length; i++) {
    const s = cfg.ifs[i]!;
    if (s.kind !== 'if' && previous === true) continue;
    if (s.condition) {
      previous = evaluateApExpr(s.condition, facts, vary);
      if (!previous) continue;
    } else previous = undefined;
    if (cfg === walked.cfg) cfg = newMergeChain(cfg);
    cfg = noteLevel(cfg, applyLevel(cfg, s.nodes, ctx.hasModule, 0xffff, IF_SECTION_PATH), () => s.where);
  }
  return cfg;
}

/** What ap_expr reads of a request (for `<If>` and `Header … expr=`): mod_rewrite's view of it. */
export function requestExprFacts(
  ctx: ResolveContext,
  req: RequestFacts,
  uri: string,
  filename: string,
  pathInfo: string,
  env?: ReadonlyMap<string, string>,
  user?: { name: string; authType: string },
): ExprFacts {
  return exprFactsOf(rewriteEnvironment(ctx, req, uri, filename, pathInfo, env ?? NO_VARIABLES, user));
}

/** What running a mod_fcgid access-phase program gave. */
export type FcgidAuthOutcome =
  /** The program answered: its status, Location and other header fields. */
  | { ran: true; status: number; location?: string; headers: [string, string][] }
  /** It could not be run or its answer was unreadable (mod_fcgid: an error status). */
  | { ran: false; status: number };

/**
 * mod_fcgid's access checker, authenticator or authorizer, when the directory has one: a
 * decision asking the server to run it, with a plain copy of where the access phase stands.
 * Undefined without one.
 */
function askFcgid(role: FcgidAuthRole, s: RunState, user?: { name: string; authType: string }, password?: string): Decision | undefined {
  const walked = s.walked!;
  const setting = walked.cfg.fcgidAuth[role];
  if (!setting?.program) return undefined;
  const access: AccessState = { uri: s.uri, depth: s.depth, compatOk: s.compatOk, authHeaders: s.authHeaders };
  if (s.userDir) access.userDir = s.userDir;
  if (walked.vary?.length) access.vary = walked.vary;
  if (s.status !== undefined) access.status = s.status;
  if (s.clientName.name !== undefined) access.clientName = s.clientName.name;
  const d: Decision = {
    kind: 'fcgi-auth',
    role,
    program: setting.program,
    path: walked.filename,
    uri: s.uri,
    pathInfo: walked.pathInfo,
    entry: walked.entry,
    config: refOf(walked.cfg),
    env: s.env!,
    access,
  };
  if (user) d.user = user;
  if (password !== undefined) d.password = password;
  return d;
}

/**
 * The request goes on after a mod_fcgid access-phase program answered (mod_fcgid_check_auth):
 * a 200 without Location passes the phase (its `Variable-X` fields become variables of the
 * request) and the runner resumes at the next phase; otherwise an authoritative program's
 * answer is a 401 (500 when it could not run), and a non-authoritative one declines to the
 * next module of the same phase, its status kept for the response. `d` is left as it was:
 * what it carries is copied.
 */
export function continueAfterAuthorizer(ctx: ResolveContext, req: RequestFacts, d: Extract<Decision, { kind: 'fcgi-auth' }>, outcome: FcgidAuthOutcome): Decision {
  const { role, user } = d;
  const cfg = dirConfigOf(d.config);
  const s = startState(d.uri, d.access.depth);
  s.userDir = d.access.userDir;
  s.walked = { cfg, filename: d.path, entry: d.entry, pathInfo: d.pathInfo };
  if (d.access.vary) s.walked.vary = d.access.vary;
  s.env = new Map(d.env);
  s.compatOk = d.access.compatOk;
  s.authHeaders = [...d.access.authHeaders];
  s.status = d.access.status;
  if (d.access.clientName !== undefined) s.clientName.name = d.access.clientName;
  const passed = outcome.ran && outcome.status === 200 && outcome.location === undefined;
  if (outcome.ran) s.authHeaders.push(...outcome.headers);
  if (passed) {
    // mod_fcgid_modify_auth_header: Variable-X: v becomes X=v for the request.
    for (const [name, value] of outcome.headers) if (/^variable-/i.test(name)) s.env.set(name.slice(9), value);
    if (role === 'ACCESS_CHECKER') return runPhases(ctx, req, s, ACCESS_CHECKER_EX);
    if (role === 'AUTHENTICATOR') {
      s.user = { name: user!.name, authType: cfg.auth.type ?? 'Basic' };
      return runPhases(ctx, req, s, AUTH_CHECKER);
    }
    s.user = user;
    s.authorized = true;
    return runPhases(ctx, req, s, TYPE_CHECKER);
  }
  const setting = cfg.fcgidAuth[role];
  if (!setting?.authoritative) {
    if (outcome.ran) s.status = outcome.status;
    if (outcome.ran && outcome.location !== undefined && outcome.status >= 300 && outcome.status < 400) {
      return { kind: 'redirect', status: outcome.status, location: outcome.location, config: refOf(cfg), authHeaders: s.authHeaders };
    }
    if (role === 'ACCESS_CHECKER') return runPhases(ctx, req, s, ACCESS_CHECKER_EX);
    if (role === 'AUTHENTICATOR') return userNotFound(cfg, user!.name, s.uri);
    s.user = user;
    s.authorizerDeclined = true;
    return runPhases(ctx, req, s, AUTH_CHECKER);
  }
  return {
    kind: 'error',
    status: outcome.ran ? 401 : outcome.status,
    config: refOf(cfg),
    headers: Object.fromEntries([...s.authHeaders, ...(role !== 'ACCESS_CHECKER' ? Object.entries(challenge(cfg)) : [])]),
    log: {
      module: 'fcgid',
      level: 'error',
      message: `mod_fcgid: ${FCGID_AUTH_NAMES[role].check}${user ? ` of user ${user.name}` : ''} to access ${d.uri} failed, reason: script returned status ${outcome.status}${outcome.ran && outcome.status === 200 ? '; internal redirection not allowed' : ''}`,
      explain: `${d.program} (${FCGID_AUTH_NAMES[role].directive}) did not answer "Status: 200" without a Location, so the request is refused with 401 as mod_fcgid does.`,
    },
  };
}

/**
 * A decision made after access control (fixups, handler) carries what the request gathered on
 * the way: its environment, r->user, err_headers_out of mod_fcgid's programs and mod_rewrite's
 * cookies, the Vary of `<If>` and of mod_rewrite, r->args as mod_rewrite left them.
 */
function withRequestNotes(req: RequestFacts, s: RunState, decided: Decision): Decision {
  const { cfg, filename } = s.walked!;
  // mod_env's fixup runs after mod_rewrite's (APR_HOOK_FIRST): per-directory RewriteConds and
  // [E=] do not see SetEnv's variables (Apache's well-known "use SetEnvIf instead").
  applyEnvFixup(cfg, s.env!);
  if (!decided.env) decided.env = s.env!;
  if (s.args && !decided.args && decided.kind !== 'internal') decided.args = s.args;
  if (req.story && decided.kind === 'handler') req.story.push(handlerNote(cfg, filename, decided.handler));
  if (s.cookies) decided.cookies = [...s.cookies, ...(decided.cookies ?? []).filter((c) => !s.cookies!.includes(c))];
  // ap_if_walk's Vary comes before mod_rewrite's (fixups); error pages drop both. (Most
  // requests have neither: no list is made for them.)
  const walkedVary = s.walked!.vary;
  const rewriteVary = s.rewriteVary;
  if ((walkedVary?.length || rewriteVary?.length) && decided.kind !== 'error' && decided.kind !== 'redirect') decided.vary = [...(walkedVary ?? []), ...(rewriteVary ?? [])];
  if (s.user) decided.user = s.user;
  if (s.clientName.name) decided.remoteHost = s.clientName.name;
  if (s.authHeaders.length) decided.authHeaders = [...s.authHeaders];
  if (s.status !== undefined) decided.statusOverride = s.status;
  if (decided.kind === 'handler' && s.userDir && decided.path.startsWith(s.userDir.docRoot)) {
    decided.documentRoot = s.userDir.docRoot;
    decided.contextPrefix = s.userDir.prefix;
  }
  return decided;
}

/** Which directive chose a handler, for the story: SetHandler, or the extension map (AddHandler). */
function handlerNote(cfg: DirConfig, filename: string, handler: string): PhaseNote {
  if (cfg.setHandler === handler) {
    const source = cfg.setHandlerSource;
    return { phase: 'handler', module: 'core', directive: `SetHandler ${handler}`, ...(source ? { source } : {}), text: `SetHandler ${handler} chooses the handler` };
  }
  let ext: string | undefined;
  for (const e of fileExtensions(filename.slice(filename.lastIndexOf('/') + 1))) if (cfg.extensions.get(e)?.handler === handler) ext = e;
  if (ext !== undefined) {
    const source = cfg.handlerSources.get(ext);
    return {
      phase: 'handler',
      module: 'mime',
      directive: `AddHandler ${handler}`,
      ...(source ? { source } : {}),
      text: `the extension .${ext} maps to the ${handler} handler (AddHandler ${handler} .${ext})`,
    };
  }
  return { phase: 'handler', module: 'core', text: `the ${handler} handler is chosen by mod_rewrite's H= flag or the host's own configuration` };
}

/** What mod_mime and core's ForceType/SetHandler make of a file name (before mod_rewrite's T= and H=). */
interface TypeByName {
  contentType: string | undefined;
  handler: string | undefined;
  encoding: string | undefined;
  /** r->content_languages: AddLanguage's by extension, else DefaultLanguage's. */
  languages?: readonly string[];
}

/**
 * Remembered per configuration (an immutable, shared object) and file name, with the media
 * types it was worked out with: the same few names come back on every request, and splitting
 * the name and looking up each extension showed in the resolver's time.
 */
const typesByConfig = new WeakMap<DirConfig, { mimeTypes: ReadonlyMap<string, string>; byName: Map<string, TypeByName> }>();
const MAX_REMEMBERED_NAMES = 1000;

function typeByName(ctx: ResolveContext, cfg: DirConfig, basename: string): TypeByName {
  let memo = typesByConfig.get(cfg);
  if (!memo || memo.mimeTypes !== ctx.mimeTypes) typesByConfig.set(cfg, (memo = { mimeTypes: ctx.mimeTypes, byName: new Map() }));
  let typed = memo.byName.get(basename);
  if (typed) return typed;
  // mod_mime find_ct: each extension in turn, left to right.
  let contentType: string | undefined;
  let handler: string | undefined;
  let charset: string | undefined;
  let encoding: string | undefined;
  let languages: string[] | undefined;
  for (const ext of fileExtensions(basename)) {
    const info = cfg.extensions.get(ext);
    if (info?.type !== undefined && info.type !== '') contentType = info.type;
    else if (info?.type === undefined) {
      const t = ctx.mimeTypes.get(ext);
      if (t) contentType = t;
    }
    if (info?.handler) handler = info.handler;
    if (info?.charset) charset = info.charset;
    if (info?.encoding) encoding = encoding ? `${encoding}, ${info.encoding}` : info.encoding;
    if (info?.language) (languages ??= []).push(info.language);
  }
  if (!languages && cfg.defaultLanguage !== undefined) languages = [cfg.defaultLanguage];
  typed = overrideType(cfg, languages ? { contentType, handler, encoding, languages } : { contentType, handler, encoding }, charset);
  if (memo.byName.size >= MAX_REMEMBERED_NAMES) memo.byName.clear();
  memo.byName.set(basename, typed);
  return typed;
}

/** A directory: no extension counts, only ForceType and SetHandler. */
function typeWithoutExtensions(cfg: DirConfig): TypeByName {
  return overrideType(cfg, { contentType: undefined, handler: undefined, encoding: undefined }, undefined);
}

/** core_override_type: ForceType and SetHandler win over mod_mime; AddCharset joins the type. */
function overrideType(cfg: DirConfig, t: TypeByName, charset: string | undefined): TypeByName {
  if (cfg.forceType && cfg.forceType !== 'none') t.contentType = cfg.forceType;
  if (cfg.setHandler && cfg.setHandler !== 'none') t.handler = cfg.setHandler;
  if (t.contentType && charset && !/;\s*charset=/i.test(t.contentType)) t.contentType = `${t.contentType}; charset=${charset}`;
  return t;
}

/**
 * ap_http_header_filter's check_headers: a header value with a control byte other than a tab is
 * never sent; ap_die answers 500 instead, naming in its "Additionally" line a status the
 * response already had (a redirect's). The value never reaches the socket layer.
 */
function headerRefused(name: string, value: string, status: number | undefined, cfg: DirConfig, explain: string): Decision {
  const shown = value.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return {
    kind: 'error',
    status: 500,
    ...(status !== undefined && status !== 200 ? { abortedStatus: status } : {}),
    config: refOf(cfg),
    log: { module: 'http', level: 'error', message: `AH02430: Response header '${name}' value of '${shown}' contains invalid characters, aborting request`, explain },
  };
}

/**
 * mod_ssl's fixup, mod_rewrite's per-directory rules (`hook_fixup`), mod_alias's per-directory
 * redirects, mod_rewrite's T= and H= over the type checker's answer, mod_dir's `fixup_dflt`
 * (FallbackResource) and `fixup_dir` (DirectorySlash, DirectoryIndex). mod_env's fixup runs
 * later (withRequestNotes), as in Apache, so `%{ENV:…}` in the rules does not see SetEnv.
 */
/**
 * fixup_dir under DirectoryCheckHandler On: a handler another module set (anything but mod_dir's
 * DIR_MAGIC_TYPE, which is no handler here) takes a directory URL ending in a slash itself, and
 * its index files are not searched.
 */
function directoryHandedOver(cfg: DirConfig, handler: string | undefined): boolean {
  return cfg.directoryCheckHandler && handler !== undefined;
}

function fixups(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg, filename, entry, pathInfo } = s.walked!;
  const { uri, depth } = s;
  const env = s.env!;
  // mod_ssl's fixup (ssl_hook_Fixup): HTTPS and the SSL_* variables join the request's
  // environment, where Header's env= sees them too.
  if (req.tls) for (const [k, v] of req.tls) env.set(k, v);
  // mod_rewrite's per-directory rules run first in fixups.
  let forcedType: string | undefined;
  let forcedHandler: string | undefined;
  /** mod_rewrite's internal redirect, made by its handler once the fixups are done. */
  let rewritten: Decision | undefined;
  const rw = cfg.rewrite;
  if (rw && rw.engine && rw.rules.length > 0 && !req.rewriteEnded) {
    const full = filename + pathInfo;
    const declined = full === rw.dir.slice(0, -1) && !rw.options.has('allownoslash');
    if (!declined) {
      if (!(cfg.options & (OPT_SYM_LINKS | OPT_SYM_OWNER))) {
        return {
          kind: 'error',
          status: 403,
          config: refOf(cfg),
          log: {
            module: 'rewrite',
            level: 'error',
            message: `AH00670: Options FollowSymLinks and SymLinksIfOwnerMatch are both off, so the RewriteRule directive is also forbidden due to its similar ability to circumvent directory restrictions : ${filename}`,
          },
        };
      }
      const outcome = runRewriteRound(
        rw,
        { path: full, filename, query: req.query, documentRoot: ctx.documentRoot, origin: req.origin },
        rewriteEnvironment(ctx, req, uri, filename, pathInfo, env, s.user),
      );
      s.rewriteVary = outcome.vary;
      if (outcome.cookies) {
        // check_headers: a cookie with a decoded control byte is never sent; the answer is a 500.
        const bad = outcome.cookies.find((c) => /[\x00-\x08\x0a-\x1f\x7f]/.test(c));
        if (bad)
          return headerRefused(
            'Set-Cookie',
            bad,
            outcome.kind === 'redirect' ? outcome.status : outcome.kind === 'status' ? outcome.status : undefined,
            cfg,
            'A RewriteRule [CO=...] flag put a decoded control character (e.g. %0d%0a from a back-reference) into a cookie: build the cookie from text you control, or use [B] on the rule.',
          );
        s.cookies = outcome.cookies;
      }
      for (const [k, v] of outcome.env) {
        if (v === undefined) env.delete(k);
        else env.set(k, v);
      }
      if (outcome.kind === 'status') {
        return {
          kind: 'error',
          status: outcome.status,
          config: refOf(cfg),
          ...(outcome.reason
            ? {
                log: {
                  module: 'rewrite',
                  level: 'error',
                  message: outcome.reason,
                  explain: outcome.explain ?? 'A RewriteRule keeps growing the path it rewrites (often with [N]): make its pattern stop matching its own output.',
                },
              }
            : {}),
        };
      }
      if (outcome.kind === 'redirect') {
        const location = outcome.location.startsWith('/') ? `${req.origin}${outcome.location}` : outcome.location;
        // ap_http_header_filter's check_headers: a Location with a control byte (a decoded
        // CR/LF that [NE] left alone) is never sent; the answer becomes a 500.
        if (/[\x00-\x08\x0a-\x1f\x7f]/.test(location)) {
          return headerRefused(
            'Location',
            location,
            outcome.status,
            cfg,
            'A RewriteRule with [NE] put a decoded control character (e.g. %0d%0a) into its redirect target: drop [NE] so it is escaped again.',
          );
        }
        return { kind: 'redirect', status: outcome.status, location, config: refOf(cfg) };
      }
      if (outcome.kind === 'proxy') {
        if (!ctx.hasModule('proxy')) {
          return {
            kind: 'error',
            status: 403,
            config: refOf(cfg),
            log: {
              module: 'rewrite',
              level: 'error',
              message: `AH10160: attempt to make remote request from mod_rewrite without proxy enabled: proxy:${outcome.url}`,
              explain: 'The [P] flag needs mod_proxy, which this host does not load: use [R] to redirect instead.',
            },
          };
        }
        return {
          kind: 'error',
          status: 500,
          config: refOf(cfg),
          log: {
            module: 'htsandbox',
            level: 'error',
            message: `RewriteRule [P] to ${outcome.url} is not emulated: the host would hand this request to mod_proxy`,
            explain: 'htsandbox does not proxy from RewriteRule [P]; use SetHandler "proxy:fcgi://…" for a FastCGI application, or [R] to redirect.',
          },
        };
      }
      if (outcome.kind === 'internal' && outcome.handler !== undefined && outcome.handler !== 'redirect-handler' && outcome.handler !== 'server-status') {
        // hook_fixup hands the rewritten URL to its redirect handler as r->filename
        // "redirect:<url>", but mod_rewrite's type hook runs after it (APR_HOOK_LAST) and puts
        // the rule's [H] in place of that handler, which then finds no such file: a 404
        // (mod_status's handler looks at no file: that page is left to the redirect, as before).
        const target = `redirect:${outcome.url}${outcome.query !== undefined ? `?${outcome.query}` : ''}`;
        const cgi = outcome.handler === 'cgi-script' || outcome.handler === 'application/x-httpd-cgi';
        return {
          kind: 'error',
          status: 404,
          config: refOf(cfg),
          log: {
            module: cgi ? 'cgid' : 'core',
            level: cgi ? 'error' : 'info',
            message: cgi ? `AH01264: stderr from ${target}: script not found or unable to stat` : `AH00128: File does not exist: ${target}`,
            explain: `In a .htaccess, a RewriteRule that changes the URL and also sets a handler with [H=${outcome.handler}] makes the host apply that handler to its internal "redirect:" placeholder instead of the new URL, so the answer is 404. Drop [H] and map the handler with AddHandler or <Files … SetHandler> where the target lives, or use the substitution "-" to keep the URL.`,
          },
        };
      }
      if (outcome.kind === 'internal') {
        // hook_fixup returns OK: the other fixups still run (on r->args as the rules left
        // them) before rewrite's redirect handler, and mod_alias's or mod_dir's redirect wins.
        rewritten = {
          kind: 'internal',
          url: outcome.url,
          query: outcome.query,
          config: refOf(cfg),
          rewriteEnv: outcome.env,
          end: outcome.end,
          ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        };
        req = { ...req, query: outcome.query };
      }
      if (outcome.kind === 'unchanged') {
        forcedType = outcome.type;
        forcedHandler = outcome.handler;
        if ('query' in outcome) {
          req = { ...req, query: outcome.query };
          s.args = { query: outcome.query };
        }
      }
    }
  }
  // mod_alias per-directory redirects run in fixups, after access control.
  const redirect = matchRedirect(cfg.redirects, uri, req);
  if (redirect?.kind === 'redirect' && /[\x00-\x08\x0a-\x1f\x7f]/.test(redirect.location)) {
    return headerRefused(
      'Location',
      redirect.location,
      redirect.status,
      cfg,
      'A RedirectMatch put a decoded control character (e.g. %0d%0a) into the query string or fragment of its target, which Apache does not escape: keep back-references out of that part.',
    );
  }
  if (redirect) return { ...redirect, config: refOf(cfg) };
  if (rewritten) {
    // mod_dir's fixup_dir redirects a directory without its trailing slash before it steps
    // aside for rewrite's redirect handler (r->finfo is still the directory's).
    if (entry.kind === 'dir' && !uri.endsWith('/') && cfg.directorySlash) return dirSlashRedirect(req, uri, cfg);
    return rewritten;
  }
  // A lookup stops before the handler: a file here, a directory after mod_dir's index search
  // below. The type checker has run (mod_autoindex reads rr->content_type and its encoding).
  if (req.lookupOnly && entry.kind === 'file') {
    const looked: Decision = { kind: 'file', path: filename, uri, entry, contentType: forcedType ?? s.typed?.contentType, config: refOf(cfg) };
    if (s.typed?.encoding && !forcedType) looked.encoding = s.typed.encoding;
    return looked;
  }
  // The type checker's answer, with mod_rewrite's T= and H= over it.
  const typed = s.typed!;
  let contentType = typed.contentType;
  let handler = typed.handler;
  if (forcedType && /[\x00-\x08\x0a-\x1f\x7f]/.test(forcedType)) {
    return headerRefused(
      'Content-Type',
      forcedType,
      undefined,
      cfg,
      'A RewriteRule [T=...] flag put a decoded control character into the content type: build the type from text you control.',
    );
  }
  if (forcedType) contentType = forcedType;
  if (forcedHandler) handler = forcedHandler;
  if (!handler && contentType === 'application/x-httpd-cgi') handler = 'cgi-script';
  s.contentType = contentType;
  s.handler = handler;
  // mod_dir's fixup_dflt: nothing on disk and no handler (a missing `x.cgi` has one) takes
  // the FallbackResource.
  if (entry.kind === 'missing' && !handler) {
    const fallback = fallbackResource(ctx, req, uri, depth, cfg);
    if (fallback) return fallback;
  }
  // What is neither a file nor a directory (missing, a dangling link) is what mod_dir and
  // mod_autoindex skip: a lookup says so with a 404.
  if (req.lookupOnly && entry.kind !== 'dir') return { kind: 'error', status: 404, config: refOf(cfg) };
  if (entry.kind === 'dir') {
    if (!uri.endsWith('/')) {
      if (cfg.directorySlash) return dirSlashRedirect(req, uri, cfg);
    } else if (depth < 10 && !directoryHandedOver(cfg, handler)) {
      let remembered: Decision | undefined;
      for (const name of cfg.directoryIndex) {
        const target = name.startsWith('/') ? name : `${uri}${name}`;
        // fixup_dir looks each candidate up (ap_sub_req_lookup_uri: no handler runs, so a
        // missing index.cgi where ExecCGI is off is skipped, not a 403) and takes the first
        // that passes and is a regular file, as the request itself.
        const sub = resolveUri(ctx, lookupOf(req), target, depth + 1);
        if (sub.kind === 'file') {
          if (sub.entry.kind !== 'file') continue;
          // DirectoryIndexRedirect: Location is ap_construct_url of the index's URI (no query string).
          if (cfg.directoryIndexRedirect >= 300 && cfg.directoryIndexRedirect <= 399) {
            return { kind: 'redirect', status: cfg.directoryIndexRedirect, location: `${req.origin}${target}`, config: refOf(cfg) };
          }
          return req.lookupOnly ? sub : resolveUri(ctx, req, target, depth + 1);
        }
        if (sub.kind === 'redirect') return sub;
        // A candidate a RewriteRule sent elsewhere is not a regular file: mod_dir moves on.
        if (sub.kind === 'internal' || (sub.kind === 'error' && sub.status === 404)) continue;
        remembered ??= sub;
      }
      if (remembered) return remembered;
    }
  }
  return s;
}

/** mod_dir's `fixup_dir` for a directory asked for without its trailing slash (DirectorySlash On): a 301 to it with one. */
function dirSlashRedirect(req: RequestFacts, uri: string, cfg: DirConfig): Decision {
  const q = req.query !== undefined ? `?${req.query}` : '';
  return { kind: 'redirect', status: 301, location: `${req.origin}${encodeUriPath(uri)}/${q}`, config: refOf(cfg) };
}

/** The handler (`ap_invoke_handler`): a script handler, mod_autoindex, mod_status, or core's default handler. */
function handlerPhase(ctx: ResolveContext, req: RequestFacts, s: RunState): RunState | Decision {
  const { cfg, filename, entry, pathInfo } = s.walked!;
  const { uri, handler, contentType } = s;
  const { encoding, languages } = s.typed!;
  if (entry.kind === 'dir') {
    if (req.lookupOnly) return { kind: 'file', path: filename, uri, entry, contentType: undefined, config: refOf(cfg) };
    if (handler && (SCRIPT_HANDLERS.has(handler) || proxyHandlerUsable(ctx, handler))) {
      return dispatchHandler(ctx, cfg, handler, filename, uri, pathInfo, entry, contentType);
    }
    // mod_autoindex lists a directory whether or not the URL ends in a slash (DirectorySlash Off).
    // It takes only GET (and HEAD): any other method goes on to core's default handler, whatever
    // Options says (handle_autoindex declines before it looks at Indexes). It takes only
    // DIR_MAGIC_TYPE: a directory another handler was set for (SetHandler default-handler, a
    // name no module serves) goes on to core's default handler too, a 404.
    if (!handler && ctx.hasModule('autoindex') && (req.method === 'GET' || req.method === 'HEAD')) {
      if (cfg.options & OPT_INDEXES) return { kind: 'listing', path: filename, uri, config: refOf(cfg) };
      const names = cfg.directoryIndex.length ? cfg.directoryIndex.join(',') : 'none';
      return {
        kind: 'error',
        status: 403,
        config: refOf(cfg),
        log: {
          module: 'autoindex',
          level: 'error',
          message: `AH01276: Cannot serve directory ${filename.endsWith('/') ? filename : `${filename}/`}: No matching DirectoryIndex (${names}) found, and server-generated directory index forbidden by Options directive`,
        },
      };
    }
  }
  if (entry.kind !== 'dir' && handler && (handlerServed(ctx, handler) || proxyHandlerUsable(ctx, handler))) {
    // mod_proxy's handler takes the request whether or not the file exists (the backend decides).
    const d = dispatchHandler(ctx, cfg, handler, filename, uri, pathInfo, entry, contentType);
    if (languages && d.kind === 'handler') d.languages = languages;
    return d;
  }
  // core's default handler. A method other than GET and POST is answered before the file is
  // looked at: OPTIONS with the methods allowed (and mod_mime's type, a directory's
  // DIR_MAGIC_TYPE), the others with 405, whether the file exists or not.
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
    if (req.method === 'OPTIONS') {
      const options: Decision = { kind: 'options', allow: allowHeader(), config: refOf(cfg) };
      // fixup_dir clears DIR_MAGIC_TYPE where it left the directory to its handler.
      const handedOver = uri.endsWith('/') && directoryHandedOver(cfg, handler);
      const type = entry.kind === 'dir' ? (handedOver ? undefined : DIR_MAGIC_TYPE) : contentType;
      if (type !== undefined) options.contentType = type;
      return options;
    }
    return { kind: 'error', status: 405, allow: allowHeader(), config: refOf(cfg) };
  }
  if (entry.kind === 'dir') {
    return { kind: 'error', status: 404, config: refOf(cfg), log: { module: 'core', level: 'info', message: `AH00129: Attempt to serve directory: ${filename}` } };
  }
  if (entry.kind === 'missing') {
    const ignoredStatus = handler === 'server-status' && ctx.hasModule('status');
    return {
      kind: 'error',
      status: 404,
      config: refOf(cfg),
      log: {
        module: 'core',
        level: 'info',
        message: `AH00128: File does not exist: ${filename}${pathInfo}`,
        // The Scripts host's mod_status patch ignores the handler in .htaccess: say so, as nothing else will.
        ...(ignoredStatus
          ? {
              explain:
                'SetHandler server-status has no effect in a .htaccess on the Scripts host (its mod_status answers only where the server configuration permits it), so this URL is an ordinary, missing file. The dashboard at /.htsandbox/ shows the FastCGI processes; --profile apache serves the page as stock Apache does.',
            }
          : {}),
      },
    };
  }
  if (pathInfo !== '' && cfg.acceptPathInfo !== 'on') {
    return { kind: 'error', status: 404, config: refOf(cfg), log: { module: 'core', level: 'info', message: `AH00130: File does not exist: ${filename}${pathInfo}` } };
  }
  const out: Decision = { kind: 'file', path: filename, uri, entry, contentType, config: refOf(cfg) };
  if (encoding) out.encoding = encoding;
  if (languages) out.languages = languages;
  return out;
}

/**
 * A lookup sub-request of `req` (ap_sub_req_lookup_uri). Its URL is parsed from a path alone, so
 * a redirect it makes names no port (ap_construct_url falls back to the scheme's default).
 */
function lookupOf(req: RequestFacts): RequestFacts {
  return req.lookupOnly ? req : factsWith(req, { lookupOnly: true, origin: req.origin.replace(/:\d+$/, '') });
}

/**
 * `fixup_dflt` (mod_dir): the FallbackResource URL (relative to the request's directory when
 * it has no leading slash) is looked up with the request's query string; a regular file that
 * passes becomes the request (ap_internal_fast_redirect: no REDIRECT_* variables, SCRIPT_NAME
 * is the fallback's, REQUEST_URI the client's), a redirect or an error other than 404 is the
 * answer, and anything else leaves the request to its 404. A fallback that is itself missing
 * recurses until the sub-request nesting limit, a 500.
 */
function fallbackResource(ctx: ResolveContext, req: RequestFacts, uri: string, depth: number, cfg: DirConfig): Decision | undefined {
  const name = cfg.fallbackResource;
  if (name === undefined || name.toLowerCase() === 'disabled') return undefined;
  if (depth >= 10) {
    return {
      kind: 'error',
      status: 500,
      config: refOf(cfg),
      log: {
        module: 'core',
        level: 'error',
        message:
          "AH00125: Request exceeded the limit of 10 subrequest nesting levels due to probable configuration error. Use 'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel debug' to get a backtrace.",
        explain: `FallbackResource ${name} names a URL that is itself missing, so each lookup falls back again: point it at an existing file.`,
      },
    };
  }
  const target = name.startsWith('/') ? name : `${uri.slice(0, uri.lastIndexOf('/') + 1)}${name}`;
  const sub = resolveUri(ctx, lookupOf(req), target, depth + 1);
  if (sub.kind === 'file' && sub.entry.kind === 'file') return req.lookupOnly ? sub : resolveUri(ctx, req, target, depth + 1);
  if (sub.kind === 'redirect') return sub;
  if (sub.kind === 'error' && sub.status !== 404) return sub;
  return undefined;
}

/** Whether a loaded module takes requests for one of the known handler names. */
function handlerServed(ctx: ResolveContext, handler: string): boolean {
  if (handler === 'fcgid-script') return ctx.hasModule('fcgid');
  // The Scripts host's mod_status patch: only where PermitStatusHandler is on (server config).
  if (handler === 'server-status') return ctx.hasModule('status') && ctx.statusHandlerPermitted !== false;
  return KNOWN_HANDLERS.has(handler) && (ctx.hasModule('cgid') || ctx.hasModule('cgi'));
}

/** A `proxy:` handler the loaded modules serve (mod_proxy with mod_proxy_fcgi, and mod_proxy_balancer for balancer://). */
function proxyHandlerUsable(ctx: ResolveContext, handler: string): boolean {
  const target = parseProxyHandler(handler);
  if (!target || 'error' in target || !ctx.hasModule('proxy')) return false;
  if (target.kind === 'fcgi') return ctx.hasModule('proxy_fcgi');
  if (target.kind === 'balancer') return ctx.hasModule('proxy_balancer') && ctx.hasModule('proxy_fcgi');
  return false;
}

/** mod_cgid's (or mod_cgi's) 403 with its error-log line; `message` gets the module's name. */
function cgiRefusal(ctx: ResolveContext, cfg: DirConfig, message: (mod: 'cgid' | 'cgi') => string, explain: string): Decision {
  const mod = ctx.hasModule('cgid') ? 'cgid' : 'cgi';
  return { kind: 'error', status: 403, config: refOf(cfg), log: { module: mod, level: 'error', message: message(mod), explain } };
}

function dispatchHandler(
  ctx: ResolveContext,
  cfg: DirConfig,
  handler: string,
  filename: string,
  uri: string,
  pathInfo: string,
  entry: FsEntry,
  contentType: string | undefined,
): Decision {
  if (handler === 'cgi-script' || handler === 'application/x-httpd-cgi' || handler === 'fcgid-script') {
    if (!(cfg.options & OPT_EXECCGI)) {
      if (handler === 'fcgid-script') return { kind: 'error', status: 403, config: refOf(cfg) };
      return cgiRefusal(
        ctx,
        cfg,
        (mod) => `${mod === 'cgid' ? 'AH01262' : 'AH02809'}: stderr from ${filename}: Options ExecCGI is off in this directory`,
        `${filename} is mapped to ${handler} but Options ExecCGI is off here: add "Options +ExecCGI" to the .htaccess of its directory.`,
      );
    }
    if (entry.kind === 'missing') {
      return {
        kind: 'error',
        status: 404,
        config: refOf(cfg),
        log: { module: 'cgid', level: 'error', message: `AH01264: script not found or unable to stat: ${filename}${pathInfo}` },
      };
    }
    // A directory the handler reaches (its index files not searched, or none found): mod_fcgid
    // refuses it without a word, mod_cgid with a line in the error log.
    if (entry.kind === 'dir') {
      if (handler === 'fcgid-script') return { kind: 'error', status: 403, config: refOf(cfg) };
      const dir = filename.endsWith('/') || !uri.endsWith('/') ? filename : `${filename}/`;
      return cgiRefusal(
        ctx,
        cfg,
        (mod) => `${mod === 'cgid' ? 'AH01265: ' : ''}stderr from ${dir}: attempt to invoke directory as script`,
        `${dir} is a directory mapped to ${handler} (SetHandler): give it an index file, or set the handler for script files only (<FilesMatch> or AddHandler).`,
      );
    }
  }
  return contentType !== undefined
    ? { kind: 'handler', handler, path: filename, uri, pathInfo, config: refOf(cfg), entry, contentType }
    : { kind: 'handler', handler, path: filename, uri, pathInfo, config: refOf(cfg), entry };
}

/** `lookup_variable` for `%{VAR}` in per-directory rewrite rules (unknown names give ""). */
/**
 * mod_rewrite's `lookup_variable` on this request. `user` is r->user: per-directory rules run in
 * fixups, after authentication, so %{REMOTE_USER} and %{AUTH_TYPE} see who logged in.
 */
function rewriteEnvironment(
  ctx: ResolveContext,
  req: RequestFacts,
  uri: string,
  filename: string,
  pathInfo: string,
  env: ReadonlyMap<string, string>,
  user?: { name: string; authType: string },
): RewriteEnvironment {
  const header = (name: string): string => {
    const v = req.headers?.[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : (v ?? '');
  };
  const hostHeader = header('host');
  const pad = (n: number): string => String(n).padStart(2, '0');
  /** What mod_ssl knows of the connection: every variable ssl_var_lookup answers over TLS. */
  const tls = req.sslLookup ?? req.tls;
  const environment: RewriteEnvironment = {
    ...(req.story ? { trace: (step: RewriteTraceStep) => void req.story!.push(step) } : {}),
    variable(raw: string): string {
      const name = raw.toUpperCase();
      if (name.startsWith('HTTP:')) return header(raw.slice(5));
      // %{SSL:VAR}: mod_ssl's ssl_var_lookup, "" when mod_ssl is not loaded (rewrite_ssl_lookup unset).
      if (name.startsWith('SSL:')) return ctx.hasModule('ssl') ? sslLookup(raw.slice(4), tls, environment.variable, SSL_INTERFACE) : '';
      if (name.startsWith('ENV:')) {
        const key = raw.slice(4);
        return env.get(key) ?? req.redirectEnv?.get(key) ?? '';
      }
      // Only these HTTP_* names exist for mod_rewrite; any other gives "" (use %{HTTP:Name}).
      if (name.startsWith('HTTP_')) return HEADER_VARIABLES[raw] !== undefined ? header(HEADER_VARIABLES[raw]) : '';
      const now = new Date();
      switch (name) {
        case 'REQUEST_FILENAME':
        case 'SCRIPT_FILENAME':
          return filename;
        case 'REQUEST_URI':
          return uri;
        case 'QUERY_STRING':
          return req.query ?? '';
        case 'PATH_INFO':
          return pathInfo;
        case 'REQUEST_METHOD':
          return req.method;
        case 'REMOTE_USER':
          return user?.name ?? '';
        case 'AUTH_TYPE':
          return user?.authType ?? '';
        case 'REQUEST_SCHEME':
          return req.tls ? 'https' : 'http';
        case 'HTTPS':
          return req.tls ? 'on' : 'off';
        case 'SERVER_PROTOCOL':
          return 'HTTP/1.1';
        case 'THE_REQUEST':
          return `${req.method} ${req.rawTarget ?? uri} HTTP/1.1`;
        case 'REMOTE_ADDR':
        case 'CONN_REMOTE_ADDR':
        case 'REMOTE_HOST':
          return req.remoteAddr;
        case 'SERVER_NAME':
          return hostHeader.replace(/:\d+$/, '') || 'localhost';
        case 'SERVER_PORT':
          return /:(\d+)$/.exec(hostHeader)?.[1] ?? '80';
        case 'SERVER_ADDR':
          return '127.0.0.1';
        case 'DOCUMENT_ROOT':
        case 'CONTEXT_DOCUMENT_ROOT':
          return ctx.documentRoot;
        case 'CONTEXT_PREFIX':
          return '';
        case 'SERVER_SOFTWARE':
          return 'Apache';
        case 'IS_SUBREQ':
          return 'false';
        case 'IPV6':
          return req.remoteAddr.includes(':') ? 'on' : 'off';
        case 'TIME_YEAR':
          return String(now.getFullYear());
        case 'TIME_MON':
          return pad(now.getMonth() + 1);
        case 'TIME_DAY':
          return pad(now.getDate());
        case 'TIME_HOUR':
          return pad(now.getHours());
        case 'TIME_MIN':
          return pad(now.getMinutes());
        case 'TIME_SEC':
          return pad(now.getSeconds());
        case 'TIME_WDAY':
          return String(now.getDay());
        case 'TIME':
          return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
        default:
          return '';
      }
    },
    fileTest(kind, path) {
      const e = kind === 'l' ? ctx.fs.lstat(path) : ctx.fs.stat(path);
      switch (kind) {
        case 'e':
          return e.kind !== 'missing' && e.kind !== 'denied';
        case 'f':
          return e.kind === 'file';
        case 's':
          return e.kind === 'file' && e.size > 0;
        case 'd':
          return e.kind === 'dir';
        case 'l':
          return e.kind === 'symlink';
        case 'x':
          return e.kind !== 'missing' && e.kind !== 'denied' && (e.mode & 0o111) !== 0;
      }
    },
    readText: (path) => ctx.fs.readText(path),
    lookahead(kind, value) {
      if (kind === 'F') return ctx.fs.stat(value).kind === 'file';
      const sub = resolveUri(ctx, { ...req, method: 'GET' }, value, 9);
      return sub.kind !== 'error' || sub.status < 400;
    },
    lookaheadVariable(kind, path, name) {
      // LA-F's sub-request looks the file up (ap_sub_req_lookup_file); a file under the
      // document root has the configuration of its URL, one outside it nothing of the site's.
      let target = path;
      if (kind === 'F') {
        const root = ctx.documentRoot.endsWith('/') ? ctx.documentRoot.slice(0, -1) : ctx.documentRoot;
        if (!path.startsWith(`${root}/`)) return '';
        target = path.slice(root.length);
      }
      // subreq_ok: no look-ahead from a sub-request at its main request's own URI.
      const depth = req.lookaheadOf?.depth ?? 0;
      if (req.lookaheadOf?.uri === uri || depth >= MAX_LOOKAHEAD_DEPTH) return '';
      const lookup = factsWith(req, { method: 'GET', lookupOnly: true, lookaheadOf: { uri, depth: depth + 1 }, story: undefined });
      const sub = resolveUri(ctx, lookup, target, 9);
      // The sub-request's r->user: it authenticates again with the request's own credentials
      // (or takes the main request's user where the configuration is the same).
      const upper = name.toUpperCase();
      if (upper === 'REMOTE_USER') return sub.user?.name ?? '';
      if (upper === 'AUTH_TYPE') return sub.user?.authType ?? '';
      if (upper === 'IS_SUBREQ') return 'true';
      // r->filename: what translate_name made of the URL, even when nothing is there.
      if (upper === 'REQUEST_FILENAME' || upper === 'SCRIPT_FILENAME') return 'path' in sub ? sub.path : `${ctx.documentRoot.replace(/\/$/, '')}${target}`;
      return undefined;
    },
    map(name, key) {
      return ctx.rewriteMaps?.lookup(name, key);
    },
    requestTimeMs: () => (req.requestTimeUs === undefined ? Date.now() : req.requestTimeUs / 1000),
    osenv: (name) => ctx.osEnv?.(name),
    // mod_ssl's two lookups in ap_expr (parsed only where mod_ssl is loaded).
    sslVariable: (name, how) => (how === 'variable' ? sslConnectionVariable(name, tls) : sslLookup(name, tls, environment.variable, SSL_INTERFACE)),
  };
  return environment;
}

/** SSL_VERSION_INTERFACE: mod_ssl's version is the host's Apache's. */
const SSL_INTERFACE = `mod_ssl/${EMULATED_APACHE_VERSION}`;

/** Nested look-ahead sub-requests at most (each at another URL than its parent's). */
const MAX_LOOKAHEAD_DEPTH = 10;

/** Debian's ServerRoot: relative AuthUserFile/AuthGroupFile paths resolve against it, as on the host. */
const SERVER_ROOT = '/etc/apache2';
const serverRootPath = (p: string): string => (p.startsWith('/') ? p : `${SERVER_ROOT}/${p}`);

/** mod_auth_basic's 401 for a user the AuthUserFile does not list (AH01618). */
function userNotFound(cfg: DirConfig, user: string, uri: string): Decision {
  return {
    kind: 'error',
    status: 401,
    config: refOf(cfg),
    headers: challenge(cfg),
    log: { module: 'auth_basic', level: 'error', message: `AH01618: user ${user} not found: ${uri}` },
  };
}

function challenge(cfg: DirConfig): Record<string, string> {
  return { 'WWW-Authenticate': `Basic realm="${(cfg.auth.name ?? '').replace(/(["\\])/g, '\\$1')}"` };
}

/** mod_auth_basic `authenticate_basic_user` with mod_authn_file. */
function authenticate(ctx: ResolveContext, cfg: DirConfig, req: RequestFacts, uri: string): { user: string } | { notFound: { user: string; password: string } } | Decision {
  const type = cfg.auth.type?.toLowerCase();
  if (!type || type === 'none') {
    return {
      kind: 'error',
      status: 500,
      config: refOf(cfg),
      log: {
        module: 'core',
        level: 'error',
        message: `AH00027: No authentication done but request not allowed without authentication for ${uri}. Authentication not configured?`,
        explain: 'A Require user/valid-user/group line needs "AuthType Basic", "AuthName" and "AuthUserFile" in the same .htaccess.',
      },
    };
  }
  if (type !== 'basic') {
    return {
      kind: 'error',
      status: 500,
      config: refOf(cfg),
      log: { module: 'core', level: 'error', message: `AuthType ${cfg.auth.type} is not emulated by htsandbox`, explain: 'Only AuthType Basic is emulated.' },
    };
  }
  if (cfg.auth.name === undefined) {
    return { kind: 'error', status: 500, config: refOf(cfg), log: { module: 'auth_basic', level: 'error', message: `AH01615: need AuthName: ${uri}` } };
  }
  const header = req.headers?.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return { kind: 'error', status: 401, config: refOf(cfg), headers: challenge(cfg) };
  const m = /^\s*(\S+)\s*(.*)$/.exec(value);
  if (!m || m[1]!.toLowerCase() !== 'basic') {
    return {
      kind: 'error',
      status: 401,
      config: refOf(cfg),
      headers: challenge(cfg),
      log: { module: 'auth_basic', level: 'error', message: `AH01614: client used wrong authentication scheme: ${uri}` },
    };
  }
  const decoded = Buffer.from(m[2]!.trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const password = colon === -1 ? '' : decoded.slice(colon + 1);
  if (!cfg.auth.userFile) {
    return { kind: 'error', status: 500, config: refOf(cfg), log: { module: 'authn_file', level: 'error', message: `AH01619: AuthUserFile not specified in the configuration` } };
  }
  const file = serverRootPath(cfg.auth.userFile);
  const text = ctx.fs.readText(file);
  if (text === undefined) {
    return {
      kind: 'error',
      status: 500,
      config: refOf(cfg),
      log: {
        module: 'authn_file',
        level: 'error',
        message: `AH01620: Could not open password file: ${file}`,
        explain: `The AuthUserFile ${file} cannot be read: check the path (a relative path is relative to ${SERVER_ROOT}, not to the .htaccess).`,
      },
    };
  }
  const hash = findUserHash(text, user);
  if (hash === undefined) {
    // AuthBasicAuthoritative Off: the next check_user_id hook (mod_fcgid's authenticator) may know the user.
    return cfg.auth.basicAuthoritative ? userNotFound(cfg, user, uri) : { notFound: { user, password } };
  }
  if (!verifyPassword(password, hash)) {
    return {
      kind: 'error',
      status: 401,
      config: refOf(cfg),
      headers: challenge(cfg),
      log: { module: 'auth_basic', level: 'error', message: `AH01617: user ${user}: authentication failure for "${uri}": Password Mismatch` },
    };
  }
  return { user };
}

/** `alias_matches`: length of the matched prefix (segment-aware, slash runs equal), or 0. */
function aliasMatches(uri: string, fake: string): number {
  let u = 0;
  let f = 0;
  while (f < fake.length) {
    if (fake[f] === '/') {
      if (uri[u] !== '/') return 0;
      while (fake[f] === '/') f++;
      while (uri[u] === '/') u++;
    } else if (uri[u++] !== fake[f++]) return 0;
  }
  // The match must end at a segment boundary.
  if (f > 0 && fake[f - 1] !== '/' && u < uri.length && uri[u] !== '/') return 0;
  return u;
}

type RedirectOutcome = { kind: 'redirect'; status: number; location: string } | { kind: 'error'; status: number };

function matchRedirect(rules: DirConfig['redirects'], uri: string, req: RequestFacts): RedirectOutcome | undefined {
  for (const r of rules) {
    let target: string | undefined;
    if (r.match.kind === 'all') target = r.target;
    else if (r.match.kind === 'prefix') {
      const len = aliasMatches(uri, r.match.path);
      if (len === 0) continue;
      target = r.target === undefined ? undefined : r.target + encodeUriPath(uri.slice(len));
    } else {
      const m = r.match.regex.exec(uri);
      if (!m) continue;
      const found = r.target?.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '');
      // try_alias_list: the result is parsed as a URI; all but its query and fragment is
      // escaped again (ap_escape_uri), since the back-references were decoded.
      if (found !== undefined) {
        const hash = found.indexOf('#');
        const beforeHash = hash === -1 ? found : found.slice(0, hash);
        const q = beforeHash.indexOf('?');
        const path = q === -1 ? beforeHash : beforeHash.slice(0, q);
        target = escapeUriPath(path) + (q === -1 ? '' : beforeHash.slice(q)) + (hash === -1 ? '' : found.slice(hash));
      }
    }
    if (r.status < 300 || r.status > 399) return { kind: 'error', status: r.status };
    if (target === undefined) continue;
    if (target.startsWith('/')) target = `${req.origin}${target}`;
    if (req.query !== undefined && !target.includes('?')) target += `?${req.query}`;
    return { kind: 'redirect', status: r.status, location: target };
  }
  return undefined;
}

/** `ap_os_escape_path` for a Location header. */
export function encodeUriPath(p: string): string {
  return p.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g, (c) =>
    Array.from(Buffer.from(c, 'latin1'))
      .map((b) => `%${b.toString(16).padStart(2, '0')}`)
      .join(''),
  );
}
