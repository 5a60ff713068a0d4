/** ap_meets_conditions for a script's answer (engine/script-conditions.ts), as Apache 2.4.71 answered in conformance/script-answers. */
import { describe, expect, it } from 'vitest';
import { clampedLastModifiedSec, scriptConditionVerdict } from '../src/engine/script-conditions.js';

const Y2000 = Date.parse('Sat, 01 Jan 2000 00:00:00 GMT') / 1000;
const NOW = Date.parse('Sat, 05 Dec 2026 19:00:00 GMT') / 1000;

describe('a script answer checked against the request conditions', () => {
  it('304 when If-Modified-Since is at or after Last-Modified and not in the future', () => {
    expect(scriptConditionVerdict({ ifModifiedSince: 'Sat, 01 Jan 2000 00:00:00 GMT', mtimeSec: Y2000, requestSec: NOW })).toBe(304);
    expect(scriptConditionVerdict({ ifModifiedSince: 'Sun, 02 Jan 2000 00:00:00 GMT', mtimeSec: Y2000, requestSec: NOW })).toBe(304);
    expect(scriptConditionVerdict({ ifModifiedSince: 'Fri, 31 Dec 1999 00:00:00 GMT', mtimeSec: Y2000, requestSec: NOW })).toBeUndefined();
    expect(scriptConditionVerdict({ ifModifiedSince: 'Fri, 01 Jan 2100 00:00:00 GMT', mtimeSec: NOW, requestSec: NOW })).toBeUndefined();
    expect(scriptConditionVerdict({ ifModifiedSince: 'garbage', mtimeSec: Y2000, requestSec: NOW })).toBeUndefined();
  });
  it('304 for a matching If-None-Match (weak comparison, * for anything), unless If-Modified-Since says modified', () => {
    expect(scriptConditionVerdict({ ifNoneMatch: '"abc"', etag: '"abc"', mtimeSec: NOW, requestSec: NOW })).toBe(304);
    expect(scriptConditionVerdict({ ifNoneMatch: '"x", "abc"', etag: 'W/"abc"', mtimeSec: NOW, requestSec: NOW })).toBe(304);
    expect(scriptConditionVerdict({ ifNoneMatch: '*', mtimeSec: NOW, requestSec: NOW })).toBe(304);
    expect(scriptConditionVerdict({ ifNoneMatch: '"zzz"', etag: '"abc"', mtimeSec: NOW, requestSec: NOW })).toBeUndefined();
    // No Last-Modified: r->mtime is the request time, after the If-Modified-Since date.
    expect(scriptConditionVerdict({ ifNoneMatch: '"abc"', ifModifiedSince: 'Sat, 01 Jan 2000 00:00:00 GMT', etag: '"abc"', mtimeSec: NOW, requestSec: NOW })).toBeUndefined();
  });
  it('412 for a failed If-Match (strong comparison) or If-Unmodified-Since', () => {
    expect(scriptConditionVerdict({ ifMatch: '"zzz"', etag: '"abc"', mtimeSec: NOW, requestSec: NOW })).toBe(412);
    expect(scriptConditionVerdict({ ifMatch: '"abc"', etag: 'W/"abc"', mtimeSec: NOW, requestSec: NOW })).toBe(412);
    expect(scriptConditionVerdict({ ifMatch: '"abc"', etag: '"abc"', mtimeSec: NOW, requestSec: NOW })).toBeUndefined();
    expect(scriptConditionVerdict({ ifMatch: '*', mtimeSec: NOW, requestSec: NOW })).toBeUndefined();
    expect(scriptConditionVerdict({ ifUnmodifiedSince: 'Fri, 31 Dec 1999 00:00:00 GMT', mtimeSec: Y2000, requestSec: NOW })).toBe(412);
    expect(scriptConditionVerdict({ ifUnmodifiedSince: 'Sun, 02 Jan 2000 00:00:00 GMT', mtimeSec: Y2000, requestSec: NOW })).toBeUndefined();
  });
  it('clamps a Last-Modified in the future to the request time', () => {
    expect(clampedLastModifiedSec('Fri, 01 Jan 2100 00:00:00 GMT', NOW)).toBe(NOW);
    expect(clampedLastModifiedSec('Sat, 01 Jan 2000 00:00:00 GMT', NOW)).toBe(Y2000);
    expect(clampedLastModifiedSec('soon', NOW)).toBeUndefined();
  });
});

describe('the dates a script prints', () => {
  it('reads the three HTTP date forms as GMT, whatever the local time zone', () => {
    for (const form of ['Sat, 01 Jan 2000 00:00:00 GMT', 'Saturday, 01-Jan-00 00:00:00 GMT', 'Sat Jan  1 00:00:00 2000']) {
      expect(clampedLastModifiedSec(form, NOW), form).toBe(Y2000);
    }
  });
});
