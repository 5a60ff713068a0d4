/**
 * mod_fcgid (modules/fcgid/mod_fcgid.c, fcgid_conf.c): its command table, the deprecated
 * spellings included (they share the handlers of the new ones), and the per-directory part
 * merged as `merge_fcgid_dir_config` does: `FcgidWrapper` by suffix, and the FastCGI access
 * checker, authenticator and authorizer programs with their `…Authoritative` flags. The
 * server-wide directives (FcgidMaxProcesses …) are read with the host configuration
 * (src/server/site-context.ts); their compile here only accepts them. The handler and the
 * access hooks are the engine's (`askFcgid`, src/engine/resolve.ts) and the process manager's.
 */
import { splitWords } from '../grammar/words.js';
import { parsedOnly, readByHost, type CompiledLine, type DirectiveDefinition, type ModuleDefinition } from './module.js';

/** FCGI_APACHE_ROLE values of mod_fcgid's three access-phase roles. */
export type FcgidAuthRole = 'ACCESS_CHECKER' | 'AUTHENTICATOR' | 'AUTHORIZER';

/** One `FcgidWrapper`: the command (with its arguments) and whether it is `virtual`. */
export interface FcgidWrapper {
  argv: string[];
  virtual: boolean;
}

/** mod_fcgid's slice of the per-directory configuration. */
export interface FcgidDirConfig {
  /** mod_fcgid's FastCGI access checker, authenticator and authorizer programs. */
  fcgidAuth: { readonly [R in FcgidAuthRole]?: { program: string; authoritative: boolean } };
  /** FcgidWrapper by suffix (`.php`) or `ALL`: the command that runs such scripts. */
  fcgidWrappers: ReadonlyMap<string, FcgidWrapper>;
}

type FcgidLine =
  | { kind: 'program'; role: FcgidAuthRole; program: string }
  | { kind: 'authoritative'; role: FcgidAuthRole; on: boolean }
  | { kind: 'wrapper'; suffix: string; wrapper: FcgidWrapper };

/** `set_access_info` and its kin: the program is the first word (apr_tokenize_to_argv). */
function program(role: FcgidAuthRole): DirectiveDefinition<FcgidLine>['compile'] {
  return ({ words }) => ({ findings: [], value: { kind: 'program', role, program: splitWords(words[0] ?? '')[0]?.value ?? '' } });
}

function authoritative(role: FcgidAuthRole): DirectiveDefinition<FcgidLine>['compile'] {
  return ({ words }) => ({ findings: [], value: { kind: 'authoritative', role, on: (words[0] ?? '').toLowerCase() !== 'off' } });
}

/** `set_wrapper_config`: FcgidWrapper command [suffix] [virtual]; the command may carry arguments. */
const wrapper: DirectiveDefinition<FcgidLine>['compile'] = ({ words }) => {
  const argv = splitWords(words[0] ?? '').map((x) => x.value);
  const suffix = words[1] && words[1].toLowerCase() !== 'virtual' ? words[1] : 'ALL';
  const virtual = words.some((w, i) => i > 0 && w.toLowerCase() === 'virtual');
  return { findings: [], value: { kind: 'wrapper', suffix: suffix === 'ALL' ? 'ALL' : suffix.startsWith('.') ? suffix : `.${suffix}`, wrapper: { argv, virtual } } };
};

/**
 * `merge_fcgid_dir_config`: a level's program or flag replaces the inherited one for that role
 * (an Authoritative line without a program is kept for when a later level names one); a
 * level's wrappers are laid over the inherited ones by suffix.
 */
function mergeFcgid(base: Readonly<FcgidDirConfig>, lines: readonly CompiledLine[]): Partial<FcgidDirConfig> {
  let auth = base.fcgidAuth;
  let wrappers: Map<string, FcgidWrapper> | undefined;
  for (const l of lines) {
    const line = l.value as FcgidLine;
    if (line.kind === 'wrapper') {
      wrappers ??= new Map(base.fcgidWrappers);
      wrappers.set(line.suffix, line.wrapper);
      continue;
    }
    const current = auth[line.role];
    auth =
      line.kind === 'program'
        ? { ...auth, [line.role]: { program: line.program, authoritative: current?.authoritative ?? true } }
        : { ...auth, [line.role]: { program: current?.program ?? '', authoritative: line.on } };
  }
  return wrappers ? { fcgidAuth: auth, fcgidWrappers: wrappers } : { fcgidAuth: auth };
}

