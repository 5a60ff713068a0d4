/**
 * Apache module names: `LoadModule` names a module by its symbol (`rewrite_module`),
 * `<IfModule>` accepts that or its source file name (`mod_rewrite.c`). Registry entries use
 * a short id (`rewrite`).
 */

/** Modules compiled into Debian's apache2 binary: always present. */
export const BUILT_IN_MODULES = ['core', 'http_core', 'so', 'unixd', 'log_config', 'logio', 'version', 'watchdog'] as const;

/** Our own directives are always known. */
export const HTSANDBOX_MODULE = 'htsandbox';

const SOURCE_NAMES: Record<string, string> = {
  core: 'core.c',
  http_core: 'http_core.c',
  mpm_event: 'event.c',
  mpm_worker: 'worker.c',
  mpm_prefork: 'prefork.c',
  php: 'mod_php.c',
};

/** `rewrite_module` → `rewrite`; undefined when the name is not a module symbol. */
export function moduleIdFromSymbol(symbol: string): string | undefined {
  const m = /^(\w+)_module$/.exec(symbol);
  if (!m) return undefined;
  const id = m[1]!;
  return /^php\d*$/.test(id) ? 'php' : id;
}

/** The names `<IfModule>` accepts for a module id. */
export function moduleNames(id: string): string[] {
  const names = [`${id}_module`, SOURCE_NAMES[id] ?? `mod_${id}.c`];
  if (id === 'php') names.push('php_module', 'php7_module', 'php5_module', 'mod_php7.c', 'mod_php5.c');
  return names;
}

/**
 * Handler names and the modules that provide them (any one of the list). A handler no loaded
 * module provides is left to core's default handler: the file is sent as it is.
 */
export const HANDLER_MODULES: ReadonlyMap<string, readonly string[]> = new Map([
  ['cgi-script', ['cgi', 'cgid']],
  ['application/x-httpd-cgi', ['cgi', 'cgid']],
  ['fcgid-script', ['fcgid']],
  ['server-status', ['status']],
  ['server-info', ['info']],
  ['send-as-is', ['asis']],
  ['type-map', ['negotiation']],
  ['imap-file', ['imagemap']],
  ['balancer-manager', ['proxy_balancer']],
  ['application/x-httpd-php', ['php']],
  ['application/x-httpd-php-source', ['php']],
  ['default-handler', ['core']],
]);
