/**
 * mod_proxy (modules/proxy/mod_proxy.c): its command table (`proxy_cmds[]`). htsandbox reproduces
 * what a shared host's `.htaccess` and FastCGI setups need of it: `<Proxy balancer://…>`
 * sections and their `BalancerMember` lines, which the server reads with the host
 * configuration (src/grammar/proxy-target.ts `proxyBalancers`); the rest is accepted as Apache
 * accepts it and not reproduced. Its scheme handler for `fcgi://` is mod_proxy_fcgi's
 * (proxy-fcgi.ts).
 */
import { parsedOnly, readByHost, type ModuleDefinition } from './module.js';

/** mod_proxy as Apache loads it. */
export const proxyModule: ModuleDefinition = {
  name: 'proxy',
  directives: [
    readByHost('<Proxy', 'RAW_ARGS', 'RSRC_CONF', 'Container for directives affecting resources located in the proxied location'),
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
    readByHost('BalancerMember', 'RAW_ARGS', 'RSRC_CONF|ACCESS_CONF', 'A balancer name and scheme with list of params'),
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
