/** Renders docs/directives.md from the directive registry. */
import { allDirectives, OR_AUTHCFG, OR_FILEINFO, OR_INDEXES, OR_LIMIT, OR_OPTIONS, ACCESS_CONF, RSRC_CONF } from './directive-registry.js';

function contexts(mask: number): string {
  const out: string[] = [];
  if (mask & RSRC_CONF) out.push('server');
  if (mask & ACCESS_CONF) out.push('directory');
  const classes: string[] = [];
  if (mask & OR_AUTHCFG) classes.push('AuthConfig');
  if (mask & OR_FILEINFO) classes.push('FileInfo');
  if (mask & OR_INDEXES) classes.push('Indexes');
  if (mask & OR_LIMIT) classes.push('Limit');
  if (mask & OR_OPTIONS) classes.push('Options');
  if (classes.length === 5) out.push('.htaccess (any AllowOverride)');
  else if (classes.length) out.push(`.htaccess (${classes.join(' or ')})`);
  return out.join(', ');
}

export function renderDirectivesMarkdown(): string {
  const rows = [...allDirectives()]
    .sort((a, b) => a.modules[0]!.localeCompare(b.modules[0]!) || a.name.localeCompare(b.name))
    .map(
      (d) =>
        `| \`${d.name.replace(/^</, '&lt;')}${d.name.startsWith('<') ? '&gt;' : ''}\` | ${d.modules.join(', ')} | ${d.shape} | ${contexts(d.override)} | ${d.emulated ? 'yes' : 'parsed only'} |`,
    );
  return [
    '# Directives',
    '',
    'Every directive htsandbox knows: the module that defines it, how Apache splits its',
    'arguments, and where it may appear. A directive of a module the host does not load is',
    '"Invalid command" (500), exactly as on the host. "parsed only" means htsandbox checks it',
    'as Apache does but does not reproduce its effect yet (`check --not-emulated` lists uses).',
    'Generated from `src/grammar/directive-registry.ts` by `npm run docs`; a test keeps it in sync.',
    '',
    '| directive | module | arguments | allowed in | emulated |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
