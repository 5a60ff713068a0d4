/**
 * mod_authz_core's rules as the engine applies them: AuthMerging (merge_authz_core_dir_config),
 * the verdicts of negated lines and <RequireNone> (apply_authz_sections), `Require expr`
 * (expr_check_authorization) and mod_authz_host's `host`/`forward-dns` providers. The
 * conformance case authz-core-more records the same rules against Apache.
 */
import { describe, expect, it } from 'vitest';
import { hostsFileLookup } from '../../src/adapters/host-names.js';
import { type AccessRequest, authorizeUser, authorizeWithoutUser, inDomain } from '../../src/engine/access.js';
import { applyLevel, type DirConfig, EMPTY_DIR_CONFIG } from '../../src/engine/dir-config.js';
import type { ExprFacts } from '../../src/grammar/ap-expr.js';
import type { HostFacts } from '../../src/grammar/conditions.js';
import { parseConfig } from '../../src/grammar/parser.js';

const MODULES = new Set(['core', 'authz_core', 'authz_host', 'authz_user', 'authn_core', 'auth_basic', 'authn_file']);
const hasModule = (m: string): boolean => MODULES.has(m);
const HOST: HostFacts = { hasModule: () => false, isDefined: () => false, defineValue: () => undefined, fileExists: () => false, hasDirective: () => false, version: '2.4.71' };

/** One .htaccess file's nodes. */
const nodesOf = (text: string) => parseConfig(`${text}\n`, { file: '/site/.htaccess', kind: 'htaccess', host: HOST }).nodes;

/** The configuration after each .htaccess of `levels`, outermost first. */
function levels(...texts: string[]): DirConfig {
  let cfg = EMPTY_DIR_CONFIG;
  for (const t of texts) cfg = applyLevel(cfg, nodesOf(t), hasModule);
  return cfg;
}

/** Facts with only the variables given ('' for any other). */
function facts(vars: Record<string, string>, user?: string): () => ExprFacts {
  return () => ({
    variable: (name) => (name === 'REMOTE_USER' ? (user ?? '') : (vars[name] ?? '')),
    header: () => '',
    env: () => undefined,
    osenv: () => undefined,
    fileTest: () => false,
    readFile: () => undefined,
    remoteAddr: '127.0.0.1',
  });
}

const get = (extra: Partial<AccessRequest> = {}): AccessRequest => ({ method: 'GET', remoteAddr: '127.0.0.1', env: new Map(), ...extra });

describe('AuthMerging', () => {
  it('Or joins the parent and the level as a RequireAny; And as a RequireAll', () => {
    expect(authorizeWithoutUser(levels('Require all granted', 'AuthMerging Or\nRequire all denied').authz, get())).toBe('granted');
    expect(authorizeWithoutUser(levels('Require ip 10.0.0.0/8', 'AuthMerging And\nRequire all granted').authz, get())).toBe('denied');
    // Without AuthMerging (Off) the level's lines replace the parent's.
    expect(authorizeWithoutUser(levels('Require ip 10.0.0.0/8', 'Require all granted').authz, get())).toBe('granted');
  });

  it("is the level's own: a level below with Require lines replaces the merged rules, one without inherits them", () => {
    const merged = levels('Require all granted', 'AuthMerging Or\nRequire all denied');
    expect(authorizeWithoutUser(applyLevel(merged, nodesOf('Require all denied'), hasModule).authz, get())).toBe('denied');
    expect(authorizeWithoutUser(applyLevel(merged, nodesOf('Options -Indexes'), hasModule).authz, get())).toBe('granted');
  });

  it('Off without Require lines drops the inherited rules; And without them keeps them', () => {
    expect(levels('Require all denied', 'AuthMerging Off').authz).toBeUndefined();
    expect(authorizeWithoutUser(levels('Require all denied', 'AuthMerging And').authz, get())).toBe('denied');
  });

  it('AuthzSendForbiddenOnFailure is inherited unless a level sets it, and alone keeps the rules', () => {
    const cfg = levels('Require user alice\nAuthzSendForbiddenOnFailure On', 'AuthzSendForbiddenOnFailure on');
    expect(cfg.forbiddenOnFailure).toBe(true);
    expect(authorizeUser(cfg.authz, get({ user: 'bob' }))).toBe('denied');
    expect(levels('AuthzSendForbiddenOnFailure On', 'Require all granted').forbiddenOnFailure).toBe(true);
    expect(levels('AuthzSendForbiddenOnFailure On', 'AuthzSendForbiddenOnFailure Off').forbiddenOnFailure).toBe(false);
  });
});

describe('negation (apply_authz_sections)', () => {
  it('a <RequireNone> never grants: refused members make it neutral', () => {
    expect(authorizeWithoutUser(levels('<RequireAll>\n<RequireNone>\nRequire ip 10.9.9.9\n</RequireNone>\n</RequireAll>').authz, get())).toBe('denied');
    expect(authorizeWithoutUser(levels('<RequireAll>\nRequire all granted\n<RequireNone>\nRequire ip 10.9.9.9\n</RequireNone>\n</RequireAll>').authz, get())).toBe('granted');
  });

  it('a negated line needing a user is neutral, so authentication does not run for it', () => {
    const cfg = levels('<RequireAll>\nRequire all granted\nRequire not user bob\n</RequireAll>');
    expect(authorizeWithoutUser(cfg.authz, get())).toBe('granted');
  });

  it('a rule limited to other methods is granted under an AND parent', () => {
    const cfg = levels('<RequireAll>\n<RequireNone>\nRequire ip 10.9.9.9\n</RequireNone>\n<Limit POST>\nRequire all denied\n</Limit>\n</RequireAll>');
    expect(authorizeWithoutUser(cfg.authz, get())).toBe('granted');
    expect(authorizeWithoutUser(cfg.authz, get({ method: 'POST' }))).toBe('denied');
  });
});

