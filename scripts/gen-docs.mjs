// Regenerates docs/errors.md, docs/directives.md and docs/cli.md from the built sources (run `npm run build` first).
import { writeFileSync } from 'node:fs';
// The modules' command tables make the directive registry.
import '../dist/modules/index.js';
import { renderErrorsMarkdown } from '../dist/vocabulary/catalog-docs.js';
import { renderDirectivesMarkdown } from '../dist/grammar/directive-docs.js';
import { renderCliMarkdown } from '../dist/cli/cli-docs.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsMarkdown());
writeFileSync(new URL('../docs/directives.md', import.meta.url), renderDirectivesMarkdown());
writeFileSync(new URL('../docs/cli.md', import.meta.url), await renderCliMarkdown());
