/**
 * The starter site (`fixtures/example-site`, what `npm start` serves and `htsandbox init`
 * copies): every link on its index page answers the status its text promises, and a copy made
 * by `init` works where it lands (its password file found by absolute path).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { STARTER_SITE } from '../src/cli/init-command.js';
import { get, serveInProcess } from './helpers/serve-in-process.js';
import { peerAvailable, perlFcgiMissing } from './helpers/peers.js';

const rubyFcgiMissing = (): string | undefined => {
  try {
    execFileSync('ruby', ['-rfcgi', '-e', '1'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'ruby fcgi missing (apt-get install ruby-fcgi)';
  }
};
const missing = [perlFcgiMissing(), rubyFcgiMissing(), existsSync('/usr/bin/php-cgi') ? undefined : 'php-cgi missing (apt-get install php-cgi)'].filter(Boolean);
const havePeers = peerAvailable("the starter site's interpreters (Perl FCGI, Ruby fcgi, php-cgi)", missing.length ? missing.join('; ') : undefined);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: process.cwd() },
    out: () => out,
    err: () => err,
  };
}

/** Each `<a href>` of the page with the status its text names in brackets, e.g. "(404)". */
function promisedLinks(html: string): { href: string; text: string; status: number | undefined }[] {
  return [...html.matchAll(/<a href="([^"]+)">([\s\S]*?)<\/a>/g)].map(([, href, text]) => {
    const m = /\((\d{3})\)\s*$/.exec(text!);
    return { href: href!, text: text!, status: m ? Number(m[1]) : undefined };
  });
}

describe.runIf(havePeers)('the starter site', () => {
  it('answers every link of its index page with the status the link promises', async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const index = await get(server.port, '/');
      expect(index.status).toBe(200);
      const links = promisedLinks(index.body.toString('utf8'));
      expect(links.length).toBeGreaterThanOrEqual(15);
      expect(links.filter((l) => l.status === undefined).map((l) => l.href)).toEqual([]);
      const got: string[] = [];
      const want: string[] = [];
      for (const link of links) {
        const r = await get(server.port, `/${link.href}`);
        got.push(`${link.href} ${r.status}`);
        want.push(`${link.href} ${link.status}`);
      }
      expect(got).toEqual(want);
    } finally {
      await server.stop();
    }
  });

  it("keeps the FastCGI counter's count between requests (one persistent process)", async () => {
    const server = await serveInProcess(STARTER_SITE);
    try {
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const body = (await get(server.port, '/counter.fcgi')).body.toString();
        counts.push(Number(/answered (\d+) request/.exec(body)?.[1]));
      }
      expect(counts[1]).toBe(counts[0]! + 1);
      expect(counts[2]).toBe(counts[0]! + 2);
    } finally {
      await server.stop();
    }
  });
});

describe('htsandbox init', () => {
  it('copies the starter site with its modes and an absolute AuthUserFile, and refuses a non-empty directory', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-init-'));
    dirs.push(parent);
    const target = join(parent, 'mysite');
    const run = io();
    expect(await main(['init', target], run.io)).toBe(0);
    expect(run.out()).toContain(`htsandbox serve ${target}`);
    expect(statSync(join(target, 'hello.cgi')).mode & 0o111).not.toBe(0);
    expect(statSync(join(target, 'errors/not-executable.cgi')).mode & 0o111).toBe(0);
    expect(readFileSync(join(target, 'private/.htaccess'), 'latin1')).toContain(`AuthUserFile ${target}/private/.htpasswd`);
    const again = io();
    expect(await main(['init', target], again.io)).toBe(2);
    expect(again.err()).toContain('is not empty');
  });

  it('makes a site whose check finds exactly the three error demos', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-init-'));
    dirs.push(parent);
    const target = join(parent, 'site');
    expect(await main(['init', target], io().io)).toBe(0);
    const run = io();
    expect(await main(['check', target, '--format', 'json'], run.io)).toBe(1);
    const found = (JSON.parse(run.out()) as { diagnostics: { file: string; code: string; severity: string }[] }).diagnostics
      .filter((d) => d.severity === 'error')
      .map((d) => `${d.file.slice(target.length + 1)} ${d.code}`)
      .sort();
    expect(found).toEqual(['errors/broken-htaccess/.htaccess HT100', 'errors/not-executable.cgi HT400', 'errors/windows-line-endings.cgi HT400']);
  });

  it.runIf(havePeers)('makes a site whose password-protected page opens with the documented password', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'htsandbox-init-'));
    dirs.push(parent);
    const target = join(parent, 'site');
    expect(await main(['init', target], io().io)).toBe(0);
    const server = await serveInProcess(target);
    try {
      expect((await get(server.port, '/private/')).status).toBe(401);
      const auth = `Basic ${Buffer.from('student:sandbox').toString('base64')}`;
      expect((await get(server.port, '/private/', 'GET', { Authorization: auth })).status).toBe(200);
      expect((await get(server.port, '/private/', 'GET', { Authorization: `Basic ${Buffer.from('student:wrong').toString('base64')}` })).status).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
