/**
 * mod_authn_core (modules/aaa/mod_authn_core.c): `AuthType` and `AuthName`, and the record of
 * authentication settings the engine's access phases read. Apache keeps these in several
 * modules' configurations (authn_core, authn_file, authz_groupfile, auth_basic); htsandbox
 * keeps them in one record, each module merging its own fields.
 */
import type { CompiledLine, DirConfigSlice, DirectiveDefinition, LineSource, ModuleDefinition } from './module.js';

/** What the access phases read about authentication. */
export interface AuthSettings {
  /** AuthType as written (`Basic`); undefined: none. */
  type?: string;
  /** AuthName, the realm. */
  name?: string;
  /** AuthUserFile (mod_authn_file), as written. */
  userFile?: string;
  /** AuthGroupFile (mod_authz_groupfile), as written. */
  groupFile?: string;
  /** AuthBasicAuthoritative (mod_auth_basic). Default on. */
  basicAuthoritative: boolean;
}

/** The fields set by a directive of their own, whose line the request's story names. */
export type AuthField = 'type' | 'name' | 'userFile' | 'groupFile';

/** The slice every authentication module merges into. */
export interface AuthDirConfig {
  auth: AuthSettings;
  /** Where the line that set each field in effect is written. */
  authSources: Readonly<Partial<Record<AuthField, LineSource>>>;
}

const EMPTY_AUTH: AuthDirConfig = { auth: { basicAuthoritative: true }, authSources: {} };
const AUTH_FIELDS: readonly AuthField[] = ['type', 'name', 'userFile', 'groupFile'];

/**
 * A slice whose lines each set one field of the record (the nearest level's line wins, as
 * each module's merge keeps the child's value when it has one).
 */
export function authFieldsSlice(): DirConfigSlice<AuthDirConfig> {
  return {
    empty: EMPTY_AUTH,
    merge: (base: Readonly<AuthDirConfig>, lines: readonly CompiledLine[]) => {
      const auth = { ...base.auth };
      let sources: Partial<Record<AuthField, LineSource>> | undefined;
      for (const l of lines) {
        const value = l.value as Partial<AuthSettings>;
        Object.assign(auth, value);
        for (const f of AUTH_FIELDS) {
          if (f in value && l.source) (sources ??= { ...base.authSources })[f] = l.source;
        }
      }
      return sources ? { auth, authSources: sources } : { auth };
    },
  };
}

/** A directive whose value is one field of the record, set to its first argument as written. */
export function authField(name: string, field: AuthField, help: string): DirectiveDefinition<Partial<AuthSettings>> {
  return { name, shape: 'TAKE1', override: 'OR_AUTHCFG', help, compile: ({ words }) => ({ findings: [], value: { [field]: words[0] ?? '' } }) };
}

const authName = authField('AuthName', 'name', 'the authentication realm (e.g. "Members Only")');

/** mod_authn_core as Apache loads it. */
export const authnCoreModule: ModuleDefinition<AuthDirConfig> = {
  name: 'authn_core',
  directives: [
    authField('AuthType', 'type', 'an HTTP authorization type (e.g., "Basic")'),
    { ...authName, alsoDefinedBy: ['auth_digest'] },
    {
      name: '<AuthnProviderAlias',
      shape: 'RAW_ARGS',
      override: 'RSRC_CONF',
      help: "container for grouping an authentication provider's directives under a provider alias",
      compile: () => ({ findings: [], value: undefined }),
      parsedOnly: true,
    },
  ],
  dirConfig: authFieldsSlice(),
  hooks: {},
};
