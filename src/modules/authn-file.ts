/** mod_authn_file (modules/aaa/mod_authn_file.c): `AuthUserFile`, the "file" provider's users. */
import { authField, authFieldsSlice, type AuthDirConfig } from './authn-core.js';
import type { ModuleDefinition } from './module.js';

/** mod_authn_file as Apache loads it. Its check_password provider is the engine's Basic check. */
export const authnFileModule: ModuleDefinition<AuthDirConfig> = {
  name: 'authn_file',
  directives: [authField('AuthUserFile', 'userFile', 'text file containing user IDs and passwords')],
  dirConfig: authFieldsSlice(),
  hooks: {},
};
