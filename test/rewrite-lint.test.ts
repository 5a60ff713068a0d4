/**
 * `check`'s mod_rewrite advice (src/grammar/rewrite-lint.ts): rules the host accepts but that
 * cannot do what they look like. What Apache does with each is recorded in the conformance case
 * rewrite-safety (lint-* and order-* requests).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { NO_HOST_FACTS } from '../src/grammar/conditions.js';
import { parseConfig } from '../src/grammar/parser.js';
import { lintRewrite } from '../src/grammar/rewrite-lint.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';

/** mod_rewrite is loaded, as on the host: <IfModule mod_rewrite.c> sections count. */
const FACTS = { ...NO_HOST_FACTS, hasModule: (m: string) => m === 'mod_rewrite.c' || m === 'rewrite_module' };

const lint = (text: string, inherited?: boolean): { codes: string[]; lines: number[]; engine: boolean | undefined } => {
  const r = lintRewrite(parseConfig(text, { file: '.htaccess', kind: 'htaccess', host: FACTS }).nodes, inherited);
  return { codes: r.diagnostics.map((d) => d.code), lines: r.diagnostics.map((d) => d.line), engine: r.engine };
};

describe('HT220: a per-directory pattern that starts with ^/', () => {
  it('is flagged, escaped or not, also inside <IfModule>, not inside <Files> or <If> (whole file system path there)', () => {
    expect(lint('RewriteEngine On\nRewriteRule ^/old$ new.html\n').codes).toEqual(['HT220']);
    expect(lint('RewriteEngine On\n<IfModule mod_rewrite.c>\nRewriteRule ^\\/old new.html\n</IfModule>\n').codes).toEqual(['HT220']);
    expect(lint('RewriteEngine On\n<Files x>\nRewriteRule ^/old /new.html\n</Files>\n').codes).toEqual([]);
  });
  it('is not flagged without the anchor, when optional (^/?), negated, or in a RewriteCond', () => {
    expect(lint('RewriteEngine On\nRewriteRule /old new.html\nRewriteRule !^/x - [F]\nRewriteCond %{REQUEST_URI} ^/a\nRewriteRule ^a b\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\nRewriteRule ^/?old$ new.html\nRewriteRule ^/*x y.html\nRewriteRule ^/{0,1}z w.html\n').codes).toEqual([]);
  });
});

describe('HT221: rules where RewriteEngine is not On', () => {
  it('is flagged when neither the file nor a parent turns it on', () => {
    expect(lint('RewriteRule ^a$ b.html\n')).toMatchObject({ codes: ['HT221'], lines: [1], engine: undefined });
    expect(lint('RewriteRule ^a$ b.html\n', false).codes).toEqual(['HT221']);
  });
  it('takes the state of a parent directory, and the last RewriteEngine line of the file', () => {
    expect(lint('RewriteRule ^a$ b.html\n', true)).toMatchObject({ codes: [], engine: true });
    expect(lint('RewriteEngine On\nRewriteRule ^a$ b.html\nRewriteEngine Off\n', true)).toMatchObject({ codes: ['HT221'], engine: false });
    expect(lint('<IfModule mod_rewrite.c>\nRewriteEngine On\n</IfModule>\nRewriteRule ^a$ b.html\n').codes).toEqual([]);
  });
  it('is quiet for a file without rules, which still passes its state on', () => {
    expect(lint('RewriteEngine On\n')).toMatchObject({ codes: [], engine: true });
  });
});

describe('HT222: [R] without [L]', () => {
  it('is flagged when rules follow', () => {
    expect(lint('RewriteEngine On\nRewriteRule ^a$ /b [R=301]\nRewriteRule ^c$ d.html\n')).toMatchObject({ codes: ['HT222'], lines: [2] });
    expect(lint('RewriteEngine On\nRewriteRule ^a$ /b [redirect]\nRewriteRule ^c$ d.html\n').codes).toEqual(['HT222']);
  });
  it('is quiet with L or END, for the last rule, a chain, or a non-redirect status', () => {
    expect(
      lint(
        'RewriteEngine On\nRewriteRule ^a$ /b [R=301,L]\nRewriteRule ^e$ /f [R,END]\nRewriteRule ^g$ - [R=410]\nRewriteRule ^h$ /i [R,C]\nRewriteRule ^c$ d.html\nRewriteRule ^z$ /y [R]\n',
      ).codes,
    ).toEqual([]);
  });
});

describe('HT223: rules after an unconditional [L]', () => {
  it('flags the first rule after a catch-all that stops the round', () => {
    expect(lint('RewriteEngine On\nRewriteRule ^(.*)$ index.php [L]\nRewriteRule ^a$ b.html\nRewriteRule ^c$ d.html\n')).toMatchObject({ codes: ['HT223'], lines: [3] });
    expect(lint('RewriteEngine On\nRewriteRule ^ - [F]\nRewriteRule ^a$ b.html\n').codes).toEqual(['HT223']);
  });
  it('is quiet when the catch-all has a condition, does not match everything, or can be skipped', () => {
    expect(lint('RewriteEngine On\nRewriteCond %{REQUEST_FILENAME} !-f\nRewriteRule ^(.*)$ index.php [L]\nRewriteRule ^a$ b.html\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\nRewriteRule ^(.+)$ index.php [L]\nRewriteRule ^a$ b.html\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\nRewriteRule ^x$ - [S=1]\nRewriteRule ^ - [L]\nRewriteRule ^a$ b.html\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\nRewriteRule ^(.*)$ index.php\nRewriteRule ^a$ b.html\n').codes).toEqual([]);
  });
});

