/** Everything a running server needs about the host and the site, resolved once at start-up. */
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { FcgiProcessPool } from '../adapters/fcgi-process-pool.js';
import { DEFAULT_FCGI_LIMITS, parseFcgidCmdOptions, type FcgidCmdOptions, type FcgiLimits } from '../engine/fcgi-spawn-policy.js';
import { siteResolveContext } from '../adapters/site-resolve-context.js';
import type { DiskFsView } from '../adapters/disk-fs-view.js';
import { loadHost, type HostSource, type LoadedHost } from '../adapters/server-config-loader.js';
import type { ResolveContext } from '../engine/resolve.js';
import { walkActive } from '../grammar/syntax-tree.js';
import { textAsBytes } from '../grammar/byte-strings.js';
import { parseRewriteMap, type RewriteMapSpec } from '../grammar/rewrite-map.js';
import { RewriteMapStore } from '../adapters/rewrite-maps.js';
import { STATE_DIR_PREFIX } from '../adapters/process-table.js';
import { ProcessGroups } from '../adapters/process-groups.js';
import { proxyBalancers, type BalancerMember } from '../grammar/proxy-target.js';
import { newBalancerState, type BalancerState } from '../engine/balancer-policy.js';
import { aprErrorText } from '../adapters/os-errors.js';
import { DEFAULT_REQUEST_LIMITS, type ReadTimeouts, type RequestLimits } from '../engine/request-reading.js';
import { parseRequestReadTimeout } from '../modules/reqtimeout.js';
import { parseKeepAliveTimeout } from '../modules/http-core.js';

export interface SiteContext extends ResolveContext {
  loaded: LoadedHost;
  fs: DiskFsView;
  serverAdmin: string;
  serverName: string;
  /** suEXEC is loaded: scripts get only its safe environment. */
  suexec: boolean;
  /** mod_fcgid's process pool and limits. */
  fcgiPool: FcgiProcessPool;
  /** Every process group the server started (CGI and FastCGI): ended at shutdown, recorded for a restart. */
  processGroups: ProcessGroups;
  fcgiLimits: FcgiLimits;
  /** `HtsandboxFcgidKeepConn` (default On). */
  fcgiKeepConn: boolean;
  /** `FcgidInitialEnv`: variables of every FastCGI process's own environment. */
  fcgiInitialEnv: ReadonlyMap<string, string>;
  /** `FcgidPassHeader`: request headers passed raw as PARAMS. */
  fcgiPassHeaders: readonly string[];
  /** `FcgidCmdOptions`, by command. */
  fcgiCmdOptions: ReadonlyMap<string, FcgidCmdOptions>;
  /** `Timeout`: how long a script may stay silent, in milliseconds (Apache's default 60 s). */
  timeoutMs: number;
  /** LimitRequestLine, LimitRequestFieldSize, LimitRequestFields (server config). */
  requestLimits: RequestLimits;
  /** Timeout, and mod_reqtimeout's RequestReadTimeout stages when the host loads the module. */
  readTimeouts: ReadTimeouts;
  /** KeepAliveTimeout in milliseconds (Apache's default 5 s). */
  keepAliveTimeoutMs: number;
  /** Server-level `SSLOptions +StdEnvVars`: requests over TLS get the SSL_* variables. */
  sslStdEnvVars: boolean;
  rewriteMaps: RewriteMapStore;
  /** Each `balancer://` with its members and mod_proxy_balancer's state of them (lbstatus, errors). */
  proxyBalancers: Map<string, { members: BalancerMember[]; state: BalancerState }>;
  /** BalancerMember lines htsandbox cannot use (logged at start). */
  proxyBalancerProblems: string[];
  /** For mod_status: when the server started and how many requests it has answered. */
  stats: { startedAt: number; requests: number };
  /** Which simulated back-end server this is (1-based; `serve --servers N`). */
  server: number;
  /** A new, empty mod_fcgid process table for simulated server `server` (its own socket directory). */
  newFcgiPool(server: number): FcgiProcessPool;
}

/**
 * The simulated real servers behind the host's balancer (`serve --servers N`): the same site
 * and configuration, each with its own mod_fcgid process table, as each of the host's machines
 * runs its own Apache. Server 1 is `site` itself.
 */
