// The benchmark site: the apps of scripts/bench/apps compiled or copied, a 1 KiB and a 10 MiB
// static file, and the 1 KiB file again under three levels of ordinary 20-line .htaccess files.
// Every server gets its own copy (copySite), owned by www-data when we run as root: Apache's
// workers and every script run as www-data, as on the host.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APPS = join(dirname(fileURLToPath(import.meta.url)), 'apps');
const HELLO = 'Hello, world!\n';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** What each endpoint requests and what a right answer's body is. */
export const ENDPOINTS = {
  'fcgi-perl': { path: '/hello-perl.fcgi', what: 'FastCGI, Perl FCGI hello', check: (b) => b.toString() === HELLO },
  'fcgi-c': { path: '/hello.fcgi', what: 'FastCGI, C libfcgi hello', check: (b) => b.toString() === HELLO },
  cgi: { path: '/hello.cgi', what: 'CGI, C hello', check: (b) => b.toString() === HELLO },
  'static-1k': { path: '/static-1k.txt', what: 'static 1 KiB', check: (b) => b.equals(fill(1024)) },
  'static-10m': { path: '/static-10m.bin', what: 'static 10 MiB', check: (b) => b.length === 10 * 1024 * 1024 && b.subarray(0, 4096).equals(fill(4096)) },
  'static-htaccess': {
    path: '/l1/l2/l3/static-1k.txt',
    what: 'static 1 KiB under 3 levels of .htaccess',
    check: (b) => b.equals(fill(1024)),
  },
};

function fill(n) {
  const line = 'htsandbox bench static file: abcdefghijklmnopqrstuvwxyz0123456789\n';
  return Buffer.from(line.repeat(Math.ceil(n / line.length)).slice(0, n));
}

/** Undefined when the tools to build the site are there, else what is missing and how to get it. */
export function siteToolsMissing() {
  const missing = [];
  if (spawnSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' }).status !== 0) missing.push('gcc (apt-get install gcc)');
  if (spawnSync('sh', ['-c', 'test -e /usr/include/fcgi_stdio.h'], { stdio: 'ignore' }).status !== 0) missing.push('libfcgi headers (apt-get install libfcgi-dev)');
  if (spawnSync('perl', ['-MFCGI', '-e', '1'], { stdio: 'ignore' }).status !== 0) missing.push("Perl's FCGI module (apt-get install libfcgi-perl)");
  return missing.length ? missing.join(', ') : undefined;
}

// A level of ordinary per-directory settings: Apache re-reads all three files per request.
export function htaccess(level) {
  return `${[
    `# level ${level}: ordinary per-directory settings`,
    'Options -Indexes +FollowSymLinks',
    'DirectoryIndex index.html index.cgi index.fcgi',
    `Header set X-Level-${level} "on"`,
    'Header always set X-Content-Type-Options "nosniff"',
    'AddType text/plain .log .conf',
    'AddType application/json .map',
    'AddCharset UTF-8 .txt .html',
    'AddHandler cgi-script .cgi',
    'ErrorDocument 404 /index.html',
    'ExpiresActive On',
    'ExpiresByType text/css "access plus 1 day"',
    'ExpiresByType image/png "access plus 1 week"',
    '<FilesMatch "\\.(bak|orig|swp)$">',
    '  Require all denied',
    '</FilesMatch>',
    '<Files "secret.txt">',
    '  Require all denied',
    '</Files>',
    `SetEnv BENCH_LEVEL ${level}`,
  ].join('\n')}\n`;
}

/** Builds the master copy of the site in `dir`; returns `dir`. */
export function buildSite(dir) {
  mkdirSync(dir, { recursive: true });
  const cc = (out, source, libs) => {
    const r = spawnSync('gcc', ['-O2', '-o', join(dir, out), join(APPS, source), ...libs], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${source} failed (needs gcc and libfcgi-dev):\n${r.stderr}`);
  };
  cc('hello.fcgi', 'hello-fcgi.c', ['-lfcgi']);
  cc('hello.cgi', 'hello-cgi.c', []);
  copyFileSync(join(APPS, 'hello-perl.fcgi'), join(dir, 'hello-perl.fcgi'));
  chmodSync(join(dir, 'hello-perl.fcgi'), 0o755);
  writeFileSync(join(dir, 'static-1k.txt'), fill(1024));
  writeFileSync(join(dir, 'static-10m.bin'), fill(10 * 1024 * 1024));
  writeFileSync(join(dir, 'index.html'), '<p>bench site</p>\n');
  let level = dir;
  for (const n of [1, 2, 3]) {
    level = join(level, `l${n}`);
    mkdirSync(level);
    writeFileSync(join(level, '.htaccess'), htaccess(n));
  }
  writeFileSync(join(level, 'static-1k.txt'), fill(1024));
  return dir;
}

/** A server's own copy of the site at `dest`, readable (and owned, as root) by www-data. */
export function copySite(master, dest) {
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(master, dest, { recursive: true });
  chmodSync(dest, 0o755);
  if (isRoot) execFileSync('chown', ['-R', 'www-data:www-data', dest]);
  else execFileSync('chmod', ['-R', 'o+rX', dest]);
  return dest;
}
