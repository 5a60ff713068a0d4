/** `check`'s script doctor: plain CGI under fcgid-script (from the source, and --probe asking the script), FastCGI apps that never see their own updates. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { usesFastCgiLibrary, watchesOwnFile } from '../src/grammar/fastcgi-source.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { PROJECT_ROOT } from './helpers/private-apache.js';

const havePerlFcgi = peerAvailable('Perl FCGI', perlFcgiMissing());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PLAIN = '#!/usr/bin/perl\nprint "Content-Type: text/plain\\r\\n\\r\\nhello\\n";\n';
const STALE = '#!/usr/bin/perl\nuse FCGI;\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\nhi\\n"; }\n';
const GOOD =
  '#!/usr/bin/perl\nuse FCGI;\nmy $m = (stat $0)[9];\nmy $r = FCGI::Request();\nwhile ($r->Accept() >= 0) { print "Content-Type: text/plain\\r\\n\\r\\nhi\\n"; $r->Finish(); last if (stat $0)[9] != $m; }\n';
const RUBY_PLAIN = '#!/usr/bin/ruby\nputs "Content-Type: text/plain"\nputs\nputs "hi"\n';

function site(): string {
  const root = mkdtempSync(join(tmpdir(), 'htsandbox-doctor-'));
  dirs.push(root);
  writeFileSync(join(root, 'plain.fcgi'), PLAIN, { mode: 0o755 });
  writeFileSync(join(root, 'stale.fcgi'), STALE, { mode: 0o755 });
  writeFileSync(join(root, 'good.fcgi'), GOOD, { mode: 0o755 });
  writeFileSync(join(root, 'app.rb'), RUBY_PLAIN, { mode: 0o755 });
  writeFileSync(join(root, '.htaccess'), '<Files *.rb>\n    SetHandler fcgid-script\n    Options +ExecCGI\n</Files>\n');
  return root;
}

async function check(args: string[]): Promise<{ code: number; found: string[]; err: string; hints: boolean }> {
  let out = '';
  let err = '';
  const code = await main(['check', ...args, '--format', 'json'], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    cwd: process.cwd(),
  });
  const diags = (JSON.parse(out) as { diagnostics: { file: string; code: string; severity: string; hint?: string }[] }).diagnostics;
  return { code, err, found: diags.map((d) => `${d.file.split('/').pop()} ${d.code} ${d.severity}`).sort(), hints: diags.every((d) => Boolean(d.hint)) };
}

describe('the script doctor', () => {
  it('reads the source: a plain CGI under fcgid-script is likely broken; a FastCGI app that never checks its file keeps old code', async () => {
    const r = await check([site()]);
    expect(r.found).toEqual(['app.rb HT410 warning', 'plain.fcgi HT410 warning', 'stale.fcgi HT411 info']);
    expect(r.hints).toBe(true);
    expect(r.code).toBe(0);
  });

  it.runIf(havePerlFcgi)('--probe asks each script, says it ran them, and turns a plain CGI under fcgid into an error', async () => {
    const r = await check([site(), '--probe']);
    expect(r.err).toMatch(/^probe: running 4 FastCGI scripts as mod_fcgid would \(your code runs\)/m);
    expect(r.found).toEqual(['app.rb HT412 error', 'plain.fcgi HT412 error', 'stale.fcgi HT411 info']);
    expect(r.code).toBe(1);
  });

  it('finds every classic mistake on the doctor fixture site, each with its hint', async () => {
    let out = '';
    const code = await main(['check', 'fixtures/doctor-site', '--format', 'json'], {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => undefined },
      env: {},
      cwd: PROJECT_ROOT,
    });
    expect(code).toBe(1);
    const diags = (JSON.parse(out) as { diagnostics: { file: string; line: number; code: string; hint?: string }[] }).diagnostics;
    const found = diags.map((d) => `${d.file.replace('fixtures/doctor-site/', '')}:${d.line} ${d.code}`).sort();
    expect(found).toEqual([
      '.htaccess:4 HT220',
      '.htaccess:8 HT223',
      'scripts/crlf.cgi:1 HT400',
      'scripts/noexec.cgi:1 HT400',
      'scripts/plain.fcgi:1 HT410',
      'typo-directive/.htaccess:1 HT100',
      'typo-option/.htaccess:1 HT105',
    ]);
    for (const d of diags) expect(d.hint, `${d.file}:${d.line} ${d.code}`).toBeTruthy();
    const hint = (file: string): string => diags.find((d) => d.file.endsWith(file))!.hint!;
    expect(hint('typo-directive/.htaccess')).toContain('Did you mean RewriteEngine?');
    expect(hint('typo-option/.htaccess')).toContain('Did you mean Indexes?');
    expect(hint('crlf.cgi')).toContain('Windows line endings');
    expect(hint('noexec.cgi')).toContain('chmod +x');
  });

  it('knows the libraries and the self-checks of the usual languages', () => {
    for (const s of [
      'use FCGI;',
      'use CGI::Fast qw(:standard);',
      "require 'fcgi'",
      'require "rack/handler/fastcgi"',
      '#include <fcgi_stdio.h>',
      'from flup.server.fcgi import WSGIServer',
      'use Plack::Handler::FCGI;',
    ]) {
      expect(usesFastCgiLibrary(s), s).toBe(true);
    }
    for (const s of ['use CGI;', 'import cgi', 'print "fcgid is great"', '#!/bin/sh\necho hi']) expect(usesFastCgiLibrary(s), s).toBe(false);
    for (const s of ['last if -M $0 < 0;', 'my $m = (stat $0)[9];', 'File.mtime(__FILE__)', 'os.path.getmtime(__file__)', 'filemtime(__FILE__)'])
      expect(watchesOwnFile(s), s).toBe(true);
    expect(watchesOwnFile('while ($r->Accept() >= 0) { print "x" }')).toBe(false);
  });
});
