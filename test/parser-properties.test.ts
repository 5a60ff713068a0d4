/**
 * The grammar never throws, never hangs, and every position it reports lies inside the input,
 * for generated and mutated files (fast-check, 100,000 runs in all).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeHtaccess } from '../src/grammar/htaccess-analysis.js';
import { hostFacts, readHostConfig } from '../src/grammar/host-config.js';
import { parseConfig } from '../src/grammar/parser.js';
import { OR_ALL } from '../src/grammar/directive-registry.js';
import { DEFAULT_OVERRIDE_OPTS } from '../src/grammar/validate.js';
import type { Diagnostic } from '../src/vocabulary/diagnostic.js';

const modules = readHostConfig(
  parseConfig('LoadModule rewrite_module x\nLoadModule headers_module x\nLoadModule authz_core_module x\nLoadModule mime_module x\n', {
    file: 'host',
    kind: 'server',
    host: hostFacts(new Set()),
  }).nodes,
).modules;
const facts = hostFacts(modules);
const policy = { mask: OR_ALL, opts: DEFAULT_OVERRIDE_OPTS, list: new Set<string>() };

const SEEDS = [
  'RewriteEngine On\nRewriteRule ^(.*)$ index.php/$1 [QSA,L]\n',
  '<IfModule mod_rewrite.c>\n<Files "a b">\nRequire all denied\n</Files>\n</IfModule>\n',
  'Header always set X-A "b c" env=!x\nOptions -Indexes +ExecCGI\n',
  "AuthName 'x \\' y'\nDirectoryIndex a \\\n b\r\n",
  '<RequireAll>\nRequire ip 10.1\nRequire not host x\n</RequireAll>\n',
];

const TOKENS = [
  '<',
  '>',
  '</',
  '"',
  "'",
  '\\',
  '\n',
  '\r\n',
  '\\\n',
  '#',
  ' ',
  '\t',
  '\0',
  '\xef\xbb\xbf',
  '${X}',
  '[L,R=301]',
  '(?i)',
  '[[:alpha:]]',
  '<Files',
  '</Files>',
  '<IfModule',
  '</IfModule>',
  'RewriteRule',
  'Options',
  '+',
  '-',
  '*',
  '(',
  ')',
  '{',
  '}',
  '=',
  ',',
];

function positionsInside(text: string, diags: readonly Diagnostic[]): boolean {
  const lines = text.split('\n');
  const lineCount = Math.max(lines.length, 1);
  return diags.every((d) => d.line >= 1 && d.line <= lineCount && d.column >= 1 && d.column <= (lines[d.line - 1]?.length ?? 0) + 1);
}

function nodePositionsInside(text: string, nodes: ReturnType<typeof parseConfig>['nodes']): boolean {
  const lines = text.split('\n');
  const check = (ns: typeof nodes): boolean =>
    ns.every(
      (n) =>
        n.line >= 1 &&
        n.line <= lines.length &&
        n.column >= 1 &&
        n.column <= (lines[n.line - 1]?.length ?? 0) + 1 &&
        n.args.every((a) => a.line >= 1 && a.line <= lines.length && a.column >= 1 && a.column <= (lines[a.line - 1]?.length ?? 0) + 1) &&
        (n.kind !== 'section' || check(n.children)),
    );
  return check(nodes);
}

function judge(text: string): void {
  const parsed = parseConfig(text, { file: 'f', kind: 'htaccess', host: facts });
  expect(nodePositionsInside(text, parsed.nodes)).toBe(true);
  const analysis = analyzeHtaccess(text, 'f', facts, modules, policy);
  expect(positionsInside(text, analysis.diagnostics)).toBe(true);
}

const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 300 });
const tokenSoup = fc.array(fc.constantFrom(...TOKENS, 'a', 'b', 'x.php'), { maxLength: 80 }).map((a) => a.join(''));
const mutated = fc.tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(...TOKENS)), { maxLength: 6 })).map(([seed, edits]) => {
  let s = seed;
  for (const [pos, del, ins] of edits) {
    const p = pos % (s.length + 1);
    s = s.slice(0, p) + ins + s.slice(p + del);
  }
  return s;
});

describe('grammar properties', () => {
  it('random bytes: no throw, positions inside', () => {
    fc.assert(
      fc.property(latin1, (t) => judge(t)),
      { numRuns: 40_000 },
    );
  });
  it('token soup: no throw, positions inside', () => {
    fc.assert(
      fc.property(tokenSoup, (t) => judge(t)),
      { numRuns: 30_000 },
    );
  });
  it('mutated real files: no throw, positions inside', () => {
    fc.assert(
      fc.property(mutated, (t) => judge(t)),
      { numRuns: 30_000 },
    );
  });
  it('large inputs finish: 100k lines and a 10 MB line', () => {
    const many = 'Options -Indexes\n'.repeat(100_000);
    expect(analyzeHtaccess(many, 'f', facts, modules, policy).fatal).toBeUndefined();
    const huge = `DirectoryIndex ${'a'.repeat(10 * 1024 * 1024)}\n`;
    expect(analyzeHtaccess(huge, 'f', facts, modules, policy).fatal?.code).toBe('HT104');
  });
});
