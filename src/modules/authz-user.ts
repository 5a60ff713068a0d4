/**
 * mod_authz_user (modules/aaa/mod_authz_user.c): no directives of its own; it registers the
 * `Require user` and `Require valid-user` providers, which need an authenticated user (until
 * then they answer AUTHZ_DENIED_NO_USER, and authentication runs). The engine's check_authz
 * asks them (`authorizeUser`, src/engine/access.ts).
 */
import type { ModuleDefinition } from './module.js';

/** mod_authz_user as Apache loads it. */
export const authzUserModule: ModuleDefinition = { name: 'authz_user', directives: [], hooks: { check_authz: 'authorizeUser' } };
