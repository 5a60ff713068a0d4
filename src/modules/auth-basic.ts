/**
 * mod_auth_basic (modules/aaa/mod_auth_basic.c): `AuthBasicAuthoritative`, applied, and the
 * provider list, checked as `add_authn_provider` does. Its check_authn hook is the engine's
 * check_user_id phase (`checkUserId`, src/engine/resolve.ts).
 */
import { authFieldsSlice, type AuthDirConfig, type AuthSettings } from './authn-core.js';
import { finding, refused, type DirectiveDefinition, type ModuleDefinition, parsedOnly } from './module.js';

/** The authn providers by name and the module that registers each. */
const PROVIDERS: Readonly<Record<string, string>> = { file: 'authn_file', anon: 'authn_anon', dbm: 'authn_dbm', dbd: 'authn_dbd', socache: 'authn_socache' };

const authBasicProvider: DirectiveDefinition<never> = {
  name: 'AuthBasicProvider',
  shape: 'ITERATE',
  override: 'OR_AUTHCFG',
  help: 'specify the auth providers for a directory or location',
  compile: ({ words, hasModule }) => {
    for (const w of words) {
      const m = PROVIDERS[w];
      if (m === undefined || !hasModule(m)) return refused(finding(`Unknown Authn provider: ${w}`));
    }
    return { findings: [], value: undefined };
  },
  parsedOnly: true,
};

const authBasicAuthoritative: DirectiveDefinition<Partial<AuthSettings>> = {
  name: 'AuthBasicAuthoritative',
  shape: 'FLAG',
  override: 'OR_AUTHCFG',
  help: "Set to 'Off' to allow access control to be passed along to lower modules if the UserID is not known to this module",
  compile: ({ words }) => ({ findings: [], value: { basicAuthoritative: (words[0] ?? '').toLowerCase() !== 'off' } }),
};

/** mod_auth_basic as Apache loads it. */
export const authBasicModule: ModuleDefinition<AuthDirConfig> = {
  name: 'auth_basic',
  directives: [
    authBasicProvider,
    authBasicAuthoritative,
    parsedOnly(
      'AuthBasicFake',
      'TAKE12',
      'OR_AUTHCFG',
      "Fake basic authentication using the given expressions for username and password, 'off' to disable. Password defaults to 'password' if missing.",
    ),
    parsedOnly(
      'AuthBasicUseDigestAlgorithm',
      'TAKE1',
      'OR_AUTHCFG',
      "Set to 'MD5' to use the auth provider's authentication check for digest auth, using a hash of 'user:realm:pass'",
    ),
  ],
  dirConfig: authFieldsSlice(),
  hooks: { check_authn: 'checkUserId' },
};
