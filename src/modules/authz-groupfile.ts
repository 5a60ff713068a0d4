/** mod_authz_groupfile (modules/aaa/mod_authz_groupfile.c): `AuthGroupFile`, read by `Require group`. */
import { authField, authFieldsSlice, type AuthDirConfig } from './authn-core.js';
import type { ModuleDefinition } from './module.js';

/** mod_authz_groupfile as Apache loads it. */
export const authzGroupfileModule: ModuleDefinition<AuthDirConfig> = {
  name: 'authz_groupfile',
  directives: [authField('AuthGroupFile', 'groupFile', 'text file containing group names and member user IDs')],
  dirConfig: authFieldsSlice(),
  hooks: {},
};
