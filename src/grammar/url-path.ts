/**
 * Request-target checks and normalisation as Apache does them before mapping a URL to a file:
 * `ap_normalize_path` (NOT_ABOVE_ROOT | MERGE_SLASHES | DECODE_UNRESERVED) on the encoded path,
 * then `ap_unescape_url` (AllowEncodedSlashes Off). Pure.
 */

export type NormalizedPath = { ok: true /** Decoded, normalised path (r->uri). */; uri: string } | { ok: false; status: 400 | 404 /** Apache's log text. */; reason: string };

const HEX = /^[0-9A-Fa-f]{2}$/;
const isUnreserved = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;

/** Normalises the path part (no query) of a request-target. */
export function normalizeRequestPath(rawPath: string): NormalizedPath {
  if (!rawPath.startsWith('/')) return { ok: false, status: 400, reason: `invalid request-URI ${rawPath}` };
  // Most paths have nothing to decode, merge or remove: they are their own normal form.
  if (!rawPath.includes('%') && !rawPath.includes('//') && !rawPath.includes('/.')) return { ok: true, uri: rawPath };
  // Decode only the unreserved characters, so `%2e%2e` is a dot-segment but `%2F` is not a slash.
  let path = '';
  for (let i = 0; i < rawPath.length; i++) {
    const ch = rawPath[i]!;
    if (ch === '%') {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return { ok: false, status: 400, reason: `AH10244: invalid URI path (${rawPath})` };
      const code = Number.parseInt(hex, 16);
      if (isUnreserved(code)) path += String.fromCharCode(code);
      else path += `%${hex.toUpperCase()}`;
      i += 2;
    } else {
      path += ch;
    }
  }
  const out: string[] = [];
  const segments = path.split('/');
  // segments[0] is '' (leading slash); merged slashes give empty segments, dropped.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '' && !last) continue;
    if (seg === '.') {
      if (last) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return { ok: false, status: 400, reason: `AH10244: invalid URI path (${rawPath})` };
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  const normalized = `/${out.join('/')}`;
  // ap_unescape_url: everything else is decoded now; %2F and %00 are refused with 404.
  let uri = '';
  for (let i = 0; i < normalized.length; i++) {
    const ch = normalized[i]!;
    if (ch === '%') {
      const hex = normalized.slice(i + 1, i + 3);
      const code = Number.parseInt(hex, 16);
      if (code === 0x2f || code === 0) {
        return { ok: false, status: 404, reason: `AH00026: found %2f (encoded '/') in URI path (${rawPath}), returning 404` };
      }
      uri += String.fromCharCode(code);
      i += 2;
    } else uri += ch;
  }
  return { ok: true, uri };
}
