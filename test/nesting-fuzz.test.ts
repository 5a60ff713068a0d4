/**
 * Deep nesting and long files (issue 14 point 4): the config readers keep their own stacks,
 * so no file can exhaust ours. Random mixes of section kinds thousands of levels deep never
 * throw anywhere from reading to the access decision, and give the same tree and diagnostics
 * as the recursive reader they replaced wherever that one still works.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeHtaccess } from '../src/grammar/htaccess-analysis.js';
import { parseConfig } from '../src/grammar/parser.js';
import { validateNodes, DEFAULT_OVERRIDE_OPTS, type WalkContext } from '../src/grammar/validate.js';
import type { HostFacts } from '../src/grammar/conditions.js';
import { applyLevel, EMPTY_DIR_CONFIG } from '../src/engine/dir-config.js';
import { authorizeWithoutUser } from '../src/engine/access.js';
import { parseConfig as recursiveParseConfig } from './helpers/recursive-reference/parser.js';
import { validateNodes as recursiveValidateNodes } from './helpers/recursive-reference/validate.js';

const MODULES = new Set(['core', 'headers', 'env', 'rewrite', 'authz_core', 'authz_host', 'access_compat', 'setenvif', 'mime', 'alias', 'version']);
const FACTS: HostFacts = {
  hasModule: (m) => m === 'mod_headers.c' || m === 'headers_module',
  isDefined: () => false,
  defineValue: () => undefined,
  fileExists: () => false,
  hasDirective: (d) => d === 'header',
  version: '2.4.71',
};
const CTX: WalkContext = { kind: 'htaccess', override: 0x1f, overrideOpts: DEFAULT_OVERRIDE_OPTS, overrideList: new Set(), hasModule: (m) => MODULES.has(m) };
const POLICY = { mask: 0x1f, opts: DEFAULT_OVERRIDE_OPTS, list: new Set<string>() };

/** Section kinds: the line that opens one and the one that closes it. */
const SECTIONS: readonly [string, string][] = [
  ['<IfModule mod_headers.c>', '</IfModule>'],
  ['<IfModule !mod_headers.c>', '</IfModule>'],
  ['<IfDefine !NOTHING>', '</IfDefine>'],
  ['<IfDirective Header>', '</IfDirective>'],
  ['<IfVersion >= 2.4>', '</IfVersion>'],
  ['<If "true">', '</If>'],
  ['<ElseIf "-n %{HTTP_HOST}">', '</ElseIf>'],
  ['<Else>', '</Else>'],
  ['<Files x.txt>', '</Files>'],
  ['<FilesMatch "\\.txt$">', '</FilesMatch>'],
  ['<RequireAll>', '</RequireAll>'],
  ['<RequireAny>', '</RequireAny>'],
  ['<RequireNone>', '</RequireNone>'],
  ['<Limit GET POST>', '</Limit>'],
  ['<LimitExcept POST>', '</LimitExcept>'],
];
const DIRECTIVES = [
  'Require all granted',
  'Require all denied',
  'Require not ip 10.0.0.1',
  'Require ip 127.0.0.1',
  'Header set X-A 1',
  'SetEnv A b',
  'SetEnvIf Host ^x X=1',
  'RewriteRule ^a$ b',
  'Options -Indexes',
  'Order allow,deny',
  'Allow from all',
  'Bogus x',
  '</Files>',
  '',
  '# a comment',
];

/** One nesting: the kinds from the outside in, lines inside each level, and how it closes. */
const nesting = (maxDepth: number): fc.Arbitrary<string> =>
  fc
    .record({
      kinds: fc.array(fc.integer({ min: 0, max: SECTIONS.length - 1 }), { minLength: 1, maxLength: maxDepth }),
      lines: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...DIRECTIVES)), { maxLength: 40 }),
      body: fc.array(fc.constantFrom(...DIRECTIVES), { maxLength: 4 }),
      // Sometimes a close line is left out or a level closes early: the error paths.
      drop: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ kinds, lines, body, drop }) => {
      const out: string[] = [];
      const at = new Map<number, string[]>();
      for (const [i, l] of lines) {
        const level = i % kinds.length;
        at.set(level, [...(at.get(level) ?? []), l]);
      }
      kinds.forEach((k, level) => {
        out.push(SECTIONS[k]![0]);
        out.push(...(at.get(level) ?? []));
      });
      out.push(...body);
      for (let level = kinds.length - 1; level >= 0; level--) {
        if (drop !== undefined && drop % kinds.length === level) continue;
        out.push(SECTIONS[kinds[level]!]![1]);
      }
      return `${out.join('\n')}\n`;
    });

