/**
 * The variables mod_ssl gives a request over TLS (ssl_hook_Fixup with `SSLOptions +StdEnvVars`,
 * ssl_engine_vars.c), from facts the server reads off the connection. Pure.
 */

/** The server certificate, as ssl_var_lookup_ssl_cert reads it. */
export interface ServerCertificateFacts {
  subject: string;
  issuer: string;
  /** Upper-case hex. */
  serial: string;
  /** OpenSSL's printed times (`Dec  5 19:32:46 2026 GMT`). */
  validFrom: string;
  validTo: string;
  /** subjectAltName DNS names and e-mail addresses (SSL_SERVER_SAN_DNS_n, SSL_SERVER_SAN_Email_n). */
  sanDns: readonly string[];
  sanEmail: readonly string[];
  /** OpenSSL's long names: `id-ecPublicKey`, `rsaEncryption`; `ecdsa-with-SHA256`, `sha256WithRSAEncryption`. */
  keyAlgorithm: string;
  signatureAlgorithm: string;
}

/** One TLS connection. */
export interface TlsConnectionFacts {
  /** `TLSv1.3`. */
  protocol: string;
  /** OpenSSL's cipher name. */
  cipher: string;
  sessionId: string;
  resumed: boolean;
  /** The SNI name the client sent, if any. */
  serverName?: string;
  /** `OpenSSL/3.0.13` */
  library: string;
  /** `mod_ssl/2.4.62` */
  interface: string;
}

/** Bits of the cipher's key (ssl_var_lookup_ssl_cipher: SSL_CIPHER_get_bits). */
function cipherBits(cipher: string): number {
  if (/CHACHA20|AES_?256|AES256|CAMELLIA256|ARIA256/i.test(cipher)) return 256;
  if (/AES_?128|AES128|CAMELLIA128|ARIA128|SEED/i.test(cipher)) return 128;
  if (/3DES|DES-CBC3/i.test(cipher)) return 168;
  return 0;
}

/** `CN=localhost` → the DN as mod_ssl prints it, and its components (`SSL_SERVER_S_DN_CN`). */
function dnVariables(prefix: string, dn: string, out: Map<string, string>): void {
  const parts = dn.split('\n').filter(Boolean);
  out.set(prefix, parts.join(','));
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq > 0) out.set(`${prefix}_${p.slice(0, eq)}`, p.slice(eq + 1));
  }
}

/**
 * HTTPS and the SSL_* variables, in mod_ssl's names: what ssl_var_lookup answers (`%{SSL:…}`
 * in mod_rewrite and ap_expr, `%{…}s` in mod_headers), whatever SSLOptions says.
 */
export function sslVariables(conn: TlsConnectionFacts, cert: ServerCertificateFacts): Map<string, string> {
  const out = new Map<string, string>([['HTTPS', 'on']]);
  const bits = String(cipherBits(conn.cipher));
  out.set('SSL_VERSION_INTERFACE', conn.interface);
  out.set('SSL_VERSION_LIBRARY', conn.library);
  out.set('SSL_PROTOCOL', conn.protocol);
  out.set('SSL_SECURE_RENEG', 'true');
  out.set('SSL_COMPRESS_METHOD', 'NULL');
  out.set('SSL_CIPHER', conn.cipher);
  out.set('SSL_CIPHER_EXPORT', 'false');
  out.set('SSL_CIPHER_USEKEYSIZE', bits);
  out.set('SSL_CIPHER_ALGKEYSIZE', bits);
  out.set('SSL_CLIENT_VERIFY', 'NONE');
  out.set('SSL_SERVER_M_VERSION', '3');
  out.set('SSL_SERVER_M_SERIAL', cert.serial);
  out.set('SSL_SERVER_V_START', cert.validFrom);
  out.set('SSL_SERVER_V_END', cert.validTo);
  dnVariables('SSL_SERVER_S_DN', cert.subject, out);
  dnVariables('SSL_SERVER_I_DN', cert.issuer, out);
  cert.sanDns.forEach((n, i) => out.set(`SSL_SERVER_SAN_DNS_${i}`, n));
  cert.sanEmail.forEach((n, i) => out.set(`SSL_SERVER_SAN_Email_${i}`, n));
  out.set('SSL_SERVER_A_KEY', cert.keyAlgorithm);
  out.set('SSL_SERVER_A_SIG', cert.signatureAlgorithm);
  out.set('SSL_SESSION_ID', conn.sessionId);
  out.set('SSL_SESSION_RESUMED', conn.resumed ? 'Resumed' : 'Initial');
  if (conn.serverName) out.set('SSL_TLS_SNI', conn.serverName);
  return out;
}

