/**
 * Real peers (Apache, php-cgi, …): a test that needs one skips with a printed reason when it
 * is missing, and fails instead when HTSANDBOX_REQUIRE_PEERS=1 (as in CI).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const REQUIRE_PEERS = process.env.HTSANDBOX_REQUIRE_PEERS === '1';

export const APACHE_BIN = process.env.APACHE_BIN ?? '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';

/** Undefined when Apache 2.4 + mod_fcgid are installed, else why not. */
export function apacheMissing(): string | undefined {
  if (!existsSync(APACHE_BIN)) return `${APACHE_BIN} not found (apt-get install apache2)`;
  if (!existsSync(`${APACHE_MODULES}/mod_fcgid.so`)) return 'mod_fcgid not found (apt-get install libapache2-mod-fcgid)';
  return undefined;
}

/**
 * Decides whether a peer-dependent suite runs: returns true to run; when the peer is missing
 * it prints why and returns false, or throws when peers are required.
 */
export function peerAvailable(what: string, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  if (REQUIRE_PEERS) throw new Error(`HTSANDBOX_REQUIRE_PEERS=1 but ${what} is unavailable: ${missing}`);
  process.stderr.write(`[skip] ${what}: ${missing}\n`);
  return false;
}

/** Undefined when Perl's FCGI module is installed, else why not. */
export function perlFcgiMissing(): string | undefined {
  try {
    execFileSync('perl', ['-MFCGI', '-e', '1'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'perl FCGI module missing (apt-get install libfcgi-perl)';
  }
}

/**
 * What a conformance case needs beyond Apache (its `requires.txt`: one item a line, `#`
 * comments): an absolute path that must exist, `perl:Module::Name`, `python3:module`,
 * `ruby:library`, or a command found on PATH. Undefined when all are there, else what is not.
 */
export function caseRequirementsMissing(text: string): string | undefined {
  const missing: string[] = [];
  const works = (cmd: string, args: string[]): boolean => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
      return true;
    } catch {
      return false;
    }
  };
  for (const raw of text.split('\n')) {
    const item = raw.replace(/#.*/, '').trim();
    if (item === '') continue;
    const lang = /^(perl|python3|ruby):(.+)$/.exec(item);
    let ok: boolean;
    if (lang) {
      const [, interp, lib] = lang;
      const args = interp === 'perl' ? [`-M${lib}`, '-e', '1'] : interp === 'python3' ? ['-c', `import ${lib}`] : ['-e', `require '${lib}'`];
      ok = works(interp!, args);
    } else if (item.startsWith('/')) {
      ok = existsSync(item);
    } else {
      ok = works('sh', ['-c', `command -v '${item.replace(/'/g, '')}'`]);
    }
    if (!ok) missing.push(item);
  }
  return missing.length === 0 ? undefined : `missing ${missing.join(', ')} (see .ci/run for the apt packages)`;
}
