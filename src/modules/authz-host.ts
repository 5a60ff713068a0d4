/**
 * mod_authz_host (modules/aaa/mod_authz_host.c): no directives of its own; it registers the
 * `Require ip`, `Require host`, `Require forward-dns` and `Require local` providers, which
 * authz_core's `Require` compiles (parseRequire checks their arguments as `ip_parse_config`
 * and `host_parse_config` do: `host` and `forward-dns` take a string expression) and the
 * engine's check_authz asks (src/engine/access.ts). `Require host` looks the client's name up
 * even with HostnameLookups Off (a double-reverse lookup, `ap_get_useragent_host`) and matches
 * it by domain (`in_domain`); `forward-dns` looks each listed name's addresses up. The lookups
 * are the adapter's (`ResolveContext.hostNames`: /etc/hosts, as the sandbox has no network).
 */
import type { ModuleDefinition } from './module.js';

/** mod_authz_host as Apache loads it. */
export const authzHostModule: ModuleDefinition = { name: 'authz_host', directives: [], hooks: { check_authz: 'authorizeWithoutUser' } };
