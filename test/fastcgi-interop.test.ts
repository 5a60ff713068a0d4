/**
 * FastCGI interop: the libraries students really use, each behind htsandbox's process manager
 * the way the host runs them — C libfcgi (compiled here with gcc), Perl FCGI, Ruby fcgi (switched
 * on with `<Files *.rb> SetHandler fcgid-script`), php-cgi as FcgidWrapper for `.php` and as a
 * `#!` script. Each app answers with its pid, a request counter, the query, PATH_INFO and the
 * length and digest of the body it read, so the same checks run against every library.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, spawnServe, type ServeChild } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';
import { freePort, PROFILES_DIR } from './helpers/private-apache.js';
import { isAlive } from './helpers/processes.js';

const MARK = `fcgi-interop-${process.pid}`;
const base = mkdtempSync(join(tmpdir(), 'htsandbox-fcgi-interop-'));
const site = join(base, MARK);

const has = (cmd: string, args: string[]): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const C_APP = `#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  static char buf[65536];
  FCGX_Request r;
  unsigned long count = 0;
  FCGX_Init();
  FCGX_InitRequest(&r, 0, 0);
  while (FCGX_Accept_r(&r) >= 0) {
    const char *q = FCGX_GetParam("QUERY_STRING", r.envp);
    const char *pi = FCGX_GetParam("PATH_INFO", r.envp);
    unsigned int h = 2166136261u;
    long len = 0;
    int n;
    count++;
    if (!q) q = "";
    if (strcmp(q, "crash") == 0) _exit(3);
    if (strncmp(q, "big=", 4) == 0) {
      long want = atol(q + 4), i;
      FCGX_FPrintF(r.out, "Content-Type: application/octet-stream\\r\\n\\r\\n");
      for (i = 0; i < (long)sizeof buf; i++) buf[i] = 'a' + i % 26;
      while (want > 0) {
        long part = want > 65520 ? 65520 : want;
        FCGX_PutStr(buf, part, r.out);
        want -= part;
      }
      continue;
    }
    while ((n = FCGX_GetStr(buf, sizeof buf, r.in)) > 0) {
      int i;
      for (i = 0; i < n; i++) { h ^= (unsigned char)buf[i]; h *= 16777619u; }
      len += n;
    }
    FCGX_FPrintF(r.out, "Content-Type: text/plain\\r\\n\\r\\npid=%d\\ncount=%lu\\nquery=%s\\npath_info=%s\\nlen=%ld\\ndigest=fnv:%08x\\n",
      (int)getpid(), count, q, pi ? pi : "(unset)", len, h);
  }
  return 0;
}
`;

const PERL_APP = `#!/usr/bin/perl
use strict;
use warnings;
use FCGI;
use Digest::MD5;
my $req = FCGI::Request();
my $count = 0;
my $alphabet = join('', 'a' .. 'z') x 2520;
while ($req->Accept() >= 0) {
  $count++;
  my $q = $ENV{QUERY_STRING} // '';
  exit 3 if $q eq 'crash';
  if ($q =~ /^big=(\\d+)$/) {
    my $want = $1;
    binmode STDOUT;
    print "Content-Type: application/octet-stream\\r\\n\\r\\n";
    while ($want > 0) {
      my $part = $want > length($alphabet) ? length($alphabet) : $want;
      print substr($alphabet, 0, $part);
      $want -= $part;
    }
    next;
  }
  binmode STDIN;
  my $md5 = Digest::MD5->new;
  my ($len, $buf) = (0, '');
  while ((my $n = read(STDIN, $buf, 65536)) > 0) { $md5->add($buf); $len += $n; }
  my $pi = $ENV{PATH_INFO} // '(unset)';
  print "Content-Type: text/plain\\r\\n\\r\\npid=$$\\ncount=$count\\nquery=$q\\npath_info=$pi\\nlen=$len\\ndigest=md5:", $md5->hexdigest, "\\n";
}
`;

const RUBY_APP = `require 'fcgi'
require 'digest/md5'
count = 0
alphabet = ('a'..'z').to_a.join * 2520
FCGI.each do |req|
  count += 1
  q = req.env['QUERY_STRING'] || ''
  exit!(3) if q == 'crash'
  if q =~ /\\Abig=(\\d+)\\z/
    want = $1.to_i
    req.out.binmode
    req.out.print "Content-Type: application/octet-stream\\r\\n\\r\\n"
    while want > 0
      part = [want, alphabet.length].min
      req.out.print alphabet[0, part]
      want -= part
    end
  else
    body = (req.in.read || '').b
    pi = req.env['PATH_INFO'] || '(unset)'
    req.out.print "Content-Type: text/plain\\r\\n\\r\\npid=#{Process.pid}\\ncount=#{count}\\nquery=#{q}\\npath_info=#{pi}\\nlen=#{body.bytesize}\\ndigest=md5:#{Digest::MD5.hexdigest(body)}\\n"
  end
  req.finish
end
`;

// PHP keeps no state between requests: the counter is the pid's request number, kept in a file.
const PHP_APP = (shebang: string): string => `${shebang}<?php
$q = $_SERVER['QUERY_STRING'] ?? '';
// exit() only ends the request in php-cgi: a crash is a signal.
if ($q === 'crash') { posix_kill(getmypid(), 9); }
$counter = sys_get_temp_dir() . '/${MARK}-php-' . basename(__DIR__) . '-' . getmypid();
$count = (int)@file_get_contents($counter) + 1;
file_put_contents($counter, (string)$count);
if (preg_match('/^big=(\\d+)$/', $q, $m)) {
  header('Content-Type: application/octet-stream');
  $alphabet = str_repeat(implode('', range('a', 'z')), 2520);
  for ($want = (int)$m[1]; $want > 0; $want -= strlen($alphabet)) echo substr($alphabet, 0, min($want, strlen($alphabet)));
  exit;
}
header('Content-Type: text/plain');
$body = file_get_contents('php://input');
$pi = $_SERVER['PATH_INFO'] ?? '(unset)';
echo "pid=", getmypid(), "\\ncount=$count\\nquery=$q\\npath_info=$pi\\nlen=", strlen($body), "\\ndigest=md5:", md5($body), "\\n";
`;

interface Library {
  name: string;
  /** URL of the app. */
  path: string;
  missing: () => string | undefined;
  /** Writes the app into its directory. */
  install: (dir: string) => void;
  /** The digest the app reports for a body. */
  digest: (body: Buffer) => string;
  /**
   * An external FastCGI server (php-fpm behind mod_proxy_fcgi) rather than processes htsandbox
   * manages. The host answers some failures differently then (both seen on Apache 2.4.71): a
   * killed backend process is a 503, and a chunked body over 16 KiB reaches php-fpm without
   * CONTENT_LENGTH, so PHP reads none of it.
   */
  external?: boolean;
}

