/**
 * The directives of modules not yet given a home of their own in `src/modules/`: their
 * command-table rows and which of them htsandbox emulates (through `src/engine/` and
 * `src/server/` directly). This table only shrinks: a module that moves to its own file takes
 * its rows along, and `src/modules/index.ts` builds the registry from both.
 */
import type { ArgShape } from '../grammar/directive-registry.js';

/** One row: name, defining modules (`a|b`), argument shape, override mask as C writes it, help. */
type Row = [name: string, modules: string, shape: ArgShape, override: string, help: string];

// Generated from the command tables of httpd 2.4.x: what is left are mod_rewrite's, mod_cgid's,
// mod_cgi's and mod_userdir's rows.
export const LEGACY_ROWS: readonly Row[] = [
  ['ScriptLog', 'cgid|cgi', 'TAKE1', 'RSRC_CONF', 'the name of a log for script debugging info'],
  ['ScriptLogLength', 'cgid|cgi', 'TAKE1', 'RSRC_CONF', 'the maximum length (in bytes) of the script debug log'],
  ['ScriptLogBuffer', 'cgid|cgi', 'TAKE1', 'RSRC_CONF', 'the maximum size (in bytes) to record of a POST request'],
  ['ScriptSock', 'cgid', 'TAKE1', 'RSRC_CONF', 'the name of the socket to use for communication with the cgi daemon.'],
  ['CGIDScriptTimeout', 'cgid', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'The amount of time to wait between successful reads from the CGI script, in seconds.'],
  ['RewriteEngine', 'rewrite', 'FLAG', 'OR_FILEINFO', 'On or Off to enable or disable (default) the whole rewriting engine'],
  ['RewriteOptions', 'rewrite', 'ITERATE', 'OR_FILEINFO', 'List of option strings to set'],
  ['RewriteBase', 'rewrite', 'TAKE1', 'OR_FILEINFO', 'the base URL of the per-directory context'],
  ['RewriteCond', 'rewrite', 'RAW_ARGS', 'OR_FILEINFO', 'an input string and a to be applied regexp-pattern'],
  ['RewriteRule', 'rewrite', 'RAW_ARGS', 'OR_FILEINFO', 'an URL-applied regexp-pattern and a substitution URL'],
  ['RewriteMap', 'rewrite', 'TAKE23', 'RSRC_CONF', 'a mapname and a filename and options'],
  ['CGIScriptTimeout', 'cgi', 'TAKE1', 'RSRC_CONF|ACCESS_CONF', 'The amount of time to wait between successful reads from the CGI script, in seconds.'],
  [
    'UserDir',
    'userdir',
    'RAW_ARGS',
    'RSRC_CONF',
    "the public subdirectory in users' home directories, or 'disabled', or 'disabled username username...', or 'enabled username username...'",
  ],
];

/**
 * Directives whose effect htsandbox reproduces. Everything else a loaded module defines is
 * accepted like Apache accepts it, and `check` says it is not emulated.
 */
export const LEGACY_EMULATED: ReadonlySet<string> = new Set<string>(['rewriteengine', 'rewritebase', 'rewritecond', 'rewriterule', 'rewriteoptions', 'rewritemap']);
