// Regenerates docs/errors.md and docs/directives.md from the built sources (run `npm run build` first).
import { writeFileSync } from 'node:fs';
import { renderErrorsMarkdown } from '../dist/vocabulary/catalog-docs.js';
import { renderDirectivesMarkdown } from '../dist/grammar/directive-docs.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsMarkdown());
writeFileSync(new URL('../docs/directives.md', import.meta.url), renderDirectivesMarkdown());