const fnv = (b: Buffer): string => {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  return `fnv:${h.toString(16).padStart(8, '0')}`;
};
const md5 = (b: Buffer): string => `md5:${createHash('md5').update(b).digest('hex')}`;

const exec = (dir: string, file: string, text: string): void => {
  writeFileSync(join(dir, file), text);
  chmodSync(join(dir, file), 0o755);
};

const PHP_OPTIONS = '-dpost_max_size=64M';

const LIBRARIES: Library[] = [
  {
    name: 'C libfcgi',
    path: '/c/app.fcgi',
    missing: () =>
      !has('gcc', ['--version'])
        ? 'gcc missing (apt-get install gcc)'
        : !existsSync('/usr/include/fcgiapp.h')
          ? 'libfcgi headers missing (apt-get install libfcgi-dev)'
          : undefined,
    install: (dir) => {
      writeFileSync(join(dir, 'app.c'), C_APP);
      execFileSync('gcc', ['-O2', '-o', join(dir, 'app.fcgi'), join(dir, 'app.c'), '-lfcgi']);
    },
    digest: fnv,
  },
  {
    name: 'Perl FCGI',
    path: '/perl/app.fcgi',
    missing: perlFcgiMissing,
    install: (dir) => exec(dir, 'app.fcgi', PERL_APP),
    digest: md5,
  },
  {
    name: 'Ruby fcgi',
    path: '/ruby/app.rb',
    missing: () => (has('ruby', ['-rfcgi', '-e', '1']) ? undefined : 'ruby fcgi missing (apt-get install ruby-fcgi)'),
    install: (dir) => {
      exec(dir, 'app.rb', `#!/usr/bin/ruby\n${RUBY_APP}`);
      // The FAQ's way: only this directory switches .rb files to FastCGI.
      writeFileSync(join(dir, '.htaccess'), '<Files *.rb>\nSetHandler fcgid-script\n</Files>\n');
    },
    digest: md5,
  },
  {
    name: 'php-cgi as FcgidWrapper',
    path: '/php/app.php',
    missing: () => (existsSync('/usr/bin/php-cgi') ? undefined : 'php-cgi missing (apt-get install php-cgi)'),
    install: (dir) => {
      writeFileSync(join(dir, 'app.php'), PHP_APP(''));
      writeFileSync(join(dir, '.htaccess'), `<Files "*.php">\nSetHandler fcgid-script\n</Files>\nFcgidWrapper "/usr/bin/php-cgi ${PHP_OPTIONS}" .php\n`);
    },
    digest: md5,
  },
  {
    name: 'php-cgi as a #! script',
    path: '/phpbang/app.fcgi',
    missing: () => (existsSync('/usr/bin/php-cgi') ? undefined : 'php-cgi missing (apt-get install php-cgi)'),
    install: (dir) => exec(dir, 'app.fcgi', PHP_APP(`#!/usr/bin/php-cgi ${PHP_OPTIONS}\n`)),
    digest: md5,
  },
];

