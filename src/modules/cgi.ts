/**
 * mod_cgi (modules/generators/mod_cgi.c), the CGI module of non-threaded MPMs: its command
 * table (`cgi_cmds[]`). The script-log directives it shares with mod_cgid live in cgid.ts
 * (one row each, valid when either module is loaded); `CGIScriptTimeout` is its own.
 */
import { scriptTimeoutDirective } from './cgid.js';
import type { ModuleDefinition } from './module.js';

/** mod_cgi as Apache loads it. */
export const cgiModule: ModuleDefinition = {
  name: 'cgi',
  directives: [scriptTimeoutDirective('CGIScriptTimeout')],
  hooks: { handler: 'runCgi' },
};
