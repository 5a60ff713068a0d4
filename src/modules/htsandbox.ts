/**
 * htsandbox's own directives, which no Apache module has: FastCGI connection reuse and
 * multiplexing, mod_fcgid's sleep when every process is busy, and replacing processes whose
 * script changed. The server-wide ones are read with the host configuration
 * (src/server/site-context.ts); `HtsandboxFcgidMultiplex` may also be set per directory (an
 * `.htaccess` wraps it in `<IfDirective HtsandboxFcgidMultiplex>`, which the host skips).
 */
import { compileFlag, readByHost, type CompiledLine, type ModuleDefinition } from './module.js';

/** htsandbox's slice of the per-directory configuration. */
export interface HtsandboxDirConfig {
  /** `HtsandboxFcgidMultiplex On`: this script's processes may share a connection. Default off. */
  fcgidMultiplex: boolean;
}

/** The nearest level's line wins. */
function mergeHtsandbox(_base: Readonly<HtsandboxDirConfig>, lines: readonly CompiledLine[]): Partial<HtsandboxDirConfig> {
  return { fcgidMultiplex: lines[lines.length - 1]!.value as boolean };
}

/** htsandbox, listed like a module so that `<IfModule>`/`<IfDirective>` and `check` know it. */
export const htsandboxModule: ModuleDefinition<HtsandboxDirConfig> = {
  name: 'htsandbox',
  directives: [
    readByHost('HtsandboxFcgidKeepConn', 'FLAG', 'RSRC_CONF', 'reuse one FastCGI connection per process (htsandbox)'),
    {
      name: 'HtsandboxFcgidMultiplex',
      shape: 'FLAG',
      override: 'RSRC_CONF|ACCESS_CONF|OR_FILEINFO',
      help: 'multiplex requests on one FastCGI connection, if the application can (htsandbox; in .htaccess wrap it in <IfDirective HtsandboxFcgidMultiplex>)',
      compile: compileFlag,
    },
    readByHost('HtsandboxFcgidSleepQuirk', 'FLAG', 'RSRC_CONF', 'sleep like mod_fcgid when every process is busy (htsandbox)'),
    readByHost('HtsandboxReloadOnChange', 'FLAG', 'RSRC_CONF', 'replace FastCGI processes when their script changes (htsandbox)'),
  ],
  dirConfig: { empty: { fcgidMultiplex: false }, merge: mergeHtsandbox },
  hooks: {},
};
