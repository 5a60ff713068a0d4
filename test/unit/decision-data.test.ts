/**
 * Decisions are plain data: every kind prints as JSON, survives structuredClone and compares
 * equal to its copy; what a decision says of its configuration is a `ConfigRef` (the sections
 * and files that built it), and only the engine's own reference leads back to the compiled
 * configuration. Golden files (fixtures/decisions/NAME.json) hold the JSON print of a few;
 * `HTSANDBOX_RECORD=1` rewrites them.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHost, PROFILES_DIR } from '../../src/adapters/server-config-loader.js';
import { siteResolveContext } from '../../src/adapters/site-resolve-context.js';
import { dirConfigOf, printDecision } from '../../src/engine/config-ref.js';
import { resolveRequest, type Decision, type RequestFacts, type ResolveContext } from '../../src/engine/resolve.js';
import { PROJECT_ROOT, writeHostConfig } from '../helpers/private-apache.js';
import { profileContext, writeSite } from '../helpers/site-context.js';

const SITE: Record<string, string> = {
  '.htaccess': [
    'ErrorDocument 404 /missing.html',
    'RewriteEngine On',
    'RewriteRule ^old$ /new [R=301,L]',
    'RewriteRule ^front/(.*)$ /app.cgi/$1 [L]',
    '<Files "*.cgi">',
    '  Options +ExecCGI',
    '  SetHandler cgi-script',
    '</Files>',
    '',
  ].join('\n'),
  'page.txt': 'hello\n',
  'app.cgi': '#!/bin/sh\n',
  'list/.htaccess': 'Options +Indexes\nSetEnv LISTED yes\n',
  'list/a.txt': 'a\n',
  'deny/.htaccess': 'Require all denied\n',
  'deny/x.txt': 'x\n',
};

const ALICE = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
const DIR = join(PROJECT_ROOT, 'fixtures/decisions');
const record = process.env.HTSANDBOX_RECORD === '1';

let dir: string;
let site: string;
let ctx: ResolveContext;
let authCtx: ResolveContext;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'htsandbox-decision-data-'));
  site = writeSite(SITE, join(dir, 'site'));
  ctx = profileContext(site);
  // A mod_fcgid authorizer, as the conformance case configures it.
  const authCase = join(PROJECT_ROOT, 'fixtures/conformance/fastcgi-auth');
  const authSite = join(dir, 'auth-site');
  cpSync(join(authCase, 'site'), authSite, { recursive: true });
  const conf = join(dir, 'host.conf');
  writeHostConfig(conf, authSite, join(PROFILES_DIR, 'apache.conf'), readFileSync(join(authCase, 'config.conf'), 'utf8').split('{{ROOT}}').join(authSite));
  const loaded = loadHost({ configFile: conf, siteRoot: authSite });
  if ('error' in loaded) throw new Error(loaded.error);
  const made = siteResolveContext(loaded, authSite, { watch: false });
  if ('error' in made) throw new Error(made.error);
  authCtx = made;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function facts(path: string, method = 'GET', authorization?: string): RequestFacts {
  const q = path.indexOf('?');
  return {
    method,
    rawPath: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? undefined : path.slice(q + 1),
    remoteAddr: '127.0.0.1',
    origin: 'http://localhost',
    headers: authorization ? { authorization } : {},
  };
}

/** One request per kind of decision. */
function decisions(): Record<Decision['kind'], Decision> {
  return {
    file: resolveRequest(ctx, facts('/page.txt')),
    listing: resolveRequest(ctx, facts('/list/')),
    options: resolveRequest(ctx, facts('/page.txt', 'OPTIONS')),
    redirect: resolveRequest(ctx, facts('/old?a=1')),
    internal: resolveRequest(ctx, facts('/front/x')),
    handler: resolveRequest(ctx, facts('/app.cgi/p')),
    error: resolveRequest(ctx, facts('/deny/x.txt')),
    'fcgi-auth': resolveRequest(authCtx, facts('/authz/page.txt', 'GET', ALICE)),
  };
}

/** Whether a function hides anywhere in a value (a closure, a compiled matcher, a class with behaviour). */
function functionsIn(value: unknown, path = 'decision', seen = new Set<unknown>()): string[] {
  if (typeof value === 'function') return [path];
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== Map.prototype && proto !== null) return [`${path} (a ${(value as object).constructor.name})`];
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return entries.flatMap(([k, v]) => functionsIn(v, `${path}.${String(k)}`, seen));
}

/** The JSON print with what differs between checkouts and runs replaced: paths, a file's inode, device, owner and times, the configuration's id. */
function golden(d: Decision): string {
  const plain = JSON.parse(printDecision(d)) as Record<string, unknown>;
  const entry = plain.entry as Record<string, unknown> | undefined;
  if (entry) plain.entry = { kind: entry.kind, size: entry.size };
  // The id numbers configurations in the order this process built them.
  (plain.config as { id: unknown }).id = '{id}';
  return `${JSON.stringify(plain, null, 2).split(dir).join('{tmp}').split(PROJECT_ROOT).join('{project}')}\n`;
}

describe('decisions are plain data', () => {
  it('makes every kind of decision from requests on fixture sites', () => {
    const all = decisions();
    for (const [kind, d] of Object.entries(all)) expect(d.kind, kind).toBe(kind);
  });

  for (const kind of ['file', 'listing', 'options', 'redirect', 'internal', 'handler', 'error', 'fcgi-auth'] as const) {
    it(`${kind}: no function inside, structuredClone and JSON print work`, () => {
      const d = decisions()[kind];
      expect(functionsIn(d)).toEqual([]);
      const copy = structuredClone(d);
      expect(copy).toEqual(d);
      expect(JSON.parse(printDecision(copy))).toEqual(JSON.parse(printDecision(d)));
    });
  }

  it('names the configuration by the sections and files that built it', () => {
    const { handler, listing } = decisions();
    if (handler.kind !== 'handler' || listing.kind !== 'listing') throw new Error('unexpected kinds');
    expect(handler.config.levels.at(-2)).toBe(join(site, '.htaccess'));
    expect(handler.config.levels.at(-1)).toBe(`${join(site, '.htaccess')}:5 <Files "*.cgi">`);
    expect(listing.config.levels.at(-1)).toBe(join(site, 'list/.htaccess'));
    // The same directory's requests share one configuration, and so one reference.
    expect(resolveRequest(ctx, facts('/list/')).config).toBe(listing.config);
  });

  it('leads back to the compiled configuration through the engine, from a copy too', () => {
    const { listing } = decisions();
    if (listing.kind !== 'listing') throw new Error('unexpected kind');
    expect(dirConfigOf(listing.config).indexIgnore).toBeDefined();
    // A copy (a waiting decision cloned or read back) finds it while this process holds it.
    expect(dirConfigOf(structuredClone(listing.config))).toBe(dirConfigOf(listing.config));
    expect(() => dirConfigOf({ id: 0, levels: ['server'] })).toThrow(/no configuration of this process answers to reference 0/);
    expect(() => dirConfigOf({ ...listing.config, levels: ['elsewhere'] })).toThrow(/no configuration/);
  });

  for (const kind of ['file', 'internal', 'handler', 'error', 'fcgi-auth'] as const) {
    it(`prints a ${kind} decision as its golden file says`, () => {
      const out = golden(decisions()[kind]);
      const file = join(DIR, `${kind}.json`);
      if (record || !existsSync(file)) writeFileSync(file, out);
      expect(out).toBe(readFileSync(file, 'utf8'));
    });
  }
});
