/**
 * mod_proxy's handler form (`SetHandler "proxy:…"`, 2.4.10+) for FastCGI backends, and the
 * balancers a server configuration declares with `<Proxy "balancer://name">` + `BalancerMember`.
 * Pure: what a handler name means, never a connection.
 */
import type { ConfigNode } from './syntax-tree.js';
import { walkActive } from './syntax-tree.js';

/** Where one FastCGI backend listens. */
export type FcgiEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** What a `proxy:` handler names. */
export type ProxyTarget =
  | {
      kind: 'fcgi';
      endpoint: FcgiEndpoint;
      /**
       * mod_proxy_fcgi leaves `proxy:fcgi://host[:port]` in front of SCRIPT_FILENAME (PHP-FPM
       * strips it); `proxy:unix:` targets show the host named after the `|`.
       */
      scriptFilenamePrefix: string;
    }
  | { kind: 'balancer'; name: string }
  | { kind: 'other'; scheme: string };

/** `ap_proxy_port_of_scheme("fcgi")`. */
export const FCGI_DEFAULT_PORT = 8000;

/** Host, port and path of `//host[:port][/path]`; IPv6 literals in brackets. */
function netloc(rest: string): { host: string; port: number; path: string } | undefined {
  const m = /^\/\/(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?(\/[^?#]*)?(?:[?#].*)?$/.exec(rest);
  if (!m || m[1] === '') return undefined;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  const port = m[2] ? Number(m[2]) : FCGI_DEFAULT_PORT;
  return port > 0 && port < 65536 ? { host, port, path: m[3] ?? '' } : undefined;
}

// The handler and the file name are joined as they are: "fcgi://h:9000/" + "/srv/x.php" keeps
// both slashes (seen on 2.4.71).
const prefixFor = (host: string, port: number, path: string): string =>
  `proxy:fcgi://${host.includes(':') ? `[${host}]` : host}${port === FCGI_DEFAULT_PORT ? '' : `:${port}`}${path}`;

/** Parses a handler name that starts with `proxy:`; undefined for any other handler. */
export function parseProxyHandler(handler: string): ProxyTarget | { error: string } | undefined {
  if (!/^proxy:/i.test(handler)) return undefined;
  let url = handler.slice(6);
  let socketPath: string | undefined;
  if (/^unix:/i.test(url)) {
    // `ap_proxy_de_socketfy`: "unix:/path|scheme://host…"; the path may not be empty.
    const bar = url.indexOf('|');
    if (bar === -1) return { error: `${handler}: a unix: target needs "|fcgi://host" after the socket path` };
    socketPath = url.slice(5, bar);
    url = url.slice(bar + 1);
    if (!socketPath.startsWith('/')) return { error: `${handler}: the socket path must be absolute` };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { error: `${handler}: no scheme after proxy:` };
  const rest = url.slice(scheme.length + 1);
  if (scheme === 'balancer') {
    const name = /^\/\/([^/?#]+)/.exec(rest)?.[1];
    return name ? { kind: 'balancer', name: name.toLowerCase() } : { error: `${handler}: no balancer name` };
  }
  if (scheme !== 'fcgi') return { kind: 'other', scheme };
  const loc = netloc(rest);
  if (!loc) return { error: `${handler}: cannot read host and port` };
  return {
    kind: 'fcgi',
    endpoint: socketPath !== undefined ? { kind: 'unix', path: socketPath } : { kind: 'tcp', host: loc.host, port: loc.port },
    scriptFilenamePrefix: prefixFor(loc.host, loc.port, loc.path),
  };
}

/** The modules a handler name needs, beyond mod_proxy itself (for `proxy:` names). */
export function proxySchemeModule(target: ProxyTarget): string {
  return target.kind === 'fcgi' ? 'proxy_fcgi' : target.kind === 'balancer' ? 'proxy_balancer' : `proxy_${target.scheme}`;
}

export interface BalancerMember {
  endpoint: FcgiEndpoint;
  /** The member as written (BALANCER_WORKER_NAME). */
  url: string;
  /** What the member puts in front of SCRIPT_FILENAME. */
  scriptFilenamePrefix: string;
  /** `loadfactor=` × 100, as mod_proxy keeps it (lbfactor; default 100). */
  factor: number;
  /** `retry=` in ms: how long a member in error stays out of rotation (default 60 s). */
  retryMs: number;
  file: string;
  line: number;
}

/** mod_proxy's PROXY_WORKER_DEFAULT_RETRY. */
const DEFAULT_RETRY_MS = 60_000;

/** The `key=value` parameters htsandbox uses (set_worker_param); a bad value is an error. */
function memberParams(words: readonly string[]): { factor: number; retryMs: number } | { error: string } {
  let factor = 100;
  let retryMs = DEFAULT_RETRY_MS;
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const key = w.slice(0, eq).toLowerCase();
    const value = w.slice(eq + 1);
    if (key === 'loadfactor') {
      // atof × 100, truncated, as an int.
      factor = Math.trunc((Number.parseFloat(value) || 0) * 100);
      if (factor < 100 || factor > 10000) return { error: 'LoadFactor must be a number between 1..100' };
    } else if (key === 'retry') {
      const n = Number.parseInt(value, 10) || 0;
      if (n < 0) return { error: 'Retry must be a positive value' };
      retryMs = n * 1000;
    }
  }
  return { factor, retryMs };
}

/**
 * `<Proxy "balancer://name">` sections and their `BalancerMember` lines (also the
 * `BalancerMember balancer://name url` form outside a section). Members of other schemes than
 * fcgi are listed with an error.
 */
export function proxyBalancers(nodes: readonly ConfigNode[]): { balancers: Map<string, BalancerMember[]>; errors: { file: string; line: number; message: string }[] } {
  const balancers = new Map<string, BalancerMember[]>();
  const errors: { file: string; line: number; message: string }[] = [];
  for (const { node, parents } of walkActive(nodes)) {
    if (node.kind !== 'directive' || node.key !== 'balancermember') continue;
    const words = node.args.map((a) => a.value);
    const section = [...parents].reverse().find((p) => p.key === '<proxy');
    let name: string | undefined;
    let url: string | undefined;
    let params: string[];
    if (section) {
      name = /^balancer:\/\/([^/]+)/i.exec(section.args[0]?.value ?? '')?.[1];
      url = words[0];
      params = words.slice(1);
    } else {
      name = /^balancer:\/\/([^/]+)/i.exec(words[0] ?? '')?.[1];
      url = words[1];
      params = words.slice(2);
    }
    if (!name || !url) {
      errors.push({ file: node.file, line: node.line, message: 'BalancerMember must be in a <Proxy balancer://name> section or name its balancer' });
      continue;
    }
    const parsed = parseProxyHandler(`proxy:${url}`);
    if (!parsed || 'error' in parsed || parsed.kind !== 'fcgi') {
      errors.push({ file: node.file, line: node.line, message: `BalancerMember ${url}: htsandbox runs fcgi:// members only` });
      continue;
    }
    const p = memberParams(params);
    if ('error' in p) {
      errors.push({ file: node.file, line: node.line, message: `BalancerMember ${url}: ${p.error}` });
      continue;
    }
    const key = name.toLowerCase();
    balancers.set(key, [
      ...(balancers.get(key) ?? []),
      { endpoint: parsed.endpoint, url, scriptFilenamePrefix: parsed.scriptFilenamePrefix, ...p, file: node.file, line: node.line },
    ]);
  }
  return { balancers, errors };
}
