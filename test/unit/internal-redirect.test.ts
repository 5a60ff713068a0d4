/**
 * `ap_internal_redirect` in the engine: a request that starts again at another URL (after a
 * RewriteRule, or for an ErrorDocument) runs every phase anew, so its settings come from the
 * target's own `.htaccess`, not from the directory of the URL it came from.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPhaseRun, redirectInternally, resolveRequest, type RequestFacts, type ResolveContext, type StoryNote } from '../../src/engine/resolve.js';
import { profileContext, writeSite } from '../helpers/site-context.js';

const SITE: Record<string, string> = {
  'from/.htaccess': 'AddType text/x-from-source .txt\nSetEnv DIR_SETTING from\nErrorDocument 404 /to/sorry.txt\nRewriteEngine On\nRewriteRule ^old\\.txt$ /to/target.txt\n',
  'from/other.txt': 'x',
  'to/.htaccess': 'AddType text/x-from-target .txt\nSetEnv DIR_SETTING to\n',
  'to/target.txt': 'x',
  'to/sorry.txt': 'x',
};

let dir: string;
let ctx: ResolveContext;

beforeAll(() => {
  dir = writeSite(SITE);
  ctx = profileContext(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function facts(path: string, story?: StoryNote[]): RequestFacts {
  return { method: 'POST', rawPath: path, query: undefined, remoteAddr: '127.0.0.1', origin: 'http://localhost', headers: {}, ...(story ? { story } : {}) };
}

describe('an internal redirect re-enters the runner', () => {
  it("takes the target's settings after a RewriteRule", () => {
    const first = resolveRequest(ctx, facts('/from/old.txt'));
    expect(first).toMatchObject({ kind: 'internal', url: '/to/target.txt' });
    // The same directory's own file, for contrast: the source's settings.
    expect(resolveRequest(ctx, facts('/from/other.txt'))).toMatchObject({ kind: 'file', contentType: 'text/x-from-source' });
    const story: StoryNote[] = [];
    const env = new Map([['REDIRECT_STATUS', '200']]);
    const { facts: next, decision } = redirectInternally(ctx, facts('/from/old.txt', story), '/to/target.txt?a=1', { env });
    expect(decision).toMatchObject({ kind: 'file', path: join(dir, 'to/target.txt'), contentType: 'text/x-from-target' });
    expect(decision.env?.get('DIR_SETTING')).toBe('to');
    // mod_rewrite's redirect keeps the method; the query is split off; REDIRECT_* go with it.
    expect(next).toMatchObject({ method: 'POST', rawPath: '/to/target.txt', query: 'a=1' });
    expect(next.redirectEnv?.get('REDIRECT_STATUS')).toBe('200');
    // Every phase ran for the new URI, from the request line on.
    const ran = story.filter(isPhaseRun);
    expect(ran[0]).toEqual({ ran: 'post_read_request', uri: '/to/target.txt' });
    expect(ran.map((s) => s.ran)).toContain('map_to_storage');
    expect(ran.every((s) => s.uri === '/to/target.txt')).toBe(true);
  });

  it("serves an ErrorDocument with the document's own settings, as a GET", () => {
    const missing = resolveRequest(ctx, facts('/from/nothing.txt'));
    expect(missing).toMatchObject({ kind: 'error', status: 404 });
    const { facts: next, decision } = redirectInternally(ctx, facts('/from/nothing.txt'), '/to/sorry.txt', {
      env: new Map([['REDIRECT_STATUS', '404']]),
      method: 'GET',
    });
    expect(next.method).toBe('GET');
    expect(decision).toMatchObject({ kind: 'file', contentType: 'text/x-from-target' });
    expect(decision.env?.get('DIR_SETTING')).toBe('to');
  });
});