/** php-fpm (Debian installs it versioned, e.g. php-fpm8.2). */
const PHP_FPM = (() => {
  try {
    return execFileSync('sh', ['-c', 'ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1']).toString().trim() || undefined;
  } catch {
    return undefined;
  }
})();
const fpmMissing = (): string | undefined => (PHP_FPM ? undefined : 'php-fpm missing (apt-get install php-fpm)');
const isRoot = process.getuid?.() === 0;
let fpmPort = 0;
const fpmSocket = join(base, 'fpm.sock');

LIBRARIES.push(
  {
    name: 'php-fpm over TCP (proxy:fcgi://)',
    path: '/fpmtcp/app.php',
    missing: fpmMissing,
    install: (dir) => {
      writeFileSync(join(dir, 'app.php'), PHP_APP(''));
      writeFileSync(join(dir, '.htaccess'), `<FilesMatch "\\.php$">\nSetHandler "proxy:fcgi://127.0.0.1:${fpmPort}"\n</FilesMatch>\n`);
    },
    digest: md5,
    external: true,
  },
  {
    name: 'php-fpm over a Unix socket (proxy:unix:)',
    path: '/fpmunix/app.php',
    missing: fpmMissing,
    install: (dir) => {
      writeFileSync(join(dir, 'app.php'), PHP_APP(''));
      writeFileSync(join(dir, '.htaccess'), `<FilesMatch "\\.php$">\nSetHandler "proxy:unix:${fpmSocket}|fcgi://localhost"\n</FilesMatch>\n`);
    },
    digest: md5,
    external: true,
  },
);

let fpm: ChildProcess | undefined;

