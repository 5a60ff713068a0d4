/**
 * mod_authz_host (modules/aaa/mod_authz_host.c): no directives of its own; it registers the
 * `Require ip`, `Require host`, `Require forward-dns` and `Require local` providers, which
 * authz_core's `Require` compiles (parseRequire checks their arguments as `ip_parse_config`
 * does) and the engine's check_authz asks (`ipMatches`, src/engine/access.ts). Host names are
 * never looked up (HostnameLookups Off), so `Require host` refuses.
 */
import type { ModuleDefinition } from './module.js';

/** mod_authz_host as Apache loads it. */
export const authzHostModule: ModuleDefinition = { name: 'authz_host', directives: [], hooks: { check_authz: 'authorizeWithoutUser' } };
