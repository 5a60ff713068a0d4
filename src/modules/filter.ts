/**
 * mod_filter (modules/filters/mod_filter.c): its command table. htsandbox runs no output filter
 * of its own choosing, so none of it is applied; `AddOutputFilterByType` and `FilterProvider`
 * are still checked as Apache checks them when it reads the line, since a provider no loaded
 * module registers makes the whole `.htaccess` a 500.
 */
import { finding, parsedOnly, refused, type DirectiveDefinition, type ModuleDefinition } from './module.js';

/**
 * Output filters each module registers (`ap_register_output_filter`), by module id; core's
 * are always there. mod_filter resolves a provider by these names, case-insensitively, when
 * it reads the line (`filter_provider`: "Unknown filter provider X"); a FilterDeclare'd name
 * is not one.
 */
const OUTPUT_FILTERS: Readonly<Record<string, readonly string[]>> = {
  core: ['core', 'subreq_core', 'content_length', 'old_write', 'http_header', 'http_outerror', 'byterange', 'chunk'],
  expires: ['mod_expires'],
  headers: ['fixup_headers_out', 'fixup_headers_err'],
  deflate: ['deflate', 'inflate'],
  include: ['includes'],
  substitute: ['substitute'],
  sed: ['sed'],
  ratelimit: ['rate_limit'],
  buffer: ['buffer'],
  data: ['data'],
  charset_lite: ['xlateout'],
  proxy_html: ['proxy-html'],
  xml2enc: ['xml2enc'],
};

function isOutputFilter(name: string, hasModule: (id: string) => boolean): boolean {
  const lower = name.toLowerCase();
  return Object.entries(OUTPUT_FILTERS).some(([m, names]) => (m === 'core' || hasModule(m)) && names.includes(lower));
}

/** mod_filter's `add_type_filter`: each `;`-separated name is a provider that must exist. */
const addOutputFilterByType: DirectiveDefinition<never>['compile'] = ({ words, hasModule }) => {
  for (const name of (words[0] ?? '').split(';')) {
    if (name !== '' && !isOutputFilter(name, hasModule)) {
      return refused(
        finding(
          `Unknown filter provider ${name}`,
          'HT105',
          hasModule('deflate')
            ? undefined
            : `${name} is not an output filter of this host (mod_deflate, mod_include … are not loaded): wrap the line in <IfModule mod_deflate.c> or remove it.`,
        ),
      );
    }
  }
  return { findings: [], value: undefined };
};

/** mod_filter's `filter_provider`: FilterProvider name provider expression. */
const filterProvider: DirectiveDefinition<never>['compile'] = ({ words, hasModule }) => {
  const provider = words[1] ?? '';
  if (!isOutputFilter(provider, hasModule)) return refused(finding(`Unknown filter provider ${provider}`));
  return { findings: [], value: undefined };
};

/** mod_filter as Apache loads it. */
export const filterModule: ModuleDefinition = {
  name: 'filter',
  directives: [
    parsedOnly('FilterDeclare', 'TAKE12', 'OR_OPTIONS', 'filter-name [filter-type]'),
    { ...parsedOnly('FilterProvider', 'TAKE3', 'OR_OPTIONS', 'filter-name provider-name match-expression'), compile: filterProvider },
    parsedOnly('FilterChain', 'ITERATE', 'OR_OPTIONS', 'list of filter names with optional [+-=!@]'),
    parsedOnly('FilterTrace', 'TAKE2', 'RSRC_CONF|ACCESS_CONF', 'filter-name debug-level'),
    { ...parsedOnly('AddOutputFilterByType', 'TAKE_ARGV', 'OR_FILEINFO', 'output filter name followed by one or more content-types'), compile: addOutputFilterByType },
    parsedOnly('FilterProtocol', 'TAKE23', 'OR_OPTIONS', 'filter-name [provider-name] protocol-args'),
  ],
  hooks: {},
};