describe('htsandbox check', () => {
  const root = mkdtempSync(join(tmpdir(), 'htsandbox-rwlint-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  it('carries RewriteEngine from a parent directory to its subdirectories', async () => {
    mkdirSync(join(root, 'on', 'child'), { recursive: true });
    mkdirSync(join(root, 'off'), { recursive: true });
    writeFileSync(join(root, 'on', '.htaccess'), 'RewriteEngine On\n');
    writeFileSync(join(root, 'on', 'child', '.htaccess'), 'RewriteRule ^a$ b.html [L]\n');
    writeFileSync(join(root, 'off', '.htaccess'), '# no engine\nRewriteRule ^/a$ b.html [R]\nRewriteRule ^c$ d.html\n');
    let out = '';
    const code = await main(['check', root], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => undefined }, env: {}, cwd: PROJECT_ROOT });
    expect(code).toBe(0);
    expect(out).not.toMatch(/on\/child\/\.htaccess.*HT22/);
    expect(out).toMatch(/off\/\.htaccess:2:1 warning HT220 /);
    expect(out).toMatch(/off\/\.htaccess:2:1 warning HT221 /);
    expect(out).toMatch(/off\/\.htaccess:2:1 warning HT222 /);
  });
});

describe('HT224: rules inside <If> (per-dir prefix "*If/"; the rewrite-in-if conformance case)', () => {
  it('flags an anchored pattern, which never matches the whole file system path', () => {
    expect(lint('RewriteEngine On\n<If "-n %{QUERY_STRING}">\nRewriteRule ^x\\.txt$ /t.txt [L]\n</If>\n')).toMatchObject({ codes: ['HT224'], lines: [3] });
    expect(lint('RewriteEngine On\n<If "true">\n</If>\n<Else>\nRewriteRule ^$ /t.txt [L]\n</Else>\n').codes).toEqual(['HT224']);
  });
  it('flags a relative substitution (400) and a relative [R] without a RewriteBase of the <If>', () => {
    expect(lint('RewriteEngine On\n<If "true">\nRewriteRule x\\.txt$ y.txt [L]\n</If>\n').codes).toEqual(['HT224']);
    expect(lint('RewriteEngine On\n<If "true">\nRewriteRule x\\.txt$ y.txt [R,L]\n</If>\n').codes).toEqual(['HT224']);
    expect(lint('RewriteEngine On\n<If "true">\nRewriteBase /d/\nRewriteRule x\\.txt$ y.txt [R,L]\n</If>\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\n<If "true">\nRewriteBase /d/\nRewriteRule x\\.txt$ y.txt [L]\n</If>\n').codes).toEqual(['HT224']);
  });
  it('leaves rules that work there alone, and ^/ is no HT220 there', () => {
    const ok = 'RewriteRule x\\.txt$ /t.txt [L]\nRewriteRule ^/(.*)$ /s.cgi?p=$1 [L]\nRewriteRule .* - [F]\nRewriteRule (.*) $1.html\nRewriteRule a$ https://example.com/ [R,L]\n';
    expect(lint(`RewriteEngine On\n<If "true">\n${ok}</If>\n`).codes).toEqual([]);
  });
});

describe('HT224 and MergeBase', () => {
  it("takes the file's RewriteBase for a relative [R] inside <If> under RewriteOptions MergeBase", () => {
    expect(lint('RewriteEngine On\nRewriteOptions MergeBase\nRewriteBase /d/\n<If "true">\nRewriteRule x\\.txt$ y.txt [R,L]\n</If>\n').codes).toEqual([]);
    expect(lint('RewriteEngine On\nRewriteBase /d/\n<If "true">\nRewriteRule x\\.txt$ y.txt [R,L]\n</If>\n').codes).toEqual(['HT224']);
  });
});

describe('HT224 inside <Files> (per-dir prefix: the pattern and a slash; the rewrite-in-if conformance case)', () => {
  it('flags an anchored pattern and a relative substitution, with the section and its prefix named', () => {
    const r = lintRewrite(
      parseConfig('RewriteEngine On\n<Files "x.txt">\nRewriteRule ^x\\.txt$ /t.txt\n</Files>\n<FilesMatch "^b">\nRewriteRule b$ c.txt [R]\n</FilesMatch>\n', {
        file: '.htaccess',
        kind: 'htaccess',
        host: FACTS,
      }).nodes,
      undefined,
    );
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([
      ['HT224', 3],
      ['HT224', 6],
    ]);
    expect(r.diagnostics[0]!.message).toContain('inside <Files>');
    expect(r.diagnostics[1]!.message).toContain('redirects to /^b/c.txt');
    expect(lint('RewriteEngine On\n<Files ~ "^y">\nRewriteRule y$ c.txt\n</Files>\n').codes).toEqual(['HT224']);
  });
});
