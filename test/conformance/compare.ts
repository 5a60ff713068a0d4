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
  compare?: string[];
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
const VOLATILE = new Set(['date', 'expires', 'server', 'connection', 'keep-alive', 'transfer-encoding']);

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
    out[key] = norm(Array.isArray(v) ? v.join(key === 'set-cookie' ? '\n' : ', ') : v);
  }
  return { name, status, headers: out, body: norm(body.toString('latin1')) };
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
      if (expected.headers[h] !== actual.headers[h]) diffs.push(`${key}: apache=${show(expected.headers[h])} htsandbox=${show(actual.headers[h])}`);
    } else if (key.startsWith('header-set:')) {
      const h = key.slice(11).toLowerCase();
      const set = (v: string | undefined): string | undefined => v?.split(',').map((x) => x.trim()).sort().join(',');
      if (set(expected.headers[h]) !== set(actual.headers[h])) diffs.push(`${key}: apache=${show(expected.headers[h])} htsandbox=${show(actual.headers[h])}`);
    } else if (key === 'body') {
      if (expected.body !== actual.body) {
        let i = 0;
        while (i < expected.body.length && expected.body[i] === actual.body[i]) i++;
        diffs.push(`body: lengths ${expected.body.length} vs ${actual.body.length}, first difference at ${i}: apache ${show(expected.body.slice(i, i + 60))} htsandbox ${show(actual.body.slice(i, i + 60))}`);
      }
    } else if (key === 'body-length') {
      if (expected.body.length !== actual.body.length) diffs.push(`body-length: apache=${expected.body.length} htsandbox=${actual.body.length}`);
    } else {
      diffs.push(`unknown compare key ${key}`);
    }
  }
  return diffs;
}
