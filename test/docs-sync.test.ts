/** docs/errors.md, docs/directives.md and docs/cli.md are generated; a stale copy fails here. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderDirectivesMarkdown } from '../src/grammar/directive-docs.js';
import { renderErrorsMarkdown } from '../src/vocabulary/catalog-docs.js';
import { renderCliMarkdown } from '../src/cli/cli-docs.js';
import { ERROR_CATALOG } from '../src/vocabulary/error-catalog.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';

const read = (p: string): string => readFileSync(join(PROJECT_ROOT, p), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('generated documentation', () => {
  it('docs/errors.md matches the error catalog (run npm run docs)', () => {
    expect(read('docs/errors.md')).toBe(renderErrorsMarkdown());
  });
  it('docs/directives.md matches the registry (run npm run docs)', () => {
    expect(read('docs/directives.md')).toBe(renderDirectivesMarkdown());
  });
  it("docs/cli.md matches the commands' own --help (run npm run docs)", async () => {
    expect(read('docs/cli.md')).toBe(await renderCliMarkdown());
  });
  it('every catalog code has a hint (what to do), shown with every finding of that code', () => {
    const missing = [...ERROR_CATALOG].filter(([, e]) => !e.hint).map(([code]) => code);
    expect(missing).toEqual([]);
  });
  it('every HTnnn code used in src/ is in the catalog', () => {
    const used = new Set<string>();
    for (const f of sourceFiles(join(PROJECT_ROOT, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(HT\d{3})'/g)) used.add(m[1]!);
    }
    for (const code of used) expect(ERROR_CATALOG.has(code as never), code).toBe(true);
  });
});