/** What mod_ssl's fixup puts into the request's environment: HTTPS, and the rest under `SSLOptions +StdEnvVars`. */
export function sslEnvironment(lookup: ReadonlyMap<string, string>, stdEnvVars: boolean): ReadonlyMap<string, string> {
  return stdEnvVars ? lookup : HTTPS_ONLY;
}

const HTTPS_ONLY: ReadonlyMap<string, string> = new Map([['HTTPS', 'on']]);

/**
 * The request's own names ssl_var_lookup answers first (its request part), meaning what
 * mod_rewrite's variables of the same names mean.
 */
const REQUEST_NAMES: ReadonlySet<string> = new Set([
  'HTTP_USER_AGENT',
  'HTTP_REFERER',
  'HTTP_COOKIE',
  'HTTP_FORWARDED',
  'HTTP_HOST',
  'HTTP_PROXY_CONNECTION',
  'HTTP_ACCEPT',
  'REQUEST_METHOD',
  'REQUEST_SCHEME',
  'REQUEST_URI',
  'REQUEST_FILENAME',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'SERVER_ADMIN',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SCRIPT_FILENAME',
  'PATH_INFO',
  'QUERY_STRING',
  'IS_SUBREQ',
  'DOCUMENT_ROOT',
  'AUTH_TYPE',
  'THE_REQUEST',
]);

/** What ssl_var_lookup answers without a connection: the time, the server, the versions. */
const INDEPENDENT_NAMES: ReadonlySet<string> = new Set([
  'SERVER_SOFTWARE',
  'API_VERSION',
  'TIME_YEAR',
  'TIME_MON',
  'TIME_DAY',
  'TIME_HOUR',
  'TIME_MIN',
  'TIME_SEC',
  'TIME_WDAY',
  'TIME',
]);

/**
 * ssl_var_lookup (ssl_engine_vars.c), which mod_rewrite's `%{SSL:name}`, ap_expr's `SSL(name)`
 * and mod_headers' `%{name}s` call, over TLS or not: the request's names first (`request`
 * answers them as mod_rewrite's lookup_variable does), then the connection's (`tls`: its SSL_* names, undefined
 * over plain HTTP, where HTTPS is "off"), then what needs neither (the versions, the time).
 * Names are found in any case (`%{SSL:https}` is "on" on Apache 2.4.71); what follows `HTTP:`
 * or `ENV:` keeps its own. An unknown name is "".
 */
export function sslLookup(name: string, tls: ReadonlyMap<string, string> | undefined, request: (name: string) => string, versionInterface: string): string {
  const upper = name.toUpperCase();
  if (REQUEST_NAMES.has(upper) || (name.length > 5 && upper.startsWith('HTTP:')) || (name.length > 4 && upper.startsWith('ENV:'))) {
    // A request name goes as mod_ssl knows it; after `HTTP:` or `ENV:` the case is the name's own.
    const value = request(REQUEST_NAMES.has(upper) ? upper : name);
    if (value !== '') return value;
  }
  if (upper === 'HTTPS') return tls ? 'on' : 'off';
  if (name.length > 4 && upper.startsWith('SSL_') && tls) {
    // The certificate's names keep mod_ssl's spelling (SSL_SERVER_SAN_Email_0).
    const value = tls.get(name) ?? tls.get(upper);
    if (value !== undefined) return value;
  }
  // ssl_var_lookup_ssl_version: the interface is known without a connection; the library's
  // name is read from the connection's facts, so over plain HTTP it is left out.
  if (upper === 'SSL_VERSION_INTERFACE') return versionInterface;
  if (INDEPENDENT_NAMES.has(upper)) return request(upper);
  return '';
}

/**
 * ap_expr's `%{SSL_name}` (expr_var_fn; `name` upper-case, without its `SSL_`):
 * ssl_var_lookup_ssl on the connection's own facts; "" over plain HTTP, where mod_ssl has no
 * record of the connection (the `expr-ssl` conformance case).
 */
export function sslConnectionVariable(name: string, tls: ReadonlyMap<string, string> | undefined): string {
  return tls?.get(`SSL_${name}`) ?? '';
}
