/**
 * Modules whose directives htsandbox accepts as Apache accepts them (their command tables:
 * names, argument shapes, where allowed, help) without applying them: `check` says "accepted
 * by the host but not emulated". One file for all of them, grouped by module, since each is a
 * table and nothing else (no configuration slice, no hook); a module that starts being
 * emulated moves to a file of its own.
 */
import { parsedOnly, type ModuleDefinition } from './module.js';

/** mod_log_config (modules/loggers/mod_log_config.c): htsandbox writes its own access log (`serve --access-log`). */
export const logConfigModule: ModuleDefinition = {
  name: 'log_config',
  directives: [
    parsedOnly('CustomLog', 'TAKE23', 'RSRC_CONF', 'a file name, a custom log format string or format name, and an optional "env=" or "expr=" clause (see docs)'),
    parsedOnly('GlobalLog', 'TAKE23', 'RSRC_CONF', 'Same as CustomLog, but forces virtualhosts to inherit the log'),
    parsedOnly('TransferLog', 'TAKE1', 'RSRC_CONF', 'the filename of the access log'),
    parsedOnly('LogFormat', 'TAKE12', 'RSRC_CONF', 'a log format string (see docs) and an optional format name'),
    parsedOnly('BufferedLogs', 'FLAG', 'RSRC_CONF', 'Enable Buffered Logging (experimental)'),
  ],
  hooks: {},
};

/** mod_logio (modules/loggers/mod_logio.c). */
export const logioModule: ModuleDefinition = {
  name: 'logio',
  directives: [parsedOnly('LogIOTrackTTFB', 'FLAG', 'OR_ALL', "Set to 'ON' to enable tracking time to first byte")],
  hooks: {},
};

/** mod_watchdog (modules/core/mod_watchdog.c). */
export const watchdogModule: ModuleDefinition = {
  name: 'watchdog',
  directives: [parsedOnly('WatchdogInterval', 'TAKE1', 'RSRC_CONF', 'Watchdog interval in seconds')],
  hooks: {},
};

/** mod_actions (modules/mappers/mod_actions.c). */
export const actionsModule: ModuleDefinition = {
  name: 'actions',
  directives: [
    parsedOnly('Action', 'TAKE23', 'OR_FILEINFO', 'a media type followed by a script name'),
    parsedOnly('Script', 'TAKE2', 'ACCESS_CONF|RSRC_CONF', 'a method followed by a script name'),
  ],
  hooks: {},
};

/** mpm_event (server/mpm/event/event.c) and the listen directives (server/listen.c) it takes. */
export const mpmEventModule: ModuleDefinition = {
  name: 'mpm_event',
  directives: [
    parsedOnly('StartServers', 'TAKE1', 'RSRC_CONF', 'Number of child processes launched at server startup'),
    parsedOnly('ServerLimit', 'TAKE1', 'RSRC_CONF', 'Maximum number of child processes for this run of Apache'),
    parsedOnly('MinSpareThreads', 'TAKE1', 'RSRC_CONF', 'Minimum number of idle threads, to handle request spikes'),
    parsedOnly('MaxSpareThreads', 'TAKE1', 'RSRC_CONF', 'Maximum number of idle threads'),
    parsedOnly('MaxClients', 'TAKE1', 'RSRC_CONF', 'Deprecated name of MaxRequestWorkers'),
    parsedOnly('MaxRequestWorkers', 'TAKE1', 'RSRC_CONF', 'Maximum number of threads alive at the same time'),
    parsedOnly('ThreadsPerChild', 'TAKE1', 'RSRC_CONF', 'Number of threads each child creates'),
    parsedOnly('ThreadLimit', 'TAKE1', 'RSRC_CONF', 'Maximum number of worker threads per child process for this run of Apache - Upper limit for ThreadsPerChild'),
    parsedOnly('AsyncRequestWorkerFactor', 'TAKE1', 'RSRC_CONF', 'How many additional connects will be accepted per idle worker thread'),
    parsedOnly('Listen', 'TAKE_ARGV', 'RSRC_CONF', 'A port number or a numeric IP address and a port number, and an optional protocol'),
    parsedOnly('ListenBacklog', 'TAKE1', 'RSRC_CONF', 'Maximum length of the queue of pending connections, as used by listen(2)'),
    parsedOnly('ListenCoresBucketsRatio', 'TAKE1', 'RSRC_CONF', 'Ratio between the number of CPU cores (online) and the number of listeners buckets'),
    parsedOnly('SendBufferSize', 'TAKE1', 'RSRC_CONF', 'Send buffer size in bytes'),
    parsedOnly('ReceiveBufferSize', 'TAKE1', 'RSRC_CONF', 'Receive buffer size in bytes'),
  ],
  hooks: {},
};

