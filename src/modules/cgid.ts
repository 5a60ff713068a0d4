/**
 * mod_cgid (modules/generators/mod_cgid.c), the CGI module of Debian's threaded MPMs: its
 * command table (`cgid_cmds[]`). Its handler (`cgid_handler`) is htsandbox's CGI runner
 * (src/server/cgi-handler.ts), which reads `Timeout`; the script log, the daemon's socket and
 * `CGIDScriptTimeout` are accepted as Apache accepts them and not reproduced. All but
 * `CGIDScriptTimeout` are server-only, so an `.htaccess` gets "not allowed here".
 */
import { parseTimeoutParameter } from '../grammar/timeout-parameter.js';
import { finding, parsedOnly, refused, type DirectiveDefinition, type ModuleDefinition } from './module.js';

/** `set_script_timeout`: the value must be what ap_timeout_parameter_parse reads (seconds by default). */
export function scriptTimeoutDirective(name: string): DirectiveDefinition<never> {
  return {
    name,
    shape: 'TAKE1',
    override: 'RSRC_CONF|ACCESS_CONF',
    help: 'The amount of time to wait between successful reads from the CGI script, in seconds.',
    compile: ({ words }) => (parseTimeoutParameter(words[0] ?? '') === undefined ? refused(finding(`${name} has wrong format`)) : { findings: [], value: undefined }),
    parsedOnly: true,
  };
}

/** mod_cgid and mod_cgi define the script-log directives alike; either one loaded makes them valid. */
const scriptLog = (name: string, help: string): DirectiveDefinition => ({ ...parsedOnly(name, 'TAKE1', 'RSRC_CONF', help), alsoDefinedBy: ['cgi'] });

/** mod_cgid as Apache loads it. */
export const cgidModule: ModuleDefinition = {
  name: 'cgid',
  directives: [
    scriptLog('ScriptLog', 'the name of a log for script debugging info'),
    scriptLog('ScriptLogLength', 'the maximum length (in bytes) of the script debug log'),
    scriptLog('ScriptLogBuffer', 'the maximum size (in bytes) to record of a POST request'),
    parsedOnly('ScriptSock', 'TAKE1', 'RSRC_CONF', 'the name of the socket to use for communication with the cgi daemon.'),
    scriptTimeoutDirective('CGIDScriptTimeout'),
  ],
  hooks: { handler: 'runCgi' },
};