/** php-fpm with a private configuration: one child per pool (so sequential requests share a pid). */
async function startFpm(): Promise<void> {
  const pool = (name: string, listen: string): string =>
    `[${name}]\n${isRoot ? 'user = www-data\ngroup = www-data\n' : ''}listen = ${listen}\nlisten.mode = 0666\npm = static\npm.max_children = 1\nphp_admin_value[post_max_size] = 64M\ncatch_workers_output = yes\n`;
  const conf = join(base, 'php-fpm.conf');
  writeFileSync(
    conf,
    `[global]\npid = ${join(base, 'fpm.pid')}\nerror_log = ${join(base, 'fpm.log')}\ndaemonize = no\n${pool('tcp', `127.0.0.1:${fpmPort}`)}${pool('unix', fpmSocket)}`,
  );
  fpm = spawn(PHP_FPM!, ['-F', '-R', '-y', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(fpmSocket); i++) await new Promise((r) => setTimeout(r, 50));
}

const available = LIBRARIES.filter((l) => peerAvailable(`FastCGI interop (${l.name})`, l.missing()));
let server: ServeChild;

beforeAll(async () => {
  // The run-as user of php-fpm's pools must reach the scripts.
  chmodSync(base, 0o755);
  mkdirSync(site);
  fpmPort = await freePort();
  for (const lib of available) {
    const dir = join(site, lib.path.split('/')[1]!);
    mkdirSync(dir, { recursive: true });
    lib.install(dir);
  }
  if (available.some((l) => l.external)) await startFpm();
  writeFileSync(
    join(base, 'host.conf'),
    `Include "${PROFILES_DIR}/apache.conf"\nFcgidMaxProcessesPerClass 8\nLoadModule proxy_module modules/mod_proxy.so\nLoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so\n`,
  );
  server = await spawnServe([site, '--port', '0', '--config', join(base, 'host.conf')]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (fpm && fpm.exitCode === null) {
    const gone = new Promise((r) => fpm!.on('exit', r));
    fpm.kill('SIGTERM');
    await gone;
  }
  rmSync(base, { recursive: true, force: true });
  for (const f of execFileSync('ls', [tmpdir()]).toString().split('\n')) if (f.startsWith(`${MARK}-php-`)) rmSync(join(tmpdir(), f), { force: true });
});

/** A request with a body, on its own connection; `chunked` sends it without a Content-Length. */
function send(port: number, path: string, method: string, body?: Buffer, chunked = false): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const length = body && !chunked ? { 'Content-Length': body.length } : {};
    const req = request(
      { host: '127.0.0.1', port, path, method, headers: { Connection: 'close', ...(body ? { 'Content-Type': 'application/octet-stream', ...length } : {}) } },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    if (body && chunked) for (let i = 0; i < body.length; i += 100_000) req.write(body.subarray(i, i + 100_000));
    req.end(chunked ? undefined : body);
  });
}

/** Every application pid an answer named (checked after shutdown). */
const pids = new Set<number>();

