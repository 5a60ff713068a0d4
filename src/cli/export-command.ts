/**
 * `htsandbox export SITE --to DIR`: when a site outgrows the sandbox, hand it to the real engine.
 * Writes a self-contained Apache 2.4 + mod_fcgid configuration (`DIR/httpd.conf`, for Debian's
 * `apache2 -f DIR/httpd.conf`) equal to what htsandbox emulated — the profile's (or `--config`'s)
 * modules, handler map, fcgid limits and AllowOverride, with the site as DocumentRoot — plus the
 * `mime.types` it reads and a `Dockerfile` on Debian's `apache2 libapache2-mod-fcgid`.
 *
 * The host configuration already is Apache syntax (htsandbox reads the same files it hands to
 * the reference Apache in its tests), so the export inlines it and adds what a stand-alone server
 * needs: ServerRoot, an MPM, Listen, the pid, log and socket files, User/Group for a root start.
 * Modules of the Scripts host that Debian's Apache lacks are left out with a comment, and the
 * site's directives that need them are reported.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PROFILES_DIR, resolveHostFile } from '../adapters/server-config-loader.js';
import { lookupDirective } from '../grammar/directive-registry.js';
import type { CommandIo } from './io.js';
import { accessFilesUnder } from '../adapters/site-files.js';

export interface ExportOptions {
  root: string;
  to: string;
  profile?: string;
  config?: string;
  /** The port the exported server listens on (default 8080). */
  port: number;
}

/** The Scripts host's own modules: not in Debian's apache2 (certificate logins, AFS groups, optional auth). */
export const HOST_ONLY_MODULES: ReadonlyMap<string, string> = new Map([
  ['auth_sslcert_module', 'auth_sslcert'],
  ['authz_afsgroup_module', 'authz_afsgroup'],
  ['auth_optional_module', 'auth_optional'],
]);

/** Where the Dockerfile puts the site and the configuration. */
const DOCKER_SITE = '/var/www/site';
const DOCKER_CONF = '/etc/htsandbox';

/** The host configuration with its `Include`s of bundled profiles inlined (bounded depth). */
function flatten(file: string, depth = 0): string {
  const text = readFileSync(file, 'latin1');
  if (depth > 8) return text;
  return text.replace(/^[ \t]*Include(?:Optional)?[ \t]+"?\$\{HTSANDBOX_PROFILES\}\/([^"\s]+)"?[ \t]*$/gim, (_m, name: string) => {
    const inner = join(PROFILES_DIR, name);
    return `# --- ${name} (htsandbox's bundled profile, inlined) ---\n${flatten(inner, depth + 1)}\n# --- end of ${name} ---`;
  });
}

/** `LoadModule` lines of modules Debian lacks, commented out; the modules left out. */
function withoutHostOnlyModules(text: string): { text: string; dropped: string[] } {
  const dropped: string[] = [];
  const out = text.replace(/^([ \t]*)LoadModule[ \t]+(\S+)[ \t]+(\S+)[ \t]*$/gim, (line, _indent: string, symbol: string) => {
    const id = HOST_ONLY_MODULES.get(symbol);
    if (!id) return line;
    dropped.push(id);
    return `# Left out: mod_${id} is the Scripts host's own module; Debian's Apache has no such module.\n# ${line.trim()}`;
  });
  return { text: out, dropped };
}

/** `.htaccess` lines of the site that need a module the export left out, as `file:line directive`. */
function linesNeeding(siteRoot: string, dropped: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const p of accessFilesUnder(siteRoot)) {
    readFileSync(p, 'latin1')
      .split('\n')
      .forEach((line, i) => {
        const words = line.trim().split(/\s+/);
        const spec = words[0] ? lookupDirective(words[0].toLowerCase()) : undefined;
        const needs = spec && spec.modules.length > 0 && spec.modules.every((m) => dropped.has(m));
        const afs = /^require$/i.test(words[0] ?? '') && /^afsgroup$/i.test(words[1] ?? '') && dropped.has('authz_afsgroup');
        if (needs || afs) out.push(`${relative(process.cwd(), p) || p}:${i + 1}: ${words.slice(0, 2).join(' ')} (mod_${afs ? 'authz_afsgroup' : spec!.modules[0]})`);
      });
  }
  return out.sort();
}

/** The stand-alone server's own lines around the host configuration. */
function httpdConf(siteRoot: string, exportDir: string, port: number, host: string, source: string, dropped: string[]): string {
  return [
    `# Apache 2.4 + mod_fcgid configuration exported by htsandbox from ${source}.`,
    '# Run it:   apache2 -f "$PWD/httpd.conf" -DFOREGROUND        (Debian: apt-get install apache2 libapache2-mod-fcgid)',
    '# Check it: apache2 -t -f "$PWD/httpd.conf"',
    '',
    '# The site and this directory: edit these two lines if you move either (the Dockerfile does).',
    `Define HTSANDBOX_SITE_ROOT "${siteRoot}"`,
    `Define HTSANDBOX_PROFILES "${exportDir}"`,
    `Define HTSANDBOX_RUN "${exportDir}/run"`,
    '',
    'ServerRoot "/usr/lib/apache2"',
    'DefaultRuntimeDir "${HTSANDBOX_RUN}"',
    'PidFile "${HTSANDBOX_RUN}/httpd.pid"',
    `Listen ${port}`,
    'ErrorLog "${HTSANDBOX_RUN}/error.log"',
    'LogLevel warn',
    'LoadModule mpm_event_module modules/mod_mpm_event.so',
    // mod_log_config and mod_unixd are compiled into Debian's apache2 (no LoadModule for them).
    'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined',
    'CustomLog "${HTSANDBOX_RUN}/access.log" combined',
    '# Started as root, Apache serves (and runs scripts) as www-data: it must be able to read the site.',
    'User www-data',
    'Group www-data',
    '',
    `# ---- the host's configuration (${source}) ----`,
    host.trimEnd(),
    "# ---- end of the host's configuration ----",
    '',
    '<IfModule cgid_module>',
    '    ScriptSock "${HTSANDBOX_RUN}/cgid.sock"',
    '</IfModule>',
    '<IfModule fcgid_module>',
    '    FcgidIPCDir "${HTSANDBOX_RUN}/fcgid"',
    '    FcgidProcessTableFile "${HTSANDBOX_RUN}/fcgid_shm"',
    '</IfModule>',
    ...(dropped.length ? ['', `# Not exported (no such module in Debian's Apache): ${dropped.map((d) => `mod_${d}`).join(', ')}.`] : []),
    '',
  ].join('\n');
}

