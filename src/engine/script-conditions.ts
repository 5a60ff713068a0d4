/**
 * `ap_meets_conditions` (http_protocol.c) for a script's answer: util_script.c's header scan
 * calls it when the script printed no Status line and the request is a GET (HEAD included),
 * with the ETag and Last-Modified the script printed. Plain data in, a verdict out.
 */

export interface ConditionFacts {
  ifMatch?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  /** The script's ETag field, if any. */
  etag?: string | undefined;
  /** r->mtime in seconds: the script's Last-Modified (clamped to the request time), else the request time. */
  mtimeSec: number;
  requestSec: number;
}

/** The entity-tags of an If-Match / If-None-Match list (quoted strings, W/ kept). */
function etagList(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const withoutWeak = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** ap_find_etag_strong: a weak tag never matches. */
function matchesStrong(list: string, etag: string): boolean {
  if (etag.startsWith('W/')) return false;
  return etagList(list).some((t) => !t.startsWith('W/') && t === etag);
}

/** ap_find_etag_weak: W/ prefixes ignored on both sides. */
function matchesWeak(list: string, etag: string): boolean {
  const bare = withoutWeak(etag);
  return etagList(list).some((t) => withoutWeak(t) === bare);
}

/** apr_date_parse_http in seconds (every form is GMT, asctime's too); undefined for APR_DATE_BAD. */
function httpDateSec(value: string): number | undefined {
  const ms = Date.parse(/\b(?:GMT|UTC|UT|Z)\s*$|[+-]\d{4}\s*$/i.test(value) ? value : `${value} GMT`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * 412 (a failed If-Match / If-Unmodified-Since), 304 (If-None-Match or If-Modified-Since say
 * the client's copy is current, and neither says otherwise), or undefined: answer as usual.
 */
export function scriptConditionVerdict(f: ConditionFacts): 304 | 412 | undefined {
  if (f.ifMatch !== undefined) {
    if (!(f.ifMatch.trim().startsWith('*') || (f.etag !== undefined && matchesStrong(f.ifMatch, f.etag)))) return 412;
  } else if (f.ifUnmodifiedSince !== undefined) {
    const ius = httpDateSec(f.ifUnmodifiedSince);
    if (ius !== undefined && f.mtimeSec > ius) return 412;
  }
  // -1: no condition yet; 0: one said "modified"; 1: all so far said "not modified".
  let notModified = -1;
  if (f.ifNoneMatch !== undefined) {
    const match = f.ifNoneMatch.trim().startsWith('*') || (f.etag !== undefined && matchesWeak(f.ifNoneMatch, f.etag));
    if (!match) notModified = 0;
    else if (notModified) notModified = 1;
  }
  if (f.ifModifiedSince !== undefined) {
    const ims = httpDateSec(f.ifModifiedSince) ?? 0;
    const match = ims >= f.mtimeSec && ims <= f.requestSec;
    if (!match) notModified = 0;
    else if (notModified) notModified = 1;
  }
  return notModified === 1 ? 304 : undefined;
}

/**
 * The script's Last-Modified as ap_update_mtime + ap_set_last_modified leave it: a date in the
 * future becomes the request time. Undefined when the value is not a date (the field stays).
 */
export function clampedLastModifiedSec(value: string, requestSec: number): number | undefined {
  const sec = httpDateSec(value);
  return sec === undefined ? undefined : Math.min(sec, requestSec);
}
