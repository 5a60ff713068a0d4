/**
 * The access record: when a request's story is asked for, the engine names the line that
 * decided each phase (Require, Deny from, Satisfy Any, AuthType/AuthUserFile, the handler's
 * SetHandler/AddHandler), and the story shows its file:line.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tellStory, type Story, type StoryContext } from '../../src/adapters/request-story.js';
import { resolveRequest, type StoryNote } from '../../src/engine/resolve.js';
import { profileContext, writeSite } from '../helpers/site-context.js';

let dir: string;
let ctx: StoryContext;

const SITE: Record<string, string> = {
  'ip/.htaccess': '# only the office\nRequire ip 10.0.0.0/8\n',
  'ip/page.txt': 'x',
  'compat/.htaccess': 'Order deny,allow\nDeny from all\n',
  'compat/page.txt': 'x',
  'satisfy/.htaccess': 'Order deny,allow\nDeny from all\nAllow from 127.0.0.1\nAuthType Basic\nAuthName area\nAuthUserFile /nonexistent\nRequire valid-user\nSatisfy any\n',
  'satisfy/page.txt': 'x',
  'twodeny/.htaccess': 'Order allow,deny\nAllow from all\nDeny from 127.0.0.0/8\nDeny from 10.9.9.9\n',
  'twodeny/page.txt': 'x',
  'twoip/.htaccess': 'Require ip 127.0.0.1\n',
  'twoip/inner/.htaccess': '# refused here\nRequire ip 10.0.0.1\n<Files nothing-matches>\n  Require ip 10.0.0.1\n</Files>\n',
  'twoip/inner/page.txt': 'x',
  'login/.htaccess': 'AuthType Basic\nAuthName area\nAuthUserFile /nonexistent\nRequire valid-user\n',
  'login/inner/.htaccess': '<Files nothing-matches>\n  AuthUserFile /elsewhere\n</Files>\n',
  'login/inner/page.txt': 'x',
  'byext/.htaccess': 'AddHandler fcgid-script .app\n',
  'byext/x.app': '#!/bin/sh\n',
  'byext/inner/.htaccess': '<Files nothing-matches>\n  AddHandler fcgid-script .app\n</Files>\n',
  'byext/inner/y.app': '#!/bin/sh\n',
};

beforeAll(() => {
  dir = writeSite(SITE);
  ctx = profileContext(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function story(url: string): Story {
  const told = tellStory(ctx, { method: 'GET', url, headers: [] }, false, (p) => p.split(dir).join('site'));
  if ('error' in told) throw new Error(told.error);
  return told;
}

describe('the access record', () => {
  it('names the Require line that refused, at its file:line', () => {
    const s = story('/ip/page.txt');
    expect(s.answer.status).toBe(403);
    expect(s.steps).toContainEqual({ module: 'authz_core', text: 'Require ip 10.0.0.0/8 refuses the request (403)', file: 'site/ip/.htaccess', line: 2 });
  });

  it("names mod_access_compat's Deny from line", () => {
    const s = story('/compat/page.txt');
    expect(s.answer.status).toBe(403);
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'access_compat', file: 'site/compat/.htaccess', line: 2 }));
  });

  it('names the Deny from line that matched the client, not the last one written', () => {
    const s = story('/twodeny/page.txt');
    expect(s.answer.status).toBe(403);
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'access_compat', file: 'site/twodeny/.htaccess', line: 3 }));
  });

  it('names the Require line in effect, not a same-looking line in a section that did not apply', () => {
    const s = story('/twoip/inner/page.txt');
    expect(s.answer.status).toBe(403);
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'authz_core', file: 'site/twoip/inner/.htaccess', line: 2 }));
  });

  it('names the AuthUserFile line in effect, not one in a section that did not apply', () => {
    const s = story('/login/inner/page.txt');
    expect(s.answer.status).toBe(401);
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'authn_file', file: 'site/login/.htaccess', line: 3 }));
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'auth_basic', file: 'site/login/.htaccess', line: 1 }));
  });

  it('names Satisfy Any when the Allow lines let the client in without a login', () => {
    const s = story('/satisfy/page.txt');
    expect(s.answer.status).toBe(200);
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'access_compat', file: 'site/satisfy/.htaccess', line: 8 }));
  });

  it('names the extension map line that chose the handler', () => {
    const s = story('/byext/x.app');
    expect(s.steps).toContainEqual({
      module: 'mime',
      text: 'the extension .app maps to the fcgid-script handler (AddHandler fcgid-script .app)',
      file: 'site/byext/.htaccess',
      line: 1,
    });
  });

  it('names the AddHandler line in effect, not one in a section that did not apply', () => {
    const s = story('/byext/inner/y.app');
    expect(s.steps).toContainEqual(expect.objectContaining({ module: 'mime', file: 'site/byext/.htaccess', line: 1 }));
  });

  it('records nothing when no story is asked for', () => {
    const facts = { method: 'GET', rawPath: '/ip/page.txt', query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost' };
    expect(resolveRequest(ctx, facts).kind).toBe('error');
    const notes: StoryNote[] = [];
    resolveRequest(ctx, { ...facts, story: notes });
    expect(notes.length).toBeGreaterThan(0);
  });
});