describe('Require expr', () => {
  const cfg = levels('Require expr %{REQUEST_URI} =~ /allowed/');

  it('grants when the expression holds, refuses otherwise', () => {
    expect(authorizeWithoutUser(cfg.authz, get({ exprFacts: facts({ REQUEST_URI: '/allowed/x.txt' }) }))).toBe('granted');
    expect(authorizeWithoutUser(cfg.authz, get({ exprFacts: facts({ REQUEST_URI: '/denied/x.txt' }) }))).toBe('denied');
  });

  it('skips quotes around the whole expression', () => {
    const quoted = levels(`Require expr "%{QUERY_STRING} == 'ok'"`);
    expect(authorizeWithoutUser(quoted.authz, get({ exprFacts: facts({ QUERY_STRING: 'ok' }) }))).toBe('granted');
  });

  it('a false expression reading REMOTE_USER needs a user (before and after authentication)', () => {
    const user = levels(`Require expr %{REMOTE_USER} == 'alice'`);
    expect(authorizeWithoutUser(user.authz, get({ exprFacts: facts({}) }))).toBe('denied-no-user');
    expect(authorizeUser(user.authz, get({ user: 'alice', exprFacts: facts({}, 'alice') }))).toBe('granted');
    expect(authorizeUser(user.authz, get({ user: 'bob', exprFacts: facts({}, 'bob') }))).toBe('denied-no-user');
  });

  it('a line whose expression does not parse is left out', () => {
    expect(levels('Require expr %{REQUEST_URI} =~').authz).toBeUndefined();
  });
});

describe('Require host and forward-dns', () => {
  const hostNames = hostsFileLookup('127.0.0.1 localhost\n127.0.0.1 vm # a note\n10.1.1.1 www.example.com\n10.1.1.2 www.example.com other\n');

  it('in_domain: the whole name or a dot-separated suffix, any case', () => {
    expect(inDomain('example.com', 'www.example.com')).toBe(true);
    expect(inDomain('example.com', 'wwwexample.com')).toBe(false);
    expect(inDomain('.example.com', 'www.example.com')).toBe(true);
    expect(inDomain('EXAMPLE.com', 'example.COM')).toBe(true);
    expect(inDomain('.localhost', 'localhost')).toBe(false);
  });

  it('the hosts file answers the first name of an address and every address of a name', () => {
    expect(hostNames.nameOf('127.0.0.1')).toBe('localhost');
    expect(hostNames.nameOf('::ffff:10.1.1.2')).toBe('www.example.com');
    expect(hostNames.addressesOf('WWW.example.com')).toEqual(['10.1.1.1', '10.1.1.2']);
    expect(hostNames.addressesOf('nowhere')).toEqual([]);
  });

  it('host matches the double-reverse name of the client; no lookup, no name', () => {
    const cfg = levels('Require host example.com');
    const from = (remoteAddr: string, lookup = hostNames): AccessRequest => get({ remoteAddr, hostNames: lookup, exprFacts: facts({}) });
    expect(authorizeWithoutUser(cfg.authz, from('10.1.1.1'))).toBe('granted');
    expect(authorizeWithoutUser(levels('Require host localhost').authz, from('::ffff:127.0.0.1'))).toBe('granted');
    expect(authorizeWithoutUser(levels('Require host calhost').authz, from('127.0.0.1'))).toBe('denied');
    // The name's addresses must include the client's (REMOTE_DOUBLE_REV).
    const spoofed = { nameOf: () => 'www.example.com', addressesOf: () => ['10.1.1.1'] };
    expect(authorizeWithoutUser(cfg.authz, from('10.9.9.9', spoofed))).toBe('denied');
    expect(authorizeWithoutUser(cfg.authz, get({ exprFacts: facts({}) }))).toBe('denied');
  });

  it('keeps the reverse name, lower-cased, for REMOTE_HOST even when the double check fails', () => {
    const clientName: { name?: string } = {};
    const spoofed = { nameOf: () => 'WWW.Example.com', addressesOf: () => ['10.1.1.1'] };
    const verdict = authorizeWithoutUser(levels('Require host example.com').authz, get({ remoteAddr: '10.9.9.9', hostNames: spoofed, clientName, exprFacts: facts({}) }));
    expect(verdict).toBe('denied');
    expect(clientName).toEqual({ name: 'www.example.com' });
  });

  it('a # ends the list of names', () => {
    expect(authorizeWithoutUser(levels('Require host example.invalid # localhost').authz, get({ hostNames, exprFacts: facts({}) }))).toBe('denied');
  });

  it("forward-dns grants when a listed name has the client's address", () => {
    expect(authorizeWithoutUser(levels('Require forward-dns other vm').authz, get({ hostNames, exprFacts: facts({}) }))).toBe('granted');
    expect(authorizeWithoutUser(levels('Require forward-dns other').authz, get({ hostNames, exprFacts: facts({}) }))).toBe('denied');
  });
});