/** mod_negotiation (modules/mappers/mod_negotiation.c). */
export const negotiationModule: ModuleDefinition = {
  name: 'negotiation',
  directives: [
    parsedOnly('CacheNegotiatedDocs', 'FLAG', 'RSRC_CONF', "Either 'on' or 'off' (default)"),
    parsedOnly('LanguagePriority', 'ITERATE', 'OR_FILEINFO', 'space-delimited list of MIME language abbreviations'),
    parsedOnly('ForceLanguagePriority', 'ITERATE', 'OR_FILEINFO', 'Force LanguagePriority elections, either None, or Fallback and/or Prefer'),
  ],
  hooks: {},
};

/** mod_include (modules/filters/mod_include.c). */
export const includeModule: ModuleDefinition = {
  name: 'include',
  directives: [
    parsedOnly('XBitHack', 'TAKE1', 'OR_OPTIONS', 'Off, On, or Full'),
    parsedOnly('SSIErrorMsg', 'TAKE1', 'OR_ALL', 'a string'),
    parsedOnly('SSITimeFormat', 'TAKE1', 'OR_ALL', 'a strftime(3) formatted string'),
    parsedOnly('SSIStartTag', 'TAKE1', 'RSRC_CONF', 'SSI Start String Tag'),
    parsedOnly('SSIEndTag', 'TAKE1', 'RSRC_CONF', 'SSI End String Tag'),
    parsedOnly('SSIUndefinedEcho', 'TAKE1', 'OR_ALL', 'String to be displayed if an echoed variable is undefined'),
    parsedOnly('SSILegacyExprParser', 'FLAG', 'OR_LIMIT', "Whether to use the legacy expression parser compatible with <= 2.2.x. Limited to 'on' or 'off'"),
    parsedOnly('SSILastModified', 'FLAG', 'OR_LIMIT', "Whether to set the last modified header or respect an existing header. Limited to 'on' or 'off'"),
    parsedOnly('SSIEtag', 'FLAG', 'OR_LIMIT', "Whether to allow the generation of ETags within the server. Existing ETags will be preserved. Limited to 'on' or 'off'"),
  ],
  hooks: {},
};

/** mod_deflate (modules/filters/mod_deflate.c). */
export const deflateModule: ModuleDefinition = {
  name: 'deflate',
  directives: [
    parsedOnly('DeflateFilterNote', 'TAKE12', 'RSRC_CONF', 'Set a note to report on compression ratio'),
    parsedOnly('DeflateWindowSize', 'TAKE1', 'RSRC_CONF', 'Set the Deflate window size (1-15)'),
    parsedOnly('DeflateBufferSize', 'TAKE1', 'RSRC_CONF', 'Set the Deflate Buffer Size'),
    parsedOnly('DeflateMemLevel', 'TAKE1', 'RSRC_CONF', 'Set the Deflate Memory Level (1-9)'),
    parsedOnly('DeflateCompressionLevel', 'TAKE1', 'RSRC_CONF', 'Set the Deflate Compression Level (1-9)'),
    parsedOnly('DeflateInflateLimitRequestBody', 'TAKE1', 'OR_ALL', 'Set a limit on size of inflated input'),
    parsedOnly('DeflateInflateRatioLimit', 'TAKE1', 'OR_ALL', 'Set the inflate ratio limit above which inflation is aborted (default: )'),
    parsedOnly('DeflateInflateRatioBurst', 'TAKE1', 'OR_ALL', 'Set the maximum number of following inflate ratios above limit (default: )'),
    parsedOnly('DeflateAlterEtag', 'TAKE1', 'RSRC_CONF', "Set how mod_deflate should modify ETAG response headers: 'AddSuffix' (default), 'NoChange' (2.2.x behavior), 'Remove'"),
  ],
  hooks: {},
};

/** mod_auth_digest (modules/aaa/mod_auth_digest.c); its AuthName is authn_core's row. */
export const authDigestModule: ModuleDefinition = {
  name: 'auth_digest',
  directives: [
    parsedOnly('AuthDigestProvider', 'ITERATE', 'OR_AUTHCFG', 'specify the auth providers for a directory or location'),
    parsedOnly('AuthDigestQop', 'ITERATE', 'OR_AUTHCFG', 'A list of quality-of-protection options'),
    parsedOnly('AuthDigestNonceLifetime', 'TAKE1', 'OR_AUTHCFG', 'Maximum lifetime of the server nonce (seconds)'),
    parsedOnly('AuthDigestNonceFormat', 'TAKE1', 'OR_AUTHCFG', 'The format to use when generating the server nonce'),
    parsedOnly('AuthDigestNcCheck', 'FLAG', 'OR_AUTHCFG', 'Whether or not to check the nonce-count sent by the client'),
    parsedOnly('AuthDigestAlgorithm', 'TAKE1', 'OR_AUTHCFG', 'The algorithm used for the hash calculation'),
    parsedOnly('AuthDigestDomain', 'ITERATE', 'OR_AUTHCFG', "A list of URI's which belong to the same protection space as the current URI"),
    parsedOnly('AuthDigestShmemSize', 'TAKE1', 'RSRC_CONF', 'The amount of shared memory to allocate for keeping track of clients'),
  ],
  hooks: {},
};

