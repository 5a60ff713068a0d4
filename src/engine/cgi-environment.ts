/**
 * The CGI/1.1 environment Apache builds (`ap_add_common_vars` + `ap_add_cgi_vars` +
 * `ap_create_environment`, server/util_script.c). Pure.
 */
import { escapeHtml } from '../grammar/error-pages.js';

export interface CgiRequestInfo {
  method: string;
  /** Raw request-target of the original request line (REQUEST_URI). */
  requestUri: string;
  query: string | undefined;
  /** Decoded, normalised URI up to the script (SCRIPT_NAME). */
  scriptName: string;
  /** Decoded path info ('' when none). */
  pathInfo: string;
  /** Filesystem path for PATH_TRANSLATED (the docroot + path info), when path info is set. */
  pathTranslated?: string | undefined;
  scriptFilename: string;
  documentRoot: string;
  contextPrefix: string;
  contextDocumentRoot: string;
  /** Request headers with their original names, repeated ones merged with ", ". */
  headers: readonly [string, string][];
  remoteAddr: string;
  remotePort: number;
  serverAddr: string;
  serverPort: number;
  serverName: string;
  serverAdmin: string;
  serverSoftware: string;
  serverSignature: string;
  protocol: string;
  /** SetEnv/SetEnvIf values (they cannot override computed variables). */
  extra: ReadonlyMap<string, string>;
  /** CGIPassAuth On: export Authorization headers. */
  passAuth: boolean;
  /** PATH for the script (Debian Apache's unless SetEnv PATH). */
  path: string;
  remoteUser?: string | undefined;
  authType?: string | undefined;
  /** The client's name, once looked up (`Require host`); REMOTE_HOST is set only then. */
  remoteHost?: string | undefined;
  /** REDIRECT_* variables after an internal redirect. */
  redirect?: ReadonlyMap<string, string> | undefined;
  /** Over TLS: HTTPS and mod_ssl's SSL_* variables (ssl_hook_Fixup). */
  tls?: ReadonlyMap<string, string> | undefined;
  /**
   * `ap_create_environment`'s renaming (every other character of a name to '_'); mod_cgid and
   * mod_fcgid apply it, mod_proxy_fcgi sends the table as it is (default true).
   */
  createEnvironment?: boolean | undefined;
  /** Variables the module removes from the table afterwards, whatever set them. */
  omit?: ReadonlySet<string> | undefined;
}

/** Debian's apache2 runs with this PATH, and scripts inherit it. */
export const DEBIAN_APACHE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** suexec's safe environment (scripts profile): exact names, plus HTTP_ and SSL_ prefixes. */
export const SUEXEC_SAFE_NAMES = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'CONTEXT_DOCUMENT_ROOT',
  'CONTEXT_PREFIX',
  'DATE_GMT',
  'DATE_LOCAL',
  'DOCUMENT_ARGS',
  'DOCUMENT_NAME',
  'DOCUMENT_PATH_INFO',
  'DOCUMENT_ROOT',
  'DOCUMENT_URI',
  'GATEWAY_INTERFACE',
  'HTTPS',
  'LAST_MODIFIED',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'QUERY_STRING_UNESCAPED',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_PORT',
  'REMOTE_USER',
  'REDIRECT_ERROR_NOTES',
  'REDIRECT_HANDLER',
  'REDIRECT_QUERY_STRING',
  'REDIRECT_REMOTE_USER',
  'REDIRECT_SCRIPT_FILENAME',
  'REDIRECT_STATUS',
  'REDIRECT_URL',
  'REQUEST_METHOD',
  'REQUEST_URI',
  'REQUEST_SCHEME',
  'SCRIPT_FILENAME',
  'SCRIPT_NAME',
  'SCRIPT_URI',
  'SCRIPT_URL',
  'SERVER_ADMIN',
  'SERVER_NAME',
  'SERVER_ADDR',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SIGNATURE',
  'SERVER_SOFTWARE',
  'UNIQUE_ID',
  'USER_NAME',
  'TZ',
]);

/** Applies suexec's filter: only safe names reach the script (plus PATH set by suexec). */
export function suexecFilter(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (SUEXEC_SAFE_NAMES.has(k) || (k.startsWith('HTTP_') && k !== 'HTTP_PROXY') || k.startsWith('SSL_')) out[k] = v;
  }
  out.PATH = '/usr/local/bin:/usr/bin:/bin';
  return out;
}

