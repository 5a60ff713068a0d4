/**
 * mod_status (modules/generators/mod_status.c). Since 2.4 it has no directives of its own
 * (`ExtendedStatus` and `SeeRequestTail` are core's); it is the `server-status` handler,
 * htsandbox's status page (src/server/status-page.ts). On the Scripts host its handler
 * ignores `SetHandler server-status` in `.htaccess` (src/engine/resolve.ts says why).
 */
import type { ModuleDefinition } from './module.js';

/** mod_status as Apache loads it. */
export const statusModule: ModuleDefinition = {
  name: 'status',
  directives: [],
  hooks: { handler: 'sendStatusPage' },
};
