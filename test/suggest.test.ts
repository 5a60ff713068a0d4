/** "Did you mean …" in the hints of check (issue 17 point 4). */
import { describe, expect, it } from 'vitest';
import { closestName } from '../src/grammar/suggest.js';
import { analyzeHtaccess } from '../src/grammar/htaccess-analysis.js';
import { DEFAULT_OVERRIDE_OPTS } from '../src/grammar/validate.js';
import type { HostFacts } from '../src/grammar/conditions.js';

const FACTS: HostFacts = { hasModule: () => true, isDefined: () => false, defineValue: () => undefined, fileExists: () => false, hasDirective: () => true, version: '2.4.71' };
const MODULES = new Set(['core', 'rewrite', 'mime', 'cgid', 'fcgid', 'headers', 'alias', 'dir', 'autoindex']);
const hints = (text: string): (string | undefined)[] =>
  analyzeHtaccess(text, '/s/.htaccess', FACTS, MODULES, { mask: 0x1f, opts: DEFAULT_OVERRIDE_OPTS, list: new Set() }).diagnostics.map((d) => d.hint);

describe('did you mean', () => {
  it('finds the name one or two typos away, and nothing far away', () => {
    expect(closestName('RewriteEngin', ['RewriteBase', 'RewriteEngine', 'RewriteRule'])).toBe('RewriteEngine');
    expect(closestName('Indexs', ['Includes', 'Indexes'])).toBe('Indexes');
    expect(closestName('QSAA', ['QSA', 'QSD'])).toBe('QSA');
    expect(closestName('ExecGCI', ['ExecCGI'])).toBe('ExecCGI'); // two letters swapped
    expect(closestName('Completely', ['RewriteEngine', 'Indexes'])).toBeUndefined();
    expect(closestName('X', ['L', 'R'])).toBe('L');
    expect(closestName('', ['L'])).toBeUndefined();
  });

  it('is part of the hint for a directive, an option, a rewrite flag, a handler', () => {
    expect(hints('RewriteEngin On\n')[0]).toMatch(/^Did you mean RewriteEngine\?/);
    expect(hints('<FileMatch x>\n</FileMatch>\n')[0]).toMatch(/^Did you mean <FilesMatch\?/);
    expect(hints('Options Indexs\n')[0]).toBe('Did you mean Indexes?');
    expect(hints('RewriteEngine On\nRewriteRule ^a$ b [QSAA]\n')[0]).toMatch(/^Did you mean QSA\?/);
    expect(hints('RewriteCond %{HTTP_HOST} x [NCC]\n')[0]).toMatch(/^Did you mean NC\?/);
    expect(hints('AddHandler cgi_script .cgi\n')[0]).toMatch(/^Did you mean cgi-script\?/);
    // Nothing close: the usual advice.
    expect(hints('Frobnicate On\n')[0]).toMatch(/^Check the spelling; if it is right/);
  });
});

describe('DirectoryIndex names over 255 bytes', () => {
  it('are a warning (the host answers 403 for the directory, conformance htaccess-edges)', () => {
    const codes = (text: string): string[] =>
      analyzeHtaccess(text, '/s/.htaccess', FACTS, MODULES, { mask: 0x1f, opts: DEFAULT_OVERRIDE_OPTS, list: new Set() }).diagnostics.map((d) => d.code);
    expect(codes(`DirectoryIndex ${'n'.repeat(256)}.html index.html\n`)).toEqual(['HT208']);
    expect(codes(`DirectoryIndex ${'n'.repeat(250)}.html index.html\n`)).toEqual([]);
  });
});