/** Runs everything a request to the file's directory runs, as far as it gets. */
function readAll(text: string): void {
  const a = analyzeHtaccess(text, '/site/.htaccess', FACTS, MODULES, POLICY);
  if (a.fatal) return;
  const cfg = applyLevel(EMPTY_DIR_CONFIG, a.nodes, (m) => MODULES.has(m), DEFAULT_OVERRIDE_OPTS, '/site');
  let files = cfg;
  for (const s of cfg.files) if (s.matches('x.txt')) files = applyLevel(files, s.nodes, (m) => MODULES.has(m));
  for (const method of ['GET', 'POST']) authorizeWithoutUser(files.authz, { method, remoteAddr: '127.0.0.1', env: new Map() });
}

/** The recursive reader's answer, or undefined where it runs out of stack. */
function recursive(text: string): { tree: string; diagnostics: unknown } | undefined {
  try {
    const parsed = recursiveParseConfig(text, { file: '/site/.htaccess', kind: 'htaccess', host: FACTS });
    return { tree: JSON.stringify(parsed.nodes), diagnostics: [...parsed.diagnostics, ...recursiveValidateNodes(parsed.nodes, CTX)] };
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function explicit(text: string): { tree: string; diagnostics: unknown } {
  const parsed = parseConfig(text, { file: '/site/.htaccess', kind: 'htaccess', host: FACTS });
  return { tree: JSON.stringify(parsed.nodes), diagnostics: [...parsed.diagnostics, ...validateNodes(parsed.nodes, CTX)] };
}

describe('deep nesting', () => {
  it('a few levels of any mix: the same tree and diagnostics as the recursive reader', () => {
    fc.assert(
      fc.property(nesting(12), (text) => {
        expect(explicit(text)).toEqual(recursive(text));
        readAll(text);
      }),
      { numRuns: 1500 },
    );
  });

  it('thousands of levels of any mix: never throws, and agrees with the recursive reader where it still works', () => {
    let compared = 0;
    fc.assert(
      fc.property(nesting(6000), (text) => {
        readAll(text);
        const mine = explicit(text);
        const theirs = recursive(text);
        if (theirs) {
          compared++;
          expect(mine).toEqual(theirs);
        }
      }),
      { numRuns: 40 },
    );
    expect(compared).toBeGreaterThan(0);
  }, 120_000);

  it('10,000 levels of each kind are read, walked and applied without running out of stack', () => {
    for (const [open, close] of SECTIONS) {
      const text = `${`${open}\n`.repeat(10_000)}Require all granted\nHeader set X-A 1\n${`${close}\n`.repeat(10_000)}`;
      expect(() => readAll(text)).not.toThrow();
    }
  }, 120_000);

  it('more than 8,200 true conditional sections: the error Apache dies of, never a silent pass', () => {
    const deep = (n: number): string => `${'<IfModule mod_headers.c>\n'.repeat(n)}Header set X-A 1\n${'</IfModule>\n'.repeat(n)}`;
    expect(analyzeHtaccess(deep(8200), '/site/.htaccess', FACTS, MODULES, POLICY).fatal).toBeUndefined();
    const fatal = analyzeHtaccess(deep(10_000), '/site/.htaccess', FACTS, MODULES, POLICY).fatal;
    expect(fatal).toMatchObject({ code: 'HT111', line: 8201 });
    // Interleaved with other sections, only the conditional ones count (Apache's recursion).
    const mixed = `${'<IfModule mod_headers.c>\n<RequireAll>\n'.repeat(5000)}Require all granted\n${'</RequireAll>\n</IfModule>\n'.repeat(5000)}`;
    expect(analyzeHtaccess(mixed, '/site/.htaccess', FACTS, MODULES, POLICY).fatal).toBeUndefined();
  }, 60_000);
});

describe('long files', () => {
  it('50,000 lines of mixed directives and sections: read, walked and applied', () => {
    const kinds = [
      (i: number) => `SetEnvIf Host ^h${i}$ V${i}=1`,
      (i: number) => `<IfModule mod_headers.c>\nHeader set X-${i % 50} ${i}\n</IfModule>`,
      (i: number) => `<Files f${i}.txt>\nRequire all denied\n</Files>`,
      (i: number) => `RewriteCond %{HTTP_HOST} ^h${i}$\nRewriteRule ^p${i}$ q${i}`,
      (i: number) => `<RequireAny>\nRequire ip 10.0.${i & 255}.0/24\nRequire all granted\n</RequireAny>`,
      (i: number) => `Allow from 10.1.${i & 255}.1`,
    ];
    const lines: string[] = [];
    for (let i = 0; lines.length < 50_000; i++) lines.push(kinds[i % kinds.length]!(i));
    const a = analyzeHtaccess(`${lines.join('\n')}\n`, '/site/.htaccess', FACTS, MODULES, POLICY);
    expect(a.fatal).toBeUndefined();
    const cfg = applyLevel(EMPTY_DIR_CONFIG, a.nodes, (m) => MODULES.has(m), DEFAULT_OVERRIDE_OPTS, '/site');
    expect(cfg.setEnvIf.length).toBeGreaterThan(5_000);
    expect(cfg.files.length).toBeGreaterThan(5_000);
    expect(cfg.accessCompat?.allow.length).toBeGreaterThan(5_000);
  }, 120_000);
});
