/**
 * `check` must report an error exactly when real Apache rejects the file. With Apache
 * installed the verdicts are taken live (and must equal the recording: drift fails); without
 * it, the recorded verdicts are the judge. HTSANDBOX_RECORD=1 rewrites the recording.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHost } from '../src/adapters/server-config-loader.js';
import { checkSite } from '../src/adapters/site-checker.js';
import { apacheMissing, peerAvailable } from './helpers/peers.js';
import { startPrivateApache, writeHostConfig, PROFILES_DIR, type PrivateApache } from './helpers/private-apache.js';
import { readFileSync } from 'node:fs';
import { HTACCESS_FIXTURES, loadFixtures, overrideSections, type ApacheVerdict, type HtaccessFixture } from './helpers/htaccess-fixtures.js';

const RECORD = process.env.HTSANDBOX_RECORD === '1';

/**
 * The hosts the corpus is judged on: the `apache` profile, and the same with the modules the
 * Scripts host adds that change what a file may name (mod_deflate's and mod_include's
 * filters, mod_auth_digest, mod_authn_anon), for the fixtures whose verdict depends on them.
 * (The Scripts profile itself loads modules Debian does not ship.)
 */
const HOSTS: { title: string; verdicts: string; extra: string; only?: (name: string) => boolean }[] = [
  { title: 'the apache profile', verdicts: 'verdicts.json', extra: '' },
  {
    title: "the apache profile with the Scripts host's filter and auth modules",
    verdicts: 'verdicts-scripts-modules.json',
    extra: ['deflate', 'include', 'auth_digest', 'authn_anon'].map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n'),
    only: (name) => name.startsWith('filter-') || name.startsWith('provider-'),
  },
];

for (const host of HOSTS) {
  const fixtures: HtaccessFixture[] = loadFixtures().filter((f) => host.only?.(f.name) ?? true);
  const VERDICTS_FILE = join(HTACCESS_FIXTURES, host.verdicts);
  const readVerdicts = (): Record<string, ApacheVerdict> => JSON.parse(readFileSync(VERDICTS_FILE, 'utf8')) as Record<string, ApacheVerdict>;

  function buildSite(): string {
    const dir = mkdtempSync(join(tmpdir(), 'htsandbox-fixtures-'));
    const site = join(dir, 'site');
    mkdirSync(site);
    for (const f of fixtures) {
      mkdirSync(join(site, f.name));
      writeFileSync(join(site, f.name, '.htaccess'), f.content);
      writeFileSync(join(site, f.name, 'index.html'), 'ok\n');
    }
    return site;
  }

  /** The status Apache answers with; 0 when the connection closes with no answer (its child crashed). */
  function fetchStatus(port: number, path: string): Promise<number> {
    return new Promise((res) => {
      const req = get({ host: '127.0.0.1', port, path, headers: { Connection: 'close' } }, (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      });
      req.on('error', () => res(0));
    });
  }

  /** Reads Apache's alert/crit lines for each fixture directory from its error log. */
  function verdictsFromLog(log: string, siteRoot: string, statuses: Map<string, number>): Record<string, ApacheVerdict> {
    const out: Record<string, ApacheVerdict> = {};
    for (const f of fixtures) {
      const prefix = `${siteRoot}/${f.name}/.htaccess: `;
      const line = log.split('\n').find((l) => l.includes('[core:alert]') && l.includes(prefix));
      if (statuses.get(f.name) === 0) {
        out[f.name] = { rejected: true, noAnswer: true };
      } else if (line) {
        const message = line
          .slice(line.indexOf(prefix) + prefix.length)
          .split(siteRoot)
          .join('{root}');
        out[f.name] = { rejected: true, message };
      } else {
        out[f.name] = { rejected: statuses.get(f.name) === 500 };
      }
    }
    return out;
  }

  let recorded: Record<string, ApacheVerdict> = {};
  try {
    recorded = readVerdicts();
  } catch {
    recorded = {};
  }

  describe(`check agrees with Apache on the .htaccess corpus, on ${host.title}`, () => {
    const live = peerAvailable('Apache verdicts for the .htaccess corpus', apacheMissing());
    let apache: PrivateApache | undefined;
    let liveVerdicts: Record<string, ApacheVerdict> | undefined;
    let ours: Map<string, { rejected: boolean; messages: string[] }>;
    let codes: Map<string, string[]>;

    beforeAll(async () => {
      const site = buildSite();
      if (live) {
        apache = await startPrivateApache({ site, extraConfig: (root) => `${host.extra}\n${overrideSections(root, fixtures)}` });
        const statuses = new Map<string, number>();
        for (const f of fixtures) {
          const path = `/${f.name}/index.html`;
          // No answer at all: Apache's child crashed on the file, or the loaded machine dropped
          // the connection. Ask once more; a crash repeats, a dropped connection does not.
          let status = await fetchStatus(apache.port, path);
          if (status === 0) status = await fetchStatus(apache.port, path);
          statuses.set(f.name, status);
        }
        liveVerdicts = verdictsFromLog(apache.errorLog(), apache.siteRoot, statuses);
        if (RECORD) writeFileSync(VERDICTS_FILE, `${JSON.stringify(liveVerdicts, null, 2)}\n`);
      }
      // Our verdicts, with the same host configuration Apache read.
      const cfgDir = mkdtempSync(join(tmpdir(), 'htsandbox-cfg-'));
      const cfg = join(cfgDir, 'host.conf');
      writeHostConfig(cfg, site, join(PROFILES_DIR, 'apache.conf'), `${host.extra}\n${overrideSections(site, fixtures)}`);
      const loaded = loadHost({ configFile: cfg, siteRoot: site });
      if ('error' in loaded) throw new Error(loaded.error);
      const result = checkSite(site, loaded);
      ours = new Map();
      codes = new Map();
      for (const f of fixtures) {
        const file = join(site, f.name, '.htaccess');
        const messages = result.diagnostics.filter((d) => d.file === file && d.severity === 'error').map((d) => d.message.split(site).join('{root}'));
        ours.set(f.name, { rejected: messages.length > 0, messages });
        codes.set(
          f.name,
          result.diagnostics.filter((d) => d.file === file && d.severity === 'error').map((d) => d.code),
        );
      }
      rmSync(cfgDir, { recursive: true, force: true });
    }, 120_000);

    afterAll(async () => {
      await apache?.stop();
    });

    it('has its fixtures', () => {
      expect(fixtures.length).toBeGreaterThanOrEqual(host.only ? 20 : 60);
    });

    it.each(fixtures.map((f) => f.name))('%s', (name) => {
      const expected = liveVerdicts?.[name] ?? recorded[name];
      expect(expected, `no recorded Apache verdict for ${name}; run npm run record:htaccess`).toBeDefined();
      if (liveVerdicts && !RECORD) {
        expect(liveVerdicts[name], 'Apache drifted from the recorded verdict').toEqual(recorded[name]);
      }
      const mine = ours.get(name)!;
      expect({ rejected: mine.rejected, messages: mine.messages }).toMatchObject({ rejected: expected!.rejected });
      // Apache's child died reading the file (no answer, no log line of its own): ours says so.
      if (expected!.noAnswer) expect(codes.get(name)![0]).toBe('HT111');
      if (expected!.rejected && expected!.message !== undefined) {
        expect(mine.messages[0]).toBe(expected!.message);
      }
    });
  });
}
