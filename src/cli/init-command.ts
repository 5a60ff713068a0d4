/**
 * `htsandbox init DIR`: a Scripts-style starter site to learn from — a commented `.htaccess`,
 * a CGI script, FastCGI applications in Perl and Ruby, PHP, a front controller, a
 * password-protected directory and one demo of each common error. The site is
 * `fixtures/example-site` (what `npm start` serves), copied with its file modes.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from './io.js';
import { accessFilesUnder } from '../adapters/site-files.js';

/** The bundled starter site (shipped in the npm package: see package.json "files"). */
export const STARTER_SITE = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/example-site');

export interface InitOptions {
  dir: string;
}

/**
 * Copies the starter site into `dir` (which must not exist or be empty). `AuthUserFile`
 * lines name `${HTSANDBOX_SITE_ROOT}` in the bundled copy; the host needs an absolute path
 * (and defines no such variable), so the copy gets the new site's own path.
 */
export function runInit(opts: InitOptions, io: CommandIo): number {
  const target = resolve(io.cwd, opts.dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) {
      io.stderr.write(`htsandbox init: ${opts.dir} exists and is not a directory\n`);
      return 2;
    }
    if (readdirSync(target).length > 0) {
      io.stderr.write(`htsandbox init: ${opts.dir} is not empty; choose a new directory (nothing was written)\n`);
      return 2;
    }
  }
  try {
    cpSync(STARTER_SITE, target, { recursive: true, preserveTimestamps: false });
    for (const file of accessFilesUnder(target)) {
      const text = readFileSync(file, 'latin1');
      const fixed = text.replace(/^(\s*AuthUserFile\s+)\$\{HTSANDBOX_SITE_ROOT\}/gim, (_m, head: string) => `${head}${target}`);
      if (fixed !== text) writeFileSync(file, fixed, 'latin1');
    }
  } catch (err) {
    io.stderr.write(`htsandbox init: cannot write ${opts.dir}: ${(err as Error).message}\n`);
    return 2;
  }
  const rel = relative(io.cwd, target);
  const shown = rel === '' ? '.' : rel.startsWith('..') ? target : rel;
  io.stdout.write(
    [
      `htsandbox: made a starter site in ${shown}`,
      '',
      `  htsandbox serve ${shown}     preview it at http://127.0.0.1:8080/ (its index page links to every demo)`,
      `  htsandbox check ${shown}     find what the host would answer 500 for (it finds the three error demos)`,
      '',
      'Every .htaccess and script in it is commented line by line.',
      '',
    ].join('\n'),
  );
  return 0;
}
