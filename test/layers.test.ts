/**
 * The house's layers (docs/architecture in ../shared/docs/style.md): vocabulary → grammar →
 * modules → engine → adapters → server → cli. A lower layer never imports a higher one, and
 * the pure layers (vocabulary, grammar, modules, engine) touch no I/O module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/private-apache.js';

const LAYERS = ['vocabulary', 'grammar', 'modules', 'engine', 'adapters', 'server', 'cli'];
const IO_MODULES = /^node:(fs|net|http|https|child_process|dgram|tls|cluster|worker_threads)(\/|$)/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('layering', () => {
  const src = join(PROJECT_ROOT, 'src');
  for (const file of files(src)) {
    const rel = relative(src, file);
    const layer = rel.split('/')[0]!;
    it(rel, () => {
      const text = readFileSync(file, 'utf8');
      const imports = [...text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
      for (const spec of imports) {
        if (spec.startsWith('.')) {
          const target = relative(src, join(file, '..', spec)).split('/')[0]!;
          expect(LAYERS.indexOf(target), `${rel} imports ${spec}`).toBeLessThanOrEqual(LAYERS.indexOf(layer));
        }
        if (layer === 'grammar' || layer === 'vocabulary' || layer === 'modules' || layer === 'engine') {
          expect(IO_MODULES.test(spec), `${rel} imports ${spec}`).toBe(false);
        }
      }
      // The process's environment is input the server reads and passes in, never read below it.
      if (layer === 'grammar' || layer === 'vocabulary' || layer === 'modules' || layer === 'engine') {
        expect(/\bprocess\.env\b/.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')), `${rel} reads process.env`).toBe(false);
      }
    });
  }
});
