/**
 * mod_unixd (os/unix/unixd.c), built into httpd on Unix: the identity the server's children
 * run as. `User` and `Group` are read with the host configuration (src/grammar/host-config.ts)
 * for the scripts' identity; `ChrootDir` and `Suexec` are accepted and not reproduced.
 */
import { parsedOnly, readByHost, type ModuleDefinition } from './module.js';

/** mod_unixd as httpd builds it in. */
export const unixdModule: ModuleDefinition = {
  name: 'unixd',
  directives: [
    readByHost('User', 'TAKE1', 'RSRC_CONF', 'Effective user id for this server'),
    readByHost('Group', 'TAKE1', 'RSRC_CONF', 'Effective group id for this server'),
    parsedOnly('ChrootDir', 'TAKE1', 'RSRC_CONF', 'The directory to chroot(2) into'),
    parsedOnly('Suexec', 'FLAG', 'RSRC_CONF', 'Enable or disable suEXEC support'),
  ],
  hooks: {},
};