const ODD_NAME = /[^A-Za-z0-9_]|^\d/;

/** Header name → its CGI variable (undefined: not exported), remembered: clients repeat names. */
const HEADER_VARIABLES = new Map<string, string | undefined>();

function headerVariable(name: string): string | undefined {
  if (HEADER_VARIABLES.has(name)) return HEADER_VARIABLES.get(name);
  const lower = name.toLowerCase();
  const key =
    lower === 'content-type'
      ? 'CONTENT_TYPE'
      : lower === 'content-length'
        ? 'CONTENT_LENGTH'
        : lower === 'proxy' // httpoxy
          ? undefined
          : /^[A-Za-z0-9-]+$/.test(name) // names with '_' or other characters are dropped
            ? `HTTP_${name.toUpperCase().replace(/-/g, '_')}`
            : undefined;
  // Hostile clients send endless distinct names: the memory stays bounded.
  if (HEADER_VARIABLES.size > 4096) HEADER_VARIABLES.clear();
  HEADER_VARIABLES.set(name, key);
  return key;
}

/** The environment for one CGI request. */
export function buildCgiEnvironment(info: CgiRequestInfo): Record<string, string> {
  const env: Record<string, string> = {};
  /** Only SetEnv and redirect names can need ap_create_environment's renaming. */
  let odd = false;
  // SetEnv/SetEnvIf first: the computed variables below overwrite them (util_script.c:170).
  const omit = info.omit;
  for (const [k, v] of info.extra) {
    if (omit?.has(k)) continue;
    env[k] = v;
    if (!odd && ODD_NAME.test(k)) odd = true;
  }
  for (const [name, value] of info.headers) {
    const key = headerVariable(name);
    if (key === undefined || omit?.has(key)) continue;
    if (key === 'HTTP_AUTHORIZATION' || key === 'HTTP_PROXY_AUTHORIZATION') {
      if (info.passAuth) env[key] = value;
    } else env[key] = value;
  }
  env.PATH = info.extra.get('PATH') ?? info.path;
  env.SERVER_SIGNATURE = info.serverSignature;
  env.SERVER_SOFTWARE = info.serverSoftware;
  env.SERVER_NAME = escapeHtml(info.serverName);
  env.SERVER_ADDR = info.serverAddr;
  env.SERVER_PORT = String(info.serverPort);
  // ap_add_common_vars: REMOTE_HOST only when a name is known (add_unless_null).
  if (info.remoteHost) env.REMOTE_HOST = info.remoteHost;
  env.REMOTE_ADDR = info.remoteAddr;
  env.DOCUMENT_ROOT = info.documentRoot;
  env.REQUEST_SCHEME = info.tls ? 'https' : 'http';
  env.CONTEXT_PREFIX = info.contextPrefix;
  env.CONTEXT_DOCUMENT_ROOT = info.contextDocumentRoot;
  env.SERVER_ADMIN = info.serverAdmin;
  env.SCRIPT_FILENAME = info.scriptFilename;
  env.REMOTE_PORT = String(info.remotePort);
  if (info.remoteUser !== undefined) env.REMOTE_USER = info.remoteUser;
  if (info.authType !== undefined) env.AUTH_TYPE = info.authType;
  if (info.redirect) {
    for (const [k, v] of info.redirect) {
      if (omit?.has(k)) continue;
      env[k] = v;
      if (!odd && ODD_NAME.test(k)) odd = true;
    }
  }
  if (info.tls) for (const [k, v] of info.tls) if (!omit?.has(k)) env[k] = v;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.SERVER_PROTOCOL = info.protocol;
  env.REQUEST_METHOD = info.method;
  env.QUERY_STRING = info.query ?? '';
  env.REQUEST_URI = info.requestUri;
  env.SCRIPT_NAME = info.scriptName;
  if (info.pathInfo !== '') {
    env.PATH_INFO = info.pathInfo;
    if (info.pathTranslated !== undefined) env.PATH_TRANSLATED = info.pathTranslated;
  }
  if (info.createEnvironment === false || !odd) return env;
  // ap_create_environment: every non-alnum character of a name becomes '_', a leading digit too.
  const out: Record<string, string> = {};
  for (const k in env) {
    out[ODD_NAME.test(k) ? k.replace(/[^A-Za-z0-9_]/g, '_').replace(/^\d/, '_') : k] = env[k]!;
  }
  return out;
}
