/**
 * The access phase's decisions are plain data: a request that waits for a mod_fcgid
 * access-phase program carries where it stopped (`access`), not a closure, and
 * `continueAfterAuthorizer` goes on from a copy of it as mod_fcgid_check_auth's answer says.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHost, PROFILES_DIR } from '../../src/adapters/server-config-loader.js';
import { siteResolveContext } from '../../src/adapters/site-resolve-context.js';
import { continueAfterAuthorizer, resolveRequest, type Decision, type RequestFacts, type ResolveContext } from '../../src/engine/resolve.js';
import { PROJECT_ROOT, writeHostConfig } from '../helpers/private-apache.js';

const CASE = join(PROJECT_ROOT, 'fixtures/conformance/fastcgi-auth');
const ALICE = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
const CAROL = `Basic ${Buffer.from('carol:fcgi-pass').toString('base64')}`;

let dir: string;
let ctx: ResolveContext;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'htsandbox-access-state-'));
  const siteRoot = join(dir, 'site');
  cpSync(join(CASE, 'site'), siteRoot, { recursive: true });
  const conf = join(dir, 'host.conf');
  writeHostConfig(conf, siteRoot, join(PROFILES_DIR, 'apache.conf'), readFileSync(join(CASE, 'config.conf'), 'utf8').split('{{ROOT}}').join(siteRoot));
  const loaded = loadHost({ configFile: conf, siteRoot });
  if ('error' in loaded) throw new Error(loaded.error);
  const made = siteResolveContext(loaded, siteRoot, { watch: false });
  if ('error' in made) throw new Error(made.error);
  ctx = made;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function facts(path: string, authorization?: string): RequestFacts {
  return { method: 'GET', rawPath: path, query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost', headers: authorization ? { authorization } : {} };
}

type Waiting = Extract<Decision, { kind: 'fcgi-auth' }>;

function waiting(d: Decision): Waiting {
  expect(d.kind).toBe('fcgi-auth');
  return d as Waiting;
}

describe('a decision that waits for a mod_fcgid program', () => {
  it('holds no function and survives structuredClone and JSON', () => {
    const d = waiting(resolveRequest(ctx, facts('/authz/page.txt', ALICE)));
    for (const [key, value] of Object.entries(d)) expect(typeof value, key).not.toBe('function');
    expect(structuredClone(d)).toEqual(d);
    expect(JSON.parse(JSON.stringify(d.access))).toEqual(d.access);
    expect(d).toMatchObject({ role: 'AUTHORIZER', user: { name: 'alice', authType: 'Basic' }, access: { uri: '/authz/page.txt', authHeaders: [] } });
  });

  it('goes on from a cloned state as from the original', () => {
    const d = waiting(resolveRequest(ctx, facts('/authz/page.txt', ALICE)));
    const outcome = { ran: true as const, status: 200, headers: [['Variable-AUTH_ROLE', 'AUTHORIZER'] as [string, string], ['X-Kept', 'yes'] as [string, string]] };
    const clone = structuredClone(d);
    const a = continueAfterAuthorizer(ctx, facts('/authz/page.txt', ALICE), d, outcome);
    const b = continueAfterAuthorizer(ctx, facts('/authz/page.txt', ALICE), clone, outcome);
    expect(b).toEqual(a);
    expect(a.kind).toBe('file');
    expect(a.env?.get('AUTH_ROLE')).toBe('AUTHORIZER');
    expect(a.authHeaders).toEqual(outcome.headers);
    // The waiting decision is left as it was.
    expect(d.env.has('AUTH_ROLE')).toBe(false);
    expect(d.access.authHeaders).toEqual([]);
  });

  it('answers 401 for an authoritative authorizer that refuses, with its fields and the challenge', () => {
    const d = waiting(resolveRequest(ctx, facts('/authz/page.txt', ALICE)));
    const next = continueAfterAuthorizer(ctx, facts('/authz/page.txt', ALICE), d, { ran: true, status: 403, headers: [['X-From-Authorizer', 'yes']] });
    expect(next).toMatchObject({ kind: 'error', status: 401, headers: { 'X-From-Authorizer': 'yes' } });
    expect(Object.keys((next as { headers: object }).headers)).toContain('WWW-Authenticate');
  });

  it("declines to the Require lines when not authoritative, keeping the program's status", () => {
    const d = waiting(resolveRequest(ctx, facts('/authz-soft/page.txt', ALICE)));
    const next = continueAfterAuthorizer(ctx, facts('/authz-soft/page.txt', ALICE), d, { ran: true, status: 403, headers: [] });
    expect(next.statusOverride).toBe(403);
  });

  it("names the authenticator's user and password, then asks nothing more when it passes", () => {
    const d = waiting(resolveRequest(ctx, facts('/authn/page.txt', CAROL)));
    expect(d).toMatchObject({ role: 'AUTHENTICATOR', user: { name: 'carol' }, password: 'fcgi-pass' });
    const refused = continueAfterAuthorizer(ctx, facts('/authn/page.txt', CAROL), d, { ran: true, status: 401, headers: [] });
    expect(refused).toMatchObject({ kind: 'error', status: 401 });
    const passed = continueAfterAuthorizer(ctx, facts('/authn/page.txt', CAROL), d, { ran: true, status: 200, headers: [] });
    expect((passed as { role?: string }).role).toBe(undefined);
    expect(passed.kind).not.toBe('fcgi-auth');
    expect(passed.user).toEqual({ name: 'carol', authType: 'Basic' });
  });

  it('runs the access checker first, then the rest of the access phase', () => {
    const d = waiting(resolveRequest(ctx, facts('/access/page.txt')));
    expect(d.role).toBe('ACCESS_CHECKER');
    const failed = continueAfterAuthorizer(ctx, facts('/access/page.txt'), d, { ran: false, status: 500 });
    expect(failed).toMatchObject({ kind: 'error', status: 500 });
  });
});