const DIRECTIVES: DirectiveDefinition[] = [
  { name: 'FcgidAccessChecker', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: 'a absolute access checker file path', compile: program('ACCESS_CHECKER') },
  {
    name: 'FcgidAccessCheckerAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Set to 'off' to allow access control to be passed along to lower modules upon failure",
    compile: authoritative('ACCESS_CHECKER'),
  },
  { name: 'FcgidAuthenticator', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: 'a absolute authenticator file path', compile: program('AUTHENTICATOR') },
  {
    name: 'FcgidAuthenticatorAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Set to 'off' to allow authentication to be passed along to lower modules upon failure",
    compile: authoritative('AUTHENTICATOR'),
  },
  { name: 'FcgidAuthorizer', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: 'a absolute authorizer file path', compile: program('AUTHORIZER') },
  {
    name: 'FcgidAuthorizerAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Set to 'off' to allow authorization to be passed along to lower modules upon failure",
    compile: authoritative('AUTHORIZER'),
  },
  readByHost('FcgidBusyScanInterval', 'TAKE1', 'RSRC_CONF', 'scan interval for busy timeout process'),
  readByHost('FcgidBusyTimeout', 'TAKE1', 'RSRC_CONF', 'a fastcgi application will be killed after handling a request for BusyTimeout'),
  readByHost('FcgidCmdOptions', 'RAW_ARGS', 'RSRC_CONF', 'set processing options for a FastCGI command'),
  readByHost('FcgidInitialEnv', 'TAKE12', 'RSRC_CONF', 'an environment variable name and optional value to pass to FastCGI.'),
  readByHost('FcgidMaxProcessesPerClass', 'TAKE1', 'RSRC_CONF', 'Max process count of one class of fastcgi application'),
  readByHost('FcgidMinProcessesPerClass', 'TAKE1', 'RSRC_CONF', 'Min process count of one class of fastcgi application'),
  parsedOnly('FcgidErrorScanInterval', 'TAKE1', 'RSRC_CONF', 'scan interval for exited process'),
  readByHost('FcgidIdleScanInterval', 'TAKE1', 'RSRC_CONF', 'scan interval for idle timeout process'),
  readByHost('FcgidIdleTimeout', 'TAKE1', 'RSRC_CONF', 'an idle fastcgi application will be killed after IdleTimeout'),
  readByHost('FcgidIOTimeout', 'TAKE1', 'RSRC_CONF', 'Communication timeout to fastcgi server'),
  parsedOnly('FcgidConnectTimeout', 'TAKE1', 'RSRC_CONF', 'Connect timeout to fastcgi server'),
  readByHost('FcgidMaxProcesses', 'TAKE1', 'RSRC_CONF', 'Max total process count'),
  readByHost('FcgidMaxRequestInMem', 'TAKE1', 'RSRC_CONF', 'The part of HTTP request which greater than this limit will swap to disk'),
  readByHost('FcgidMaxRequestLen', 'TAKE1', 'RSRC_CONF', 'Max HTTP request length in byte'),
  readByHost('FcgidMaxRequestsPerProcess', 'TAKE1', 'RSRC_CONF', 'Max requests handled by each fastcgi application'),
  readByHost('FcgidOutputBufferSize', 'TAKE1', 'RSRC_CONF', 'CGI output buffer size'),
  readByHost('FcgidPassHeader', 'TAKE1', 'RSRC_CONF', 'Header name which will be passed to FastCGI as environment variable.'),
  parsedOnly('FcgidFixPathinfo', 'TAKE1', 'RSRC_CONF', 'Set 1, if cgi.fix_pathinfo=1 in php.ini'),
  readByHost('FcgidProcessLifeTime', 'TAKE1', 'RSRC_CONF', 'fastcgi application lifetime'),
  parsedOnly('FcgidProcessTableFile', 'TAKE1', 'RSRC_CONF', 'fastcgi shared memory file path'),
  parsedOnly('FcgidIPCDir', 'TAKE1', 'RSRC_CONF', 'fastcgi socket file path'),
  readByHost('FcgidSpawnScore', 'TAKE1', 'RSRC_CONF', 'Score of spawn'),
  readByHost('FcgidSpawnScoreUpLimit', 'TAKE1', 'RSRC_CONF', 'Spawn score up limit'),
  readByHost('FcgidTerminationScore', 'TAKE1', 'RSRC_CONF', 'Score of termination'),
  readByHost('FcgidTimeScore', 'TAKE1', 'RSRC_CONF', 'Score of passage of time (in seconds)'),
  {
    name: 'FcgidWrapper',
    shape: 'TAKE123',
    override: 'RSRC_CONF|ACCESS_CONF|OR_FILEINFO',
    help: 'The CGI wrapper file an optional URL suffix and an optional flag',
    compile: wrapper,
  },
  parsedOnly('FcgidZombieScanInterval', 'TAKE1', 'RSRC_CONF', 'scan interval for zombie process'),
  parsedOnly('FcgidWin32PreventOrphans', 'FLAG', 'RSRC_CONF', 'Prevented fcgi process orphaning during Apache worker abrupt shutdowns [see documentation]'),
  parsedOnly('BusyScanInterval', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidBusyScanInterval' instead"),
  parsedOnly('BusyTimeout', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidBusyTimeout' instead"),
  parsedOnly('DefaultInitEnv', 'TAKE12', 'RSRC_CONF', "Deprecated - Use 'FcgidInitialEnv' instead"),
  parsedOnly('DefaultMaxClassProcessCount', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMaxProcessesPerClass' instead"),
  parsedOnly('DefaultMinClassProcessCount', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMinProcessesPerClass' instead"),
  parsedOnly('ErrorScanInterval', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidErrorScanInterval' instead"),
  { name: 'FastCgiAccessChecker', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: "Deprecated - Use 'FcgidAccessChecker' instead", compile: program('ACCESS_CHECKER') },
  {
    name: 'FastCgiAccessCheckerAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Deprecated - Use 'FcgidAccessCheckerAuthoritative' instead",
    compile: authoritative('ACCESS_CHECKER'),
  },
  { name: 'FastCgiAuthenticator', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: "Deprecated - Use 'FcgidAuthenticator' instead", compile: program('AUTHENTICATOR') },
  {
    name: 'FastCgiAuthenticatorAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Deprecated - Use 'FcgidAuthenticatorAuthoritative' instead",
    compile: authoritative('AUTHENTICATOR'),
  },
  { name: 'FastCgiAuthorizer', shape: 'TAKE1', override: 'ACCESS_CONF|OR_FILEINFO', help: "Deprecated - Use 'FcgidAuthorizer' instead", compile: program('AUTHORIZER') },
  {
    name: 'FastCgiAuthorizerAuthoritative',
    shape: 'FLAG',
    override: 'ACCESS_CONF|OR_FILEINFO',
    help: "Deprecated - Use 'FcgidAuthorizerAuthoritative' instead",
    compile: authoritative('AUTHORIZER'),
  },
  { name: 'FCGIWrapper', shape: 'TAKE123', override: 'RSRC_CONF|ACCESS_CONF|OR_FILEINFO', help: "Deprecated - Use 'FcgidWrapper' instead", compile: wrapper },
  parsedOnly('IdleScanInterval', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidIdleScanInterval' instead"),
  parsedOnly('IdleTimeout', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidIdleTimeout' instead"),
  parsedOnly('IPCCommTimeout', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidIOTimeout' instead"),
  parsedOnly('IPCConnectTimeout', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidConnectTimeout' instead"),
  parsedOnly('MaxProcessCount', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMaxProcesses' instead"),
  parsedOnly('MaxRequestInMem', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMaxRequestInMem' instead"),
  parsedOnly('MaxRequestLen', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMaxRequestLen' instead"),
  parsedOnly('MaxRequestsPerProcess', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidMaxRequestsPerProcess' instead"),
  parsedOnly('OutputBufferSize', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidOutputBufferSize' instead"),
  parsedOnly('PassHeader', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidPassHeader' instead"),
  parsedOnly('PHP_Fix_Pathinfo_Enable', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidFixPathinfo' instead"),
  parsedOnly('ProcessLifeTime', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidProcessLifeTime' instead"),
  parsedOnly('SharememPath', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidProcessTableFile' instead"),
  parsedOnly('SocketPath', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidIPCDir' instead"),
  parsedOnly('SpawnScore', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidSpawnScore' instead"),
  parsedOnly('SpawnScoreUpLimit', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidSpawnScoreUpLimit' instead"),
  parsedOnly('TerminationScore', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidTerminationScore' instead"),
  parsedOnly('TimeScore', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidTimeScore' instead"),
  parsedOnly('ZombieScanInterval', 'TAKE1', 'RSRC_CONF', "Deprecated - Use 'FcgidZombieScanInterval' instead"),
];

/** mod_fcgid as Apache loads it. */
export const fcgidModule: ModuleDefinition<FcgidDirConfig> = {
  name: 'fcgid',
  directives: DIRECTIVES,
  dirConfig: { empty: { fcgidAuth: {}, fcgidWrappers: new Map() }, merge: mergeFcgid },
  hooks: { access_checker: 'askFcgid', check_authn: 'askFcgid', check_authz: 'askFcgid', handler: 'dispatchHandler' },
};
