/**
 * The judge is tested too: a candidate that is deliberately wrong must be reported, request
 * by request, and a correct one must not be.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caseRequirementsMissing } from '../helpers/peers.js';
import { PROJECT_ROOT } from '../helpers/private-apache.js';
import { MASK, compareResponses, maskText, normalizeResponse, type CaseRequest, type RecordedResponse } from './compare.js';

const caseDir = join(PROJECT_ROOT, 'fixtures/conformance/dir-index');
const requests = readFileSync(join(caseDir, 'requests.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as CaseRequest);
const expected = new Map(
  readFileSync(join(caseDir, 'expected.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const r = JSON.parse(l) as RecordedResponse;
      return [r.name, r] as const;
    }),
);

describe('conformance harness', () => {
  it('reports a candidate that answers 200 "wrong" to everything', () => {
    let differing = 0;
    // A request that compares only a 200 status cannot tell this candidate apart.
    const blind = requests.filter((r) => r.compare?.join() === 'status' && expected.get(r.name)!.status === 200).length;
    for (const r of requests) {
      const wrong = normalizeResponse(r.name, 200, { 'content-type': 'text/plain' }, Buffer.from('wrong'), '/x', 1);
      if (compareResponses(r, expected.get(r.name)!, wrong).length > 0) differing++;
    }
    expect(blind).toBeLessThan(requests.length);
    expect(differing).toBe(requests.length - blind);
  });

  it('reports swapped DirectoryIndex entries (the other file is served)', () => {
    const r = requests.find((q) => q.name === 'custom-first')!;
    const exp = expected.get('custom-first')!;
    const swapped: RecordedResponse = { ...exp, body: 'other\n' };
    expect(compareResponses(r, exp, swapped)).toEqual([expect.stringMatching(/^body:/)]);
  });

  it('accepts the recorded answer itself, and ignores volatile headers', () => {
    for (const r of requests) {
      const exp = expected.get(r.name)!;
      const same = { ...exp, headers: { ...exp.headers, date: 'Mon, 01 Jan 2035 00:00:00 GMT', server: 'other' } };
      expect(compareResponses(r, exp, same)).toEqual([]);
    }
  });

  it('normalises the site root and the port', () => {
    const n = normalizeResponse('x', 301, { location: 'http://localhost:4567/a/', Connection: 'close' }, Buffer.from('/srv/site/a at 4567'), '/srv/site', 4567);
    expect(n.headers).toEqual({ location: 'http://localhost:{port}/a/' });
    expect(n.body).toBe('{root}/a at {port}');
  });

  it("keeps core's Server and Date as placeholders, and anyone else's as they are", () => {
    const now = new Date().toUTCString();
    const core = (server: string, date: string): Record<string, string> => normalizeResponse('x', 200, { Server: server, Date: date }, Buffer.alloc(0), '/srv/site', 4567).headers;
    expect(core('Apache', now)).toEqual({ server: '{banner}', date: '{now}' });
    expect(core('Apache (htsandbox)', now)).toEqual({ server: '{banner}', date: '{now}' });
    expect(core('Backend/1.0', 'Tue, 01 Jan 2019 00:00:00 GMT')).toEqual({ server: 'Backend/1.0', date: 'Tue, 01 Jan 2019 00:00:00 GMT' });
  });

  describe("body masks (volatile parts of an application's page)", () => {
    const apache: RecordedResponse = {
      name: 'm',
      status: 200,
      headers: { 'content-type': 'text/html', 'set-cookie': 'sid=abc123; path=/' },
      body: '<p>age: 5 years ago</p><input name="token" value="f00d">',
    };
    const req: CaseRequest = { name: 'm', path: '/', bodyMask: ['age: (\\d+ \\w+) ago', 'value="[0-9a-f]+"'] };

    it('masks a capture group, or the whole match without groups', () => {
      expect(maskText(apache.body, req.bodyMask as string[])).toEqual({ text: `<p>age: ${MASK} ago</p><input name="token" ${MASK}>`, unmatched: [] });
      expect(maskText('a1b22c', ['\\d+'])).toEqual({ text: `a${MASK}b${MASK}c`, unmatched: [] });
      expect(maskText('x', ['(y)?x'])).toEqual({ text: 'x', unmatched: [] }); // a group that took no part stays
      expect(maskText('x', ['nothing'])).toEqual({ text: 'x', unmatched: ['nothing'] });
    });

    it('agrees when only the masked parts differ, on both sides', () => {
      const other = { ...apache, body: '<p>age: 6 years ago</p><input name="token" value="beef">' };
      expect(compareResponses(req, apache, other)).toEqual([]);
    });

    it('still compares everything outside the masks', () => {
      const other = { ...apache, body: '<p>age: 6 years ago</p><input name="tokens" value="beef">' };
      expect(compareResponses(req, apache, other)).toEqual([expect.stringMatching(/^body \(masked\):/)]);
      const noMask = { ...apache, body: '<p>age: 5 years ago</p>' };
      expect(compareResponses(req, apache, noMask)).toEqual([expect.stringMatching(/^body \(masked\):/)]);
    });

    it("reports a mask that matches nothing in Apache's answer (a stale mask hides nothing)", () => {
      const stale: CaseRequest = { ...req, bodyMask: 'no such text' };
      expect(compareResponses(stale, apache, apache)).toEqual(["body: mask /no such text/ matches nothing in Apache's body"]);
    });

    it('masks header values named in headerMask', () => {
      const hreq: CaseRequest = { name: 'm', path: '/', compare: ['header:set-cookie'], headerMask: { 'set-cookie': 'sid=(\\w+)' } };
      expect(compareResponses(hreq, apache, { ...apache, headers: { 'set-cookie': 'sid=zzz; path=/' } })).toEqual([]);
      expect(compareResponses(hreq, apache, { ...apache, headers: { 'set-cookie': 'sid=zzz; path=/x' } })).toHaveLength(1);
      expect(compareResponses(hreq, apache, { ...apache, headers: {} })).toHaveLength(1);
    });
  });

  it("reads a case's requires.txt: paths, commands and language modules", () => {
    expect(caseRequirementsMissing('# comment\n/bin/sh\nsh\nperl:strict\n\n')).toBeUndefined();
    const missing = caseRequirementsMissing('/no/such/file\nno-such-command-htsandbox\nperl:No::Such::Module\n/bin/sh');
    expect(missing).toBe('missing /no/such/file, no-such-command-htsandbox, perl:No::Such::Module (see .ci/run for the apt packages)');
  });
});