export function backendServers(site: SiteContext, count: number): SiteContext[] {
  const out = [site];
  for (let n = 2; n <= count; n++) out.push({ ...site, server: n, fcgiPool: site.newFcgiPool(n) });
  return out;
}

type ModuleLog = (module: string, level: 'error' | 'warn' | 'info', message: string, fields?: Record<string, unknown>) => void;
/** Where the process pool's and the map programs' lines go until the server sets its logger. */
let siteLog: ModuleLog = () => undefined;
export function setSiteLogger(fn: ModuleLog): void {
  siteLog = fn;
}

export function createSiteContext(src: HostSource, runtime: { reloadOnChange?: boolean } = {}): SiteContext | { error: string } {
  const loaded = loadHost(src);
  if ('error' in loaded) return loaded;
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    return { error: errors.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n') };
  }
  const host = loaded.host;
  const base = siteResolveContext(loaded, src.siteRoot, { watch: true });
  if ('error' in base) return base;
  const all = (key: string): string[][] => {
    const out: string[][] = [];
    for (const { node, parents } of walkActive(host.nodes)) {
      if (node.kind === 'directive' && node.key === key && parents.every((p) => p.key.startsWith('<if'))) out.push(node.args.map((a) => a.value));
    }
    return out;
  };
  /** The value of the last server-level `key` directive. */
  const arg = (key: string): string | undefined => all(key).at(-1)?.[0];
  const num = (key: string, fallback: number): number => {
    const v = arg(key);
    const n = v === undefined ? Number.NaN : Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : fallback;
  };
  const mapSpecs: RewriteMapSpec[] = [];
  for (const args of all('rewritemap')) {
    // ap_server_root_relative, with Debian's ServerRoot.
    const spec = parseRewriteMap(args, (p) => (isAbsolute(p) ? p : join('/etc/apache2', p)));
    const problem = 'error' in spec ? spec.error : RewriteMapStore.missingFile(spec);
    if (problem) return { error: problem };
    if (!('error' in spec)) mapSpecs.push(spec);
  }
  const { balancers, errors: balancerErrors } = proxyBalancers(host.nodes);
  // FcgidCmdOptions: a bad option or a command that does not exist stops the server, as in Apache.
  const cmdOptions = new Map<string, FcgidCmdOptions>();
  for (const words of all('fcgidcmdoptions')) {
    const parsed = parseFcgidCmdOptions(words);
    if ('error' in parsed) return { error: `FcgidCmdOptions: ${parsed.error}` };
    try {
      statSync(parsed.command);
    } catch (err) {
      return { error: `Command ${parsed.command} cannot be accessed: ${aprErrorText((err as NodeJS.ErrnoException).code, (err as Error).message)}` };
    }
    cmdOptions.set(parsed.command, parsed);
  }
  const timeoutMs = (Number.parseInt(arg('timeout') ?? '60', 10) || 60) * 1000;
  const readTimeouts: ReadTimeouts = { inactivityMs: timeoutMs };
  if (host.modules.has('reqtimeout')) {
    const stages = parseRequestReadTimeout(all('requestreadtimeout'));
    if ('error' in stages) return { error: stages.error };
    Object.assign(readTimeouts, stages);
  }
  const requestLimits: RequestLimits = {
    line: num('limitrequestline', DEFAULT_REQUEST_LIMITS.line),
    fieldSize: num('limitrequestfieldsize', DEFAULT_REQUEST_LIMITS.fieldSize),
    fields: num('limitrequestfields', DEFAULT_REQUEST_LIMITS.fields),
  };
  const rewriteMaps = new RewriteMapStore(mapSpecs, (level, message) => siteLog('rewrite', level, message));
  const d = DEFAULT_FCGI_LIMITS;
  const fcgiLimits: FcgiLimits = {
    maxProcesses: num('fcgidmaxprocesses', d.maxProcesses),
    maxPerClass: num('fcgidmaxprocessesperclass', d.maxPerClass),
    minPerClass: num('fcgidminprocessesperclass', d.minPerClass),
    idleTimeoutMs: num('fcgididletimeout', d.idleTimeoutMs / 1000) * 1000,
    lifetimeMs: num('fcgidprocesslifetime', d.lifetimeMs / 1000) * 1000,
    maxRequestsPerProcess: num('fcgidmaxrequestsperprocess', d.maxRequestsPerProcess),
    ioTimeoutMs: num('fcgidiotimeout', d.ioTimeoutMs / 1000) * 1000,
    maxRequestLen: num('fcgidmaxrequestlen', d.maxRequestLen),
    maxRequestInMem: num('fcgidmaxrequestinmem', d.maxRequestInMem),
    outputBufferSize: num('fcgidoutputbuffersize', d.outputBufferSize),
    busyWaitMs: d.busyWaitMs,
    busyTimeoutMs: num('fcgidbusytimeout', d.busyTimeoutMs / 1000) * 1000,
    idleScanIntervalMs: num('fcgididlescaninterval', d.idleScanIntervalMs / 1000) * 1000,
    busyScanIntervalMs: num('fcgidbusyscaninterval', d.busyScanIntervalMs / 1000) * 1000,
    spawnScore: num('fcgidspawnscore', d.spawnScore),
    terminationScore: num('fcgidterminationscore', d.terminationScore),
    timeScore: num('fcgidtimescore', d.timeScore),
    spawnScoreUpLimit: num('fcgidspawnscoreuplimit', d.spawnScoreUpLimit),
    sleepQuirk: (arg('htsandboxfcgidsleepquirk') ?? 'off').toLowerCase() === 'on',
  };
  const reload = Boolean(runtime.reloadOnChange) || (arg('htsandboxreloadonchange') ?? 'off').toLowerCase() === 'on';
  const stamp = `${process.pid}-${Date.now()}`;
  const processGroups = new ProcessGroups(join(tmpdir(), `${STATE_DIR_PREFIX}${stamp}-groups`));
  // Every simulated server's pool records its process groups in the one state directory.
  function newFcgiPool(server: number): FcgiProcessPool {
    return new FcgiProcessPool(
      fcgiLimits,
      join(tmpdir(), `${STATE_DIR_PREFIX}${stamp}${server === 1 ? '' : `-s${server}`}`),
      (level, message, fields) => siteLog('fcgid', level, message, server === 1 ? fields : { ...fields, server }),
      reload,
      processGroups,
    );
  }
  return {
    ...base,
    loaded,
    ...(src.userDir ? { userDir: resolve(src.userDir) } : {}),
    serverAdmin: arg('serveradmin') ?? '[no address given]',
    serverName: arg('servername') ?? 'localhost',
    suexec: host.modules.has('suexec'),
    fcgiLimits,
    fcgiKeepConn: (arg('htsandboxfcgidkeepconn') ?? 'on').toLowerCase() !== 'off',
    fcgiInitialEnv: new Map(
      all('fcgidinitialenv')
        .map((a) => [a[0] ?? '', a[1] ?? ''] as [string, string])
        .slice(0, 64),
    ),
    fcgiPassHeaders: all('fcgidpassheader').map((a) => a[0] ?? ''),
    fcgiCmdOptions: cmdOptions,
    fcgiPool: newFcgiPool(1),
    newFcgiPool,
    server: 1,
    processGroups,
    timeoutMs,
    requestLimits,
    readTimeouts,
    // set_keep_alive_timeout: ap_timeout_parameter_parse, seconds unless a unit says otherwise.
    keepAliveTimeoutMs: parseKeepAliveTimeout(arg('keepalivetimeout') ?? '5') ?? 5000,
    sslStdEnvVars: all('ssloptions').some((words) => words.some((w) => /^\+?stdenvvars$/i.test(w))),
    rewriteMaps,
    // The server's environment is text to Node; expressions compare and print byte strings.
    osEnv: (name: string) => {
      const value = process.env[name];
      return value === undefined ? undefined : textAsBytes(value);
    },
    proxyBalancers: new Map([...balancers].map(([name, members]) => [name, { members, state: newBalancerState(members) }])),
    proxyBalancerProblems: balancerErrors.map((e) => `${e.file}:${e.line}: ${e.message}`),
    stats: { startedAt: Date.now(), requests: 0 },
  };
}
