/**
 * mod_version (modules/metadata/mod_version.c), built into Debian's httpd: the `<IfVersion>`
 * section, which the configuration reader evaluates as it reads (EXEC_ON_READ) against the
 * emulated host's version (src/grammar/conditional-sections.ts), splicing in its body when it holds.
 */
import { readByHost, type ModuleDefinition } from './module.js';

/** mod_version as Apache loads it. */
export const versionModule: ModuleDefinition = {
  name: 'version',
  directives: [readByHost('<IfVersion', 'TAKE123', 'EXEC_ON_READ|OR_ALL', 'a comparison operator, a version (and a delimiter)')],
  hooks: {},
};
