/**
 * Modules whose directives live only in the host's server configuration, where htsandbox reads
 * the ones it emulates while loading it (src/grammar/host-config.ts, src/server/site-context.ts);
 * no per-directory slice, no request hook of their own here. Grouped in one file since each is
 * a table and nothing else.
 */
import { hostConfigRow, parsedOnly, type ModuleDefinition } from './module.js';

/** mod_so (modules/core/mod_so.c): `LoadModule` decides which modules the host has. */
export const soModule: ModuleDefinition = {
  name: 'so',
  directives: [
    hostConfigRow('LoadModule', 'TAKE2', 'RSRC_CONF|EXEC_ON_READ', 'a module name and the name of a shared object file to load it from'),
    parsedOnly('LoadFile', 'ITERATE', 'RSRC_CONF|EXEC_ON_READ', 'shared object file or library to load into the server at runtime'),
  ],
  hooks: {},
};

/** unixd (os/unix/unixd.c): `User`/`Group` are who scripts run as. */
export const unixdModule: ModuleDefinition = {
  name: 'unixd',
  directives: [
    hostConfigRow('User', 'TAKE1', 'RSRC_CONF', 'Effective user id for this server'),
    hostConfigRow('Group', 'TAKE1', 'RSRC_CONF', 'Effective group id for this server'),
    parsedOnly('ChrootDir', 'TAKE1', 'RSRC_CONF', 'The directory to chroot(2) into'),
    parsedOnly('Suexec', 'FLAG', 'RSRC_CONF', 'Enable or disable suEXEC support'),
  ],
  hooks: {},
};

/** mod_version (modules/metadata/mod_version.c): the parser evaluates `<IfVersion>` while reading (src/grammar/conditional-sections.ts). */
export const versionModule: ModuleDefinition = {
  name: 'version',
  directives: [hostConfigRow('<IfVersion', 'TAKE123', 'EXEC_ON_READ|OR_ALL', 'a comparison operator, a version (and a delimiter)')],
  hooks: {},
};

/** mod_reqtimeout (modules/filters/mod_reqtimeout.c): `RequestReadTimeout` bounds reading a request (src/server/). */
export const reqtimeoutModule: ModuleDefinition = {
  name: 'reqtimeout',
  directives: [hostConfigRow('RequestReadTimeout', 'RAW_ARGS', 'RSRC_CONF', 'Set various timeout parameters for TLS handshake and reading request headers and body')],
  hooks: {},
};

/** http_core (modules/http/http_core.c): `KeepAliveTimeout` is applied by the server. */
export const httpCoreModule: ModuleDefinition = {
  name: 'http_core',
  directives: [
    hostConfigRow('KeepAliveTimeout', 'TAKE1', 'RSRC_CONF', 'Keep-Alive timeout duration (sec)'),
    parsedOnly('MaxKeepAliveRequests', 'TAKE1', 'RSRC_CONF', 'Maximum number of Keep-Alive requests per connection, or 0 for infinite'),
    parsedOnly('KeepAlive', 'FLAG', 'RSRC_CONF', 'Whether persistent connections should be On or Off'),
  ],
  hooks: {},
};