/** mod_authn_anon (modules/aaa/mod_authn_anon.c). */
export const authnAnonModule: ModuleDefinition = {
  name: 'authn_anon',
  directives: [
    parsedOnly('Anonymous', 'ITERATE', 'OR_AUTHCFG', 'a space-separated list of user IDs'),
    parsedOnly('Anonymous_MustGiveEmail', 'FLAG', 'OR_AUTHCFG', "Limited to 'on' or 'off'"),
    parsedOnly('Anonymous_NoUserId', 'FLAG', 'OR_AUTHCFG', "Limited to 'on' or 'off'"),
    parsedOnly('Anonymous_VerifyEmail', 'FLAG', 'OR_AUTHCFG', "Limited to 'on' or 'off'"),
    parsedOnly('Anonymous_LogEmail', 'FLAG', 'OR_AUTHCFG', "Limited to 'on' or 'off'"),
  ],
  hooks: {},
};

/** mod_php (sapi/apache2handler): the host runs PHP as CGI, so it is not loaded and `check` says so. */
export const phpModule: ModuleDefinition = {
  name: 'php',
  directives: [
    parsedOnly('php_value', 'TAKE2', 'OR_OPTIONS', 'PHP Value Modifier'),
    parsedOnly('php_flag', 'TAKE2', 'OR_OPTIONS', 'PHP Flag Modifier'),
    parsedOnly('php_admin_value', 'TAKE2', 'ACCESS_CONF|RSRC_CONF', 'PHP Value Modifier (Admin)'),
    parsedOnly('php_admin_flag', 'TAKE2', 'ACCESS_CONF|RSRC_CONF', 'PHP Flag Modifier (Admin)'),
  ],
  hooks: {},
};

/** mod_ssl (modules/ssl/ssl_engine_config.c), its per-directory directives. */
export const sslModule: ModuleDefinition = {
  name: 'ssl',
  directives: [
    parsedOnly('SSLRequireSSL', 'NO_ARGS', 'OR_AUTHCFG', "Require the SSL protocol for the per-directory context (`SSLv2|SSLv3|TLSv1')"),
    parsedOnly('SSLRequire', 'RAW_ARGS', 'OR_AUTHCFG', 'Require a boolean expression to evaluate to true for granting access(arbitrary complex boolean expression - see manual)'),
    parsedOnly('SSLOptions', 'RAW_ARGS', 'OR_OPTIONS', "Set one or more options to configure the SSL engine(`[+-]option[=value] ...' - see manual)"),
    parsedOnly('SSLVerifyClient', 'TAKE1', 'RSRC_CONF|OR_AUTHCFG', "SSL Client verify type (`none', `optional', `require', `optional_no_ca')"),
    parsedOnly('SSLVerifyDepth', 'TAKE1', 'RSRC_CONF|OR_AUTHCFG', "SSL Client verify depth (`N' - number of intermediate certificates)"),
    parsedOnly('SSLRenegBufferSize', 'TAKE1', 'OR_AUTHCFG', "Size of the renegotiation buffer (`N' - number of bytes)"),
  ],
  hooks: {},
};

/** mod_auth_sslcert (third-party). */
export const authSslcertModule: ModuleDefinition = {
  name: 'auth_sslcert',
  directives: [
    parsedOnly('AuthSSLCertVar', 'TAKE1', 'OR_AUTHCFG', 'SSL variable to use as the username'),
    parsedOnly('AuthSSLCertStripSuffix', 'TAKE1', 'OR_AUTHCFG', 'An optional suffix to strip from the username'),
    parsedOnly('AuthSSLCertStripSuffixRequired', 'FLAG', 'OR_AUTHCFG', "Set to 'On' to only allow usernames that end with the suffix"),
    parsedOnly(
      'AuthSSLCertAuthoritative',
      'FLAG',
      'OR_AUTHCFG',
      "Set to 'Off' to allow access control to be passed along to lower modules if the UserID is not known to this module",
    ),
  ],
  hooks: {},
};

/** mod_auth_optional (third-party). */
export const authOptionalModule: ModuleDefinition = {
  name: 'auth_optional',
  directives: [
    parsedOnly('AuthOptional', 'FLAG', 'OR_AUTHCFG', 'Make authentication optional'),
    parsedOnly('AuthOptionalDefaultUser', 'TAKE1', 'OR_AUTHCFG', 'Default username for optional authentication'),
  ],
  hooks: {},
};