/** The app's answer as fields. */
function fields(body: Buffer): Record<string, string> {
  const f: Record<string, string> = Object.fromEntries(
    body
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (f.pid) pids.add(Number(f.pid));
  return f;
}

const TEN_MIB = 10 * 1024 * 1024;

for (const lib of LIBRARIES) {
  describe.runIf(available.includes(lib))(`FastCGI interop: ${lib.name}`, () => {
    it('GET, query string and PATH_INFO', async () => {
      const plain = await get(server.port, lib.path);
      expect(plain.status, plain.body.toString()).toBe(200);
      expect(fields(plain.body)).toMatchObject({ query: '', path_info: '(unset)', len: '0', digest: lib.digest(Buffer.alloc(0)) });
      const q = fields((await get(server.port, `${lib.path}?a=1&b=two%20words`)).body);
      expect(q.query).toBe('a=1&b=two%20words');
      const pi = fields((await get(server.port, `${lib.path}/extra/path?x=1`)).body);
      expect(pi).toMatchObject({ path_info: '/extra/path', query: 'x=1' });
    }, 30_000);

    it('100 sequential requests are served by the same process, which keeps its state', async () => {
      const seen: Record<string, string>[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await get(server.port, lib.path);
        expect(r.status).toBe(200);
        seen.push(fields(r.body));
      }
      expect(new Set(seen.map((f) => f.pid)).size).toBe(1);
      const first = Number(seen[0]!.count);
      expect(seen.map((f) => Number(f.count))).toEqual(seen.map((_, i) => first + i));
    }, 60_000);

    it(`a crash is a clean ${lib.external ? 503 : 500}; the next request gets a new process`, async () => {
      const before = fields((await get(server.port, lib.path)).body);
      const crash = await get(server.port, `${lib.path}?crash`);
      const status = lib.external ? 503 : 500;
      expect(crash.status).toBe(status);
      expect(crash.body.toString()).toContain(`<title>${status} ${lib.external ? 'Service Unavailable' : 'Internal Server Error'}</title>`);
      for (let i = 0; i < 40 && isAlive(Number(before.pid)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(Number(before.pid))).toBe(false);
      const after = await get(server.port, lib.path);
      expect(after.status).toBe(200);
      expect(fields(after.body).pid).not.toBe(before.pid);
      expect(fields(after.body).count).toBe('1');
    }, 30_000);

    it('a 10 MiB POST arrives whole', async () => {
      const body = Buffer.alloc(TEN_MIB);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 13)) & 0xff;
      const r = await send(server.port, lib.path, 'POST', body);
      expect(r.status, r.body.toString().slice(0, 500)).toBe(200);
      expect(fields(r.body)).toMatchObject({ len: String(TEN_MIB), digest: lib.digest(body) });
    }, 60_000);

    it(lib.external ? 'a chunked upload: whole up to 16 KiB, over it PHP reads nothing (as on the host)' : 'a chunked upload (no Content-Length) arrives whole', async () => {
      const body = Buffer.alloc(1_500_000);
      for (let i = 0; i < body.length; i++) body[i] = (i * 13) & 0xff;
      const r = await send(server.port, lib.path, 'POST', body, true);
      expect(r.status, r.body.toString().slice(0, 500)).toBe(200);
      if (!lib.external) {
        expect(fields(r.body)).toMatchObject({ len: String(body.length), digest: lib.digest(body) });
        return;
      }
      expect(fields(r.body)).toMatchObject({ len: '0' });
      const small = body.subarray(0, 10_000);
      const s = await send(server.port, lib.path, 'POST', small, true);
      expect(fields(s.body)).toMatchObject({ len: String(small.length), digest: lib.digest(small) });
    }, 60_000);

    it('a 10 MiB response arrives whole', async () => {
      const r = await get(server.port, `${lib.path}?big=${TEN_MIB}`);
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(TEN_MIB);
      const alphabet = 'abcdefghijklmnopqrstuvwxyz';
      for (const i of [0, 1, 25, 26, 65519, 65520, 65521, TEN_MIB - 1]) expect(String.fromCharCode(r.body[i]!)).toBe(alphabet[i % 26]);
    }, 60_000);

    it('32 concurrent requests all answer', async () => {
      const results = await Promise.all(Array.from({ length: 32 }, (_, i) => send(server.port, `${lib.path}?n=${i}`, 'POST', Buffer.from(`body ${i}`))));
      results.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(fields(r.body)).toMatchObject({ query: `n=${i}`, len: String(`body ${i}`.length), digest: lib.digest(Buffer.from(`body ${i}`)) });
      });
    }, 60_000);
  });
}

describe.runIf(available.length > 0)('FastCGI interop: afterwards', () => {
  it('the server logged no unexpected failure and leaves no application behind', async () => {
    const unexpected = server
      .log()
      .split('\n')
      .filter((l) => /"level":50/.test(l) && !/"appOutput"/.test(l) && !/app\.(fcgi|rb|php)/.test(l));
    expect(unexpected).toEqual([]);
    expect(await server.stop()).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(pids.size).toBeGreaterThan(available.length);
    // php-fpm's children are php-fpm's to manage (stopped in afterAll), not the server's.
    const cmdline = (pid: number): string => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      } catch {
        return '';
      }
    };
    expect([...pids].filter((p) => isAlive(p) && !cmdline(p).startsWith('php-fpm'))).toEqual([]);
  }, 15_000);
});