/** mod_proxy (modules/proxy/mod_proxy.c): `<Proxy balancer://…>` with `BalancerMember` lines is read for the balancer (src/engine/balancer-policy.ts); the rest is accepted only. */
export const proxyModule: ModuleDefinition = {
  name: 'proxy',
  directives: [
    hostConfigRow('<Proxy', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources located in the proxied location'),
    parsedOnly('<ProxyMatch', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources located in the proxied location, in regular expression syntax'),
    parsedOnly('ProxyRequests', 'FLAG', 'RSRC_CONF', 'on if the true proxy requests should be accepted'),
    parsedOnly('ProxyRemote', 'TAKE23', 'RSRC_CONF', "a scheme, partial URL or '*' and a proxy server"),
    parsedOnly('ProxyRemoteMatch', 'TAKE23', 'RSRC_CONF', 'a regex pattern and a proxy server'),
    parsedOnly('ProxyPassInterpolateEnv', 'FLAG', 'RSRC_CONF|ACCESS_CONF', 'Interpolate Env Vars in reverse Proxy'),
    parsedOnly('ProxyPass', 'RAW_ARGS', 'RSRC_CONF|ACCESS_CONF', 'a virtual path and a URL'),
    parsedOnly('ProxyPassMatch', 'RAW_ARGS', 'RSRC_CONF|ACCESS_CONF', 'a virtual path and a URL'),
    parsedOnly('ProxyPassReverse', 'TAKE123', 'RSRC_CONF|ACCESS_CONF', 'a virtual path and a URL for reverse proxy behaviour'),
    parsedOnly('ProxyPassReverseCookiePath', 'TAKE23', 'RSRC_CONF|ACCESS_CONF', 'Path rewrite rule for proxying cookies'),
    parsedOnly('ProxyPassReverseCookieDomain', 'TAKE23', 'RSRC_CONF|ACCESS_CONF', 'Domain rewrite rule for proxying cookies'),
    parsedOnly('ProxyBlock', 'ITERATE', 'RSRC_CONF', 'A list of names, hosts or domains to which the proxy will not connect'),
    parsedOnly('ProxyReceiveBufferSize', 'TAKE1', 'RSRC_CONF', 'Receive buffer size for outgoing HTTP and FTP connections in bytes'),
    parsedOnly('ProxyIOBufferSize', 'TAKE1', 'RSRC_CONF', 'IO buffer size for outgoing HTTP and FTP connections in bytes'),
    parsedOnly('ProxyMaxForwards', 'TAKE1', 'RSRC_CONF', 'The maximum number of proxies a request may be forwarded through.'),
    parsedOnly('NoProxy', 'ITERATE', 'RSRC_CONF', 'A list of domains, hosts, or subnets to which the proxy will connect directly'),
    parsedOnly('ProxyDomain', 'TAKE1', 'RSRC_CONF', 'The default intranet domain name (in absence of a domain in the URL)'),
    parsedOnly('ProxyVia', 'TAKE1', 'RSRC_CONF', 'Configure Via: proxy header header to one of: on | off | block | full'),
    parsedOnly('ProxyErrorOverride', 'ITERATE', 'RSRC_CONF|ACCESS_CONF', "use our error handling pages instead of the servers' we are proxying"),
    parsedOnly('ProxyPreserveHost', 'FLAG', 'RSRC_CONF|ACCESS_CONF', 'on if we should preserve host header while proxying'),
    parsedOnly('ProxyTimeout', 'TAKE1', 'RSRC_CONF', 'Set the timeout (in seconds) for a proxied connection. This overrides the server timeout'),
    parsedOnly('ProxyBadHeader', 'TAKE1', 'RSRC_CONF', 'How to handle bad header line in response: IsError | Ignore | StartBody'),
    hostConfigRow('BalancerMember', 'RAW_ARGS', 'RSRC_CONF|ACCESS_CONF', 'A balancer name and scheme with list of params'),
    parsedOnly('BalancerGrowth', 'TAKE1', 'RSRC_CONF', 'Number of additional Balancers that can be added post-config'),
    parsedOnly('BalancerPersist', 'FLAG', 'RSRC_CONF', 'on if the balancer should persist changes on reboot/restart made via the Balancer Manager'),
    parsedOnly(
      'BalancerInherit',
      'FLAG',
      'RSRC_CONF',
      'on if this server should inherit Balancers and Workers defined in the main server (Setting to off recommended if using the Balancer Manager)',
    ),
    parsedOnly(
      'ProxyPassInherit',
      'FLAG',
      'RSRC_CONF',
      'on if this server should inherit all ProxyPass directives defined in the main server (Setting to off recommended if using the Balancer Manager)',
    ),
    parsedOnly('ProxyStatus', 'TAKE1', 'RSRC_CONF', 'Configure Status: proxy status to one of: on | off | full'),
    parsedOnly('ProxySet', 'RAW_ARGS', 'RSRC_CONF|ACCESS_CONF', 'A balancer or worker name with list of params'),
    parsedOnly('ProxySourceAddress', 'TAKE1', 'RSRC_CONF', 'Configure local source IP used for request forward'),
    parsedOnly('ProxyAddHeaders', 'FLAG', 'RSRC_CONF|ACCESS_CONF', 'on if X-Forwarded-* headers should be added or completed'),
    parsedOnly('Proxy100Continue', 'FLAG', 'RSRC_CONF|ACCESS_CONF', 'on if 100-Continue should be forwarded to the origin server, off if the proxy should handle it by itself'),
  ],
  hooks: {},
};