function dockerfile(port: number): string {
  return [
    '# Serves the site with real Apache 2.4 + mod_fcgid, configured as htsandbox emulated it.',
    '# Build from a directory holding this export and the site:  docker build -t mysite -f export/Dockerfile .',
    '# (the site in ./site, this directory in ./export), then:  docker run -p 8080:8080 mysite',
    'FROM debian:bookworm-slim',
    'RUN apt-get update \\',
    ' && apt-get install -y --no-install-recommends apache2 libapache2-mod-fcgid php-cgi libfcgi-perl ruby-fcgi \\',
    ' && rm -rf /var/lib/apt/lists/*',
    `COPY export/ ${DOCKER_CONF}/`,
    `COPY site/ ${DOCKER_SITE}/`,
    `RUN sed -i -e 's|^Define HTSANDBOX_SITE_ROOT .*|Define HTSANDBOX_SITE_ROOT "${DOCKER_SITE}"|' \\`,
    `           -e 's|^Define HTSANDBOX_PROFILES .*|Define HTSANDBOX_PROFILES "${DOCKER_CONF}"|' \\`,
    `           -e 's|^Define HTSANDBOX_RUN .*|Define HTSANDBOX_RUN "/run/htsandbox"|' ${DOCKER_CONF}/httpd.conf \\`,
    ' && mkdir -p /run/htsandbox/fcgid && chown -R www-data:www-data /run/htsandbox/fcgid ' + DOCKER_SITE + ' \\',
    ` && apache2 -t -f ${DOCKER_CONF}/httpd.conf`,
    `EXPOSE ${port}`,
    `CMD ["apache2", "-f", "${DOCKER_CONF}/httpd.conf", "-DFOREGROUND"]`,
    '',
  ].join('\n');
}

/** Runs `export`: 0 written, 2 usage or I/O problem. */
export function runExport(opts: ExportOptions, io: CommandIo): number {
  const siteRoot = resolve(io.cwd, opts.root);
  try {
    if (!statSync(siteRoot).isDirectory()) throw new Error('not a directory');
  } catch {
    io.stderr.write(`htsandbox export: ${opts.root} is not a directory\n`);
    return 2;
  }
  const where = resolveHostFile({ siteRoot, ...(opts.config ? { configFile: resolve(io.cwd, opts.config) } : {}), ...(opts.profile ? { profile: opts.profile } : {}) });
  if ('error' in where) {
    io.stderr.write(`htsandbox export: ${where.error}\n`);
    return 2;
  }
  const dir = resolve(io.cwd, opts.to);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    io.stderr.write(`htsandbox export: ${opts.to} is not empty; choose a new directory (nothing was written)\n`);
    return 2;
  }
  let host: { text: string; dropped: string[] };
  try {
    host = withoutHostOnlyModules(flatten(where.file));
  } catch (err) {
    io.stderr.write(`htsandbox export: cannot read ${where.file}: ${(err as Error).message}\n`);
    return 2;
  }
  const source = opts.config ? relative(io.cwd, resolve(io.cwd, opts.config)) || opts.config : `profile ${opts.profile ?? 'scripts'}`;
  try {
    mkdirSync(join(dir, 'run', 'fcgid'), { recursive: true });
    copyFileSync(join(PROFILES_DIR, 'mime.types'), join(dir, 'mime.types'));
    // A --config may read other files beside it through ${HTSANDBOX_PROFILES}: only the bundled ones are known.
    writeFileSync(join(dir, 'httpd.conf'), httpdConf(siteRoot, dir, opts.port, host.text, source, host.dropped));
    writeFileSync(join(dir, 'Dockerfile'), dockerfile(opts.port));
  } catch (err) {
    io.stderr.write(`htsandbox export: cannot write ${opts.to}: ${(err as Error).message}\n`);
    return 2;
  }
  const shown = (p: string): string => {
    const rel = relative(io.cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  };
  const lines = [`htsandbox: exported ${shown(siteRoot)} (${source}) to ${shown(dir)}: httpd.conf, mime.types, Dockerfile`];
  if (host.dropped.length) {
    lines.push(`left out (the Scripts host's own modules, not in Debian's Apache): ${host.dropped.map((d) => `mod_${d}`).join(', ')}`);
    const needing = linesNeeding(siteRoot, new Set(host.dropped));
    if (needing.length) {
      lines.push('these lines of the site need them, and Apache will refuse them (500) until you remove them or wrap them in <IfModule>:');
      for (const l of needing) lines.push(`  ${l}`);
    }
  }
  lines.push(
    `run it:  apache2 -f ${shown(join(dir, 'httpd.conf'))} -DFOREGROUND   (as root it serves as www-data, which must read ${shown(siteRoot)}; http://localhost:${opts.port}/)`,
    '',
  );
  io.stdout.write(lines.join('\n'));
  return 0;
}
