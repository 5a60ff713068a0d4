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
import type { CompiledLine, DirectiveDefinition, ModuleDefinition } from './module.js';

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

/** A server-wide directive: accepted here, read with the host configuration. */
const serverWide: DirectiveDefinition<never>['compile'] = () => ({ findings: [], value: undefined });

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
  { name: 'FcgidBusyScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: 'scan interval for busy timeout process', compile: serverWide },
  { name: 'FcgidBusyTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: 'a fastcgi application will be killed after handling a request for BusyTimeout', compile: serverWide },
  { name: 'FcgidCmdOptions', shape: 'RAW_ARGS', override: 'RSRC_CONF', help: 'set processing options for a FastCGI command', compile: serverWide },
  { name: 'FcgidInitialEnv', shape: 'TAKE12', override: 'RSRC_CONF', help: 'an environment variable name and optional value to pass to FastCGI.', compile: serverWide },
  { name: 'FcgidMaxProcessesPerClass', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Max process count of one class of fastcgi application', compile: serverWide },
  { name: 'FcgidMinProcessesPerClass', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Min process count of one class of fastcgi application', compile: serverWide },
  { name: 'FcgidErrorScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: 'scan interval for exited process', compile: serverWide, parsedOnly: true },
  { name: 'FcgidIdleScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: 'scan interval for idle timeout process', compile: serverWide },
  { name: 'FcgidIdleTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: 'an idle fastcgi application will be killed after IdleTimeout', compile: serverWide },
  { name: 'FcgidIOTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Communication timeout to fastcgi server', compile: serverWide },
  { name: 'FcgidConnectTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Connect timeout to fastcgi server', compile: serverWide, parsedOnly: true },
  { name: 'FcgidMaxProcesses', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Max total process count', compile: serverWide },
  { name: 'FcgidMaxRequestInMem', shape: 'TAKE1', override: 'RSRC_CONF', help: 'The part of HTTP request which greater than this limit will swap to disk', compile: serverWide },
  { name: 'FcgidMaxRequestLen', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Max HTTP request length in byte', compile: serverWide },
  { name: 'FcgidMaxRequestsPerProcess', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Max requests handled by each fastcgi application', compile: serverWide },
  { name: 'FcgidOutputBufferSize', shape: 'TAKE1', override: 'RSRC_CONF', help: 'CGI output buffer size', compile: serverWide },
  { name: 'FcgidPassHeader', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Header name which will be passed to FastCGI as environment variable.', compile: serverWide },
  { name: 'FcgidFixPathinfo', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Set 1, if cgi.fix_pathinfo=1 in php.ini', compile: serverWide, parsedOnly: true },
  { name: 'FcgidProcessLifeTime', shape: 'TAKE1', override: 'RSRC_CONF', help: 'fastcgi application lifetime', compile: serverWide },
  { name: 'FcgidProcessTableFile', shape: 'TAKE1', override: 'RSRC_CONF', help: 'fastcgi shared memory file path', compile: serverWide, parsedOnly: true },
  { name: 'FcgidIPCDir', shape: 'TAKE1', override: 'RSRC_CONF', help: 'fastcgi socket file path', compile: serverWide, parsedOnly: true },
  { name: 'FcgidSpawnScore', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Score of spawn', compile: serverWide },
  { name: 'FcgidSpawnScoreUpLimit', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Spawn score up limit', compile: serverWide },
  { name: 'FcgidTerminationScore', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Score of termination', compile: serverWide },
  { name: 'FcgidTimeScore', shape: 'TAKE1', override: 'RSRC_CONF', help: 'Score of passage of time (in seconds)', compile: serverWide },
  {
    name: 'FcgidWrapper',
    shape: 'TAKE123',
    override: 'RSRC_CONF|ACCESS_CONF|OR_FILEINFO',
    help: 'The CGI wrapper file an optional URL suffix and an optional flag',
    compile: wrapper,
  },
  { name: 'FcgidZombieScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: 'scan interval for zombie process', compile: serverWide, parsedOnly: true },
  {
    name: 'FcgidWin32PreventOrphans',
    shape: 'FLAG',
    override: 'RSRC_CONF',
    help: 'Prevented fcgi process orphaning during Apache worker abrupt shutdowns [see documentation]',
    compile: serverWide,
    parsedOnly: true,
  },
  { name: 'BusyScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidBusyScanInterval' instead", compile: serverWide, parsedOnly: true },
  { name: 'BusyTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidBusyTimeout' instead", compile: serverWide, parsedOnly: true },
  { name: 'DefaultInitEnv', shape: 'TAKE12', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidInitialEnv' instead", compile: serverWide, parsedOnly: true },
  {
    name: 'DefaultMaxClassProcessCount',
    shape: 'TAKE1',
    override: 'RSRC_CONF',
    help: "Deprecated - Use 'FcgidMaxProcessesPerClass' instead",
    compile: serverWide,
    parsedOnly: true,
  },
  {
    name: 'DefaultMinClassProcessCount',
    shape: 'TAKE1',
    override: 'RSRC_CONF',
    help: "Deprecated - Use 'FcgidMinProcessesPerClass' instead",
    compile: serverWide,
    parsedOnly: true,
  },
  { name: 'ErrorScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidErrorScanInterval' instead", compile: serverWide, parsedOnly: true },
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
  { name: 'IdleScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidIdleScanInterval' instead", compile: serverWide, parsedOnly: true },
  { name: 'IdleTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidIdleTimeout' instead", compile: serverWide, parsedOnly: true },
  { name: 'IPCCommTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidIOTimeout' instead", compile: serverWide, parsedOnly: true },
  { name: 'IPCConnectTimeout', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidConnectTimeout' instead", compile: serverWide, parsedOnly: true },
  { name: 'MaxProcessCount', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidMaxProcesses' instead", compile: serverWide, parsedOnly: true },
  { name: 'MaxRequestInMem', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidMaxRequestInMem' instead", compile: serverWide, parsedOnly: true },
  { name: 'MaxRequestLen', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidMaxRequestLen' instead", compile: serverWide, parsedOnly: true },
  { name: 'MaxRequestsPerProcess', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidMaxRequestsPerProcess' instead", compile: serverWide, parsedOnly: true },
  { name: 'OutputBufferSize', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidOutputBufferSize' instead", compile: serverWide, parsedOnly: true },
  { name: 'PassHeader', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidPassHeader' instead", compile: serverWide, parsedOnly: true },
  { name: 'PHP_Fix_Pathinfo_Enable', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidFixPathinfo' instead", compile: serverWide, parsedOnly: true },
  { name: 'ProcessLifeTime', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidProcessLifeTime' instead", compile: serverWide, parsedOnly: true },
  { name: 'SharememPath', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidProcessTableFile' instead", compile: serverWide, parsedOnly: true },
  { name: 'SocketPath', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidIPCDir' instead", compile: serverWide, parsedOnly: true },
  { name: 'SpawnScore', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidSpawnScore' instead", compile: serverWide, parsedOnly: true },
  { name: 'SpawnScoreUpLimit', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidSpawnScoreUpLimit' instead", compile: serverWide, parsedOnly: true },
  { name: 'TerminationScore', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidTerminationScore' instead", compile: serverWide, parsedOnly: true },
  { name: 'TimeScore', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidTimeScore' instead", compile: serverWide, parsedOnly: true },
  { name: 'ZombieScanInterval', shape: 'TAKE1', override: 'RSRC_CONF', help: "Deprecated - Use 'FcgidZombieScanInterval' instead", compile: serverWide, parsedOnly: true },
];

/** mod_fcgid as Apache loads it. */
export const fcgidModule: ModuleDefinition<FcgidDirConfig> = {
  name: 'fcgid',
  directives: DIRECTIVES,
  dirConfig: { empty: { fcgidAuth: {}, fcgidWrappers: new Map() }, merge: mergeFcgid },
  hooks: { access_checker: 'askFcgid', check_authn: 'askFcgid', check_authz: 'askFcgid', handler: 'dispatchHandler' },
};
