/**
 * mod_so (modules/core/mod_so.c), built into httpd: `LoadModule` and `LoadFile`. The
 * configuration reader acts on `LoadModule` as Apache does while it reads (EXEC_ON_READ): a
 * module counts for `<IfModule>` and its directives from that line on (src/grammar/parser.ts,
 * host-config.ts). `LoadFile` is accepted and not reproduced.
 */
import { parsedOnly, readByHost, type ModuleDefinition } from './module.js';

/** mod_so as httpd builds it in. */
export const soModule: ModuleDefinition = {
  name: 'so',
  directives: [
    readByHost('LoadModule', 'TAKE2', 'RSRC_CONF|EXEC_ON_READ', 'a module name and the name of a shared object file to load it from'),
    parsedOnly('LoadFile', 'ITERATE', 'RSRC_CONF|EXEC_ON_READ', 'shared object file or library to load into the server at runtime'),
  ],
  hooks: {},
};
