/**
 * mod_unixd (os/unix/unixd.c), built into httpd on Unix: the identity the server's children
 * run as. `User` and `Group` are read with the host configuration (src/grammar/host-config.ts)
 * for the scripts' identity; `ChrootDir` and `Suexec` are accepted and not reproduced.
 */
import { parsedOnly, type DirectiveDefinition, type ModuleDefinition } from './module.js';

/** A directive the host configuration reads: nothing to compile per line. */
const hostLevel = (name: string, help: string): DirectiveDefinition<never> => ({
  name,
  shape: 'TAKE1',
  override: 'RSRC_CONF',
  help,
  compile: () => ({ findings: [], value: undefined }),
});

/** mod_unixd as httpd builds it in. */
export const unixdModule: ModuleDefinition = {
  name: 'unixd',
  directives: [
    hostLevel('User', 'Effective user id for this server'),
    hostLevel('Group', 'Effective group id for this server'),
    parsedOnly('ChrootDir', 'TAKE1', 'RSRC_CONF', 'The directory to chroot(2) into'),
    parsedOnly('Suexec', 'FLAG', 'RSRC_CONF', 'Enable or disable suEXEC support'),
  ],
  hooks: {},
};
