/** Renders docs/errors.md and docs/directives.md from the catalog and the registry (kept in sync by tests). */
import { ERROR_CATALOG } from './error-catalog.js';

export function renderErrorsMarkdown(): string {
  const rows = [...ERROR_CATALOG.values()].map((e) => `| ${e.code} | ${e.severity} | ${e.status ?? ''} | ${e.summary.replace(/\|/g, '\\|')} |`);
  return [
    '# Error catalog',
    '',
    'Every diagnostic htsandbox prints carries one of these stable codes. `status` is what the',
    'host answers when the problem is met while serving a request. Generated from',
    '`src/vocabulary/error-catalog.ts` by `npm run docs`; a test fails when this file is stale.',
    '',
    '| code | severity | status | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
