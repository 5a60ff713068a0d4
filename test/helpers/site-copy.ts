/**
 * Site preparation shared by Apache's and htsandbox's copies of a conformance case:
 * `{{ROOT}}` in .htaccess files becomes the copy's path, modes git cannot store come from
 * `modes.txt` ("0600 path" lines), what git cannot store at all (hard links, files beside the
 * root that links reach) from an optional `setup.sh` run with the copy's root as its argument,
 * and every mtime is fixed so ETag, Last-Modified and listing dates are reproducible.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, lutimesSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** 2001-09-09T01:46:40Z, the fixed mtime of every file (as in the shared oracle). */
export const FIXED_MTIME = 1_000_000_000;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Visits every path under `dir` as bytes: a case's setup may make names that are not UTF-8
 * (nonascii-names), which a string path would turn into U+FFFD and then not find.
 */
function walk(dir: Buffer, visit: (p: Buffer) => void): void {
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([dir, SLASH, name]);
    visit(p);
    const st = lstatSync(p);
    if (st.isDirectory() && !st.isSymbolicLink()) walk(p, visit);
  }
}

const SLASH = Buffer.from('/');
const HTACCESS = Buffer.from('/.htaccess');

/** Finishes a copy in place: setup script, placeholders, owner, modes, then mtimes (deepest first). */
export function finishSiteCopy(siteRoot: string, modesFile?: string, setupScript?: string): void {
  if (setupScript && existsSync(setupScript)) execFileSync('sh', [setupScript, siteRoot], { stdio: ['ignore', 'ignore', 'inherit'] });
  const root = Buffer.from(siteRoot);
  walk(root, (p) => {
    if (p.subarray(-HTACCESS.length).equals(HTACCESS) && lstatSync(p).isFile()) {
      const text = readFileSync(p, 'latin1');
      if (text.includes('{{ROOT}}')) writeFileSync(p, text.split('{{ROOT}}').join(siteRoot), 'latin1');
    }
  });
  if (isRoot) execFileSync('chown', ['-R', '-h', 'www-data:www-data', siteRoot]);
  if (modesFile && existsSync(modesFile)) {
    for (const line of readFileSync(modesFile, 'utf8').split('\n')) {
      const m = /^\s*([0-7]{3,4})\s+(.+?)\s*$/.exec(line);
      if (m) chmodSync(join(siteRoot, m[2]!), Number.parseInt(m[1]!, 8));
    }
  }
  const all: Buffer[] = [];
  walk(root, (p) => all.push(p));
  for (const p of all.reverse()) {
    if (lstatSync(p).isSymbolicLink()) lutimesSync(p, FIXED_MTIME, FIXED_MTIME);
    else utimesSync(p, FIXED_MTIME, FIXED_MTIME);
  }
  utimesSync(siteRoot, FIXED_MTIME, FIXED_MTIME);
}

/**
 * Runs a case's `setup.sh` (if it has one) on a fresh copy, before finishSiteCopy: what a case
 * cannot keep in git (a repository an application shows, links to a Debian package's files) is
 * made there, deterministically, so both servers' copies hold the same bytes.
 */
export function runSiteSetup(caseDir: string, siteRoot: string): void {
  const script = join(caseDir, 'setup.sh');
  if (!existsSync(script)) return;
  execFileSync('bash', [script, siteRoot], {
    cwd: caseDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' },
    timeout: 60_000,
  });
}

/** Copies a case's site to `dest`, runs its setup (when `caseDir` is given) and finishes it. */
export function copySite(src: string, dest: string, modesFile?: string, caseDir?: string): void {
  cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  if (caseDir) runSiteSetup(caseDir, dest);
  finishSiteCopy(dest, modesFile);
}
