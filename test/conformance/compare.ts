/**
 * The conformance suite's comparison rules (the same as the shared oracle's, ../shared/oracle
 * README §3): what counts as "the same answer" from Apache and from htsandbox. Pure.
 */

/** One request of a case (`requests.jsonl`). */
export interface CaseRequest {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A binary body (a git pack, say), base64; used instead of `body`. */
  bodyBase64?: string;
  compare?: string[];
  /**
   * Parts of the body that change from run to run (relative dates, nonces, tokens): regular
   * expressions (flags `gm`) whose matches are masked on both sides before the exact body
   * comparison, and in the drift check. Each must match Apache's recorded body. See maskText.
   */
  bodyMask?: string | string[];
  /** The same for header values: header name (lower case) to expressions. */
  headerMask?: Record<string, string | string[]>;
}

/** A normalised response (`expected.jsonl` holds Apache's). */
export interface RecordedResponse {
  name: string;
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Body as latin1 text (one char per byte). */
  body: string;
}

/** Headers that vary between runs of the same server and are never compared. */
const VOLATILE = new Set(['expires', 'connection', 'keep-alive', 'transfer-encoding']);

/** How far from the time of the run a Date may be and still be the server's own clock. */
const CLOCK_SLACK_MS = 24 * 3600 * 1000;

/**
 * Core's own fields, as placeholders: `Server` with the server's banner (Apache's `Apache`,
 * htsandbox's `Apache (htsandbox)`) is `{banner}`, and a `Date` near the time of the run is
 * `{now}`. Any other value (a proxied backend's, one a rule or script set) stays as it is, so
 * `header:server` and `header:date` check who wrote these fields.
 */
function coreField(key: string, value: string): string {
  if (key === 'server') return /^Apache(?: \(htsandbox\))?$/.test(value) ? '{banner}' : value;
  if (key === 'date') return Math.abs(Date.parse(value) - Date.now()) < CLOCK_SLACK_MS ? '{now}' : value;
  return value;
}

/** Replaces the server's own site root and port by placeholders, drops volatile headers. */
export function normalizeResponse(
  name: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  siteRoot: string,
  port: number,
): RecordedResponse {
  const portRe = new RegExp(`\\b${port}\\b`, 'g');
  const norm = (s: string): string => s.split(siteRoot).join('{root}').replace(portRe, '{port}');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (VOLATILE.has(key) || v === undefined) continue;
    out[key] = coreField(key, norm(Array.isArray(v) ? v.join(key === 'set-cookie' ? '\n' : ', ') : v));
  }
  return { name, status, headers: out, body: norm(body.toString('latin1')) };
}

/** What a masked part becomes. */
export const MASK = '{masked}';

const maskList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Masks the volatile parts of `text`: every match of each expression is replaced by MASK, or,
 * when the expression has capture groups, only the text of its (outermost, participating)
 * groups is, so `"title=\"(\d+) years ago\""` keeps the rest of the match compared.
 * Returns the masked text and the expressions that matched nowhere.
 */
export function maskText(text: string, patterns: string[]): { text: string; unmatched: string[] } {
  const unmatched: string[] = [];
  let out = text;
  for (const source of patterns) {
    const re = new RegExp(source, 'gmd');
    let result = '';
    let last = 0;
    let hits = 0;
    for (const m of out.matchAll(re)) {
      hits++;
      const spans = (m.indices!.length > 1 ? m.indices!.slice(1) : [m.indices![0]]).filter((s): s is [number, number] => s !== undefined);
      for (const [from, to] of spans) {
        if (from < last) continue; // a group nested in one already masked
        result += out.slice(last, from) + MASK;
        last = to;
      }
      if (m[0] === '') re.lastIndex++;
    }
    if (hits === 0) unmatched.push(source);
    out = result + out.slice(last);
  }
  return { text: out, unmatched };
}

const ctNorm = (v: string | undefined): string | undefined => v?.toLowerCase().replace(/\s+/g, '');

/** The keys a request compares: its own list, or the default decided by Apache's status. */
export function keysFor(req: CaseRequest, expected: RecordedResponse): string[] {
  if (req.compare) return req.compare;
  return expected.status < 400 ? ['status', 'content-type', 'location', 'body'] : ['status'];
}

/** Differences between Apache's answer and the candidate's, one line each (empty: agree). */
export function compareResponses(req: CaseRequest, expected: RecordedResponse, actual: RecordedResponse): string[] {
  const diffs: string[] = [];
  const show = (v: string | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v));
  for (const key of keysFor(req, expected)) {
    if (key === 'status') {
      if (expected.status !== actual.status) diffs.push(`status: apache=${expected.status} htsandbox=${actual.status}`);
    } else if (key === 'content-type') {
      const a = ctNorm(expected.headers['content-type']);
      const b = ctNorm(actual.headers['content-type']);
      if (a !== b) diffs.push(`content-type: apache=${show(a)} htsandbox=${show(b)}`);
    } else if (key === 'content-type-base') {
      const a = ctNorm(expected.headers['content-type'])?.split(';')[0];
      const b = ctNorm(actual.headers['content-type'])?.split(';')[0];
      if (a !== b) diffs.push(`content-type-base: apache=${show(a)} htsandbox=${show(b)}`);
    } else if (key === 'location' || key.startsWith('header:')) {
      const h = key === 'location' ? 'location' : key.slice(7).toLowerCase();
      const masks = maskList(req.headerMask?.[h]);
      if (masks.length > 0 && expected.headers[h] !== undefined) {
        const a = maskText(expected.headers[h], masks);
        const b = actual.headers[h] === undefined ? undefined : maskText(actual.headers[h], masks).text;
        for (const u of a.unmatched) diffs.push(`${key}: mask /${u}/ matches nothing in Apache's value`);
        if (a.text !== b) diffs.push(`${key} (masked): apache=${show(a.text)} htsandbox=${show(b)}`);
      } else if (expected.headers[h] !== actual.headers[h]) diffs.push(`${key}: apache=${show(expected.headers[h])} htsandbox=${show(actual.headers[h])}`);
    } else if (key.startsWith('header-set:')) {
      const h = key.slice(11).toLowerCase();
      const set = (v: string | undefined): string | undefined =>
        v
          ?.split(',')
          .map((x) => x.trim())
          .sort()
          .join(',');
      if (set(expected.headers[h]) !== set(actual.headers[h])) diffs.push(`${key}: apache=${show(expected.headers[h])} htsandbox=${show(actual.headers[h])}`);
    } else if (key === 'body') {
      const masks = maskList(req.bodyMask);
      const a = maskText(expected.body, masks);
      const b = maskText(actual.body, masks).text;
      for (const u of a.unmatched) diffs.push(`body: mask /${u}/ matches nothing in Apache's body`);
      if (a.text !== b) {
        let i = 0;
        while (i < a.text.length && a.text[i] === b[i]) i++;
        const masked = masks.length > 0 ? ' (masked)' : '';
        diffs.push(
          `body${masked}: lengths ${a.text.length} vs ${b.length}, first difference at ${i}: apache ${show(a.text.slice(i, i + 60))} htsandbox ${show(b.slice(i, i + 60))}`,
        );
      }
    } else if (key === 'body-length') {
      if (expected.body.length !== actual.body.length) diffs.push(`body-length: apache=${expected.body.length} htsandbox=${actual.body.length}`);
    } else {
      diffs.push(`unknown compare key ${key}`);
    }
  }
  return diffs;
}
