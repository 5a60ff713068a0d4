/**
 * http_core (modules/http/http_core.c), the HTTP protocol module built into httpd: its command
 * table (`http_cmds[]`), the connection's keep-alive settings. Server-level: the server reads
 * `KeepAliveTimeout` with the host configuration (src/server/site-context.ts) as
 * `set_keep_alive_timeout` reads it; `KeepAlive` and `MaxKeepAliveRequests` are accepted and
 * not reproduced.
 */
import { parseTimeoutParameter } from '../grammar/timeout-parameter.js';
import { finding, parsedOnly, refused, type ModuleDefinition } from './module.js';

/** `set_keep_alive_timeout`: the time in ms (seconds by default), undefined when Apache refuses it. */
export function parseKeepAliveTimeout(text: string): number | undefined {
  return parseTimeoutParameter(text, 's');
}

/** http_core as Apache builds it in. */
export const httpCoreModule: ModuleDefinition = {
  name: 'http_core',
  directives: [
    {
      name: 'KeepAliveTimeout',
      shape: 'TAKE1',
      override: 'RSRC_CONF',
      help: 'Keep-Alive timeout duration (sec)',
      compile: ({ words }) => (parseKeepAliveTimeout(words[0] ?? '') === undefined ? refused(finding('KeepAliveTimeout has wrong format')) : { findings: [], value: undefined }),
    },
    parsedOnly('MaxKeepAliveRequests', 'TAKE1', 'RSRC_CONF', 'Maximum number of Keep-Alive requests per connection, or 0 for infinite'),
    parsedOnly('KeepAlive', 'FLAG', 'RSRC_CONF', 'Whether persistent connections should be On or Off'),
  ],
  hooks: {},
};
