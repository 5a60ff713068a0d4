/**
 * The request's host name as vhost.c's fix_hostname reads it (HttpProtocolOptions Strict, the
 * default): apr_parse_addr_port splits off a port, the name is lower-cased and loses a
 * trailing dot, and a name the strict check refuses makes the request a 400. Pure.
 */

/** A Host value the host accepts (name lower-cased, port when one was given), or why not. */
export type HostVerdict = { ok: true; name: string; port: number | undefined } | { ok: false; reason: string };

const DIGITS = /^[0-9]+$/;

/** apr_parse_addr_port: host and an optional trailing `:port` (1-65535). */
function splitAddrPort(value: string): { host: string; port: number | undefined } | undefined {
  let end = value.length - 1;
  while (end >= 0 && value.charCodeAt(end) >= 48 && value.charCodeAt(end) <= 57) end--;
  let port: number | undefined;
  let host = value;
  if (value[end] === ':' && end < value.length - 1) {
    if (end === 0) return undefined;
    // atoi: leading zeros are fine (x:00080 is port 80).
    port = Number.parseInt(value.slice(end + 1), 10);
    if (port < 1 || port > 65535) return undefined;
    host = value.slice(0, end);
  }
  if (host.startsWith('[')) {
    // The bracket must close the name; a scope id (%eth0) is refused by fix_hostname.
    if (host.indexOf(']') !== host.length - 1 || host.includes('%')) return undefined;
    if (!isIpv6(host.slice(1, -1))) return undefined;
  }
  return { host, port };
}

/** apr_inet_pton(AF_INET6): eight groups, one `::`, an IPv4 tail allowed. */
function isIpv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  let groups = 0;
  for (const [h, half] of halves.entries()) {
    if (half === '') continue;
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      const last = h === halves.length - 1 && i === parts.length - 1;
      if (last && part.includes('.')) {
        const octets = part.split('.');
        if (octets.length !== 4 || octets.some((o) => !DIGITS.test(o) || o.length > 3 || Number(o) > 255)) return false;
        groups += 2;
      } else if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return false;
      else groups++;
    }
  }
  return halves.length === 2 ? groups < 8 : groups === 8;
}

/** strict_hostname_check: letters, digits, '-', '_' and dots; a dotted quad, or a name whose last label starts with a letter. */
function strictName(host: string): boolean {
  let dottedDecimal = true;
  let leadingZeroes = false;
  let dots = 0;
  for (let i = 0; i < host.length; i++) {
    const ch = host[i]!;
    if (/[A-Za-z_-]/.test(ch)) dottedDecimal = false;
    else if (ch === '.') {
      dots++;
      if (host[i + 1] === '0' && /[0-9]/.test(host[i + 2] ?? '')) leadingZeroes = true;
    } else if (!/[0-9]/.test(ch)) return false; // also a comma of repeated Host fields
  }
  if (dottedDecimal) {
    if (host[0] === '.' || (host[0] === '0' && /[0-9]/.test(host[1] ?? ''))) leadingZeroes = true;
    return !leadingZeroes && dots === 3;
  }
  const lastDot = host.lastIndexOf('.');
  return lastDot === -1 || lastDot === host.length - 1 || /[A-Za-z]/.test(host[lastDot + 1]!);
}

/** fix_hostname(r, …, strict): what the request's host is, or the 400 it gets. */
export function checkHostField(value: string): HostVerdict {
  // Every request passes here with one of a few Host values: a verdict is made once per value.
  // The last one is compared first: a client's requests repeat it, and comparing the text
  // costs less than hashing the new string for the map.
  if (value === last.value) return last.verdict;
  let verdict = verdicts.get(value);
  if (verdict === undefined) {
    verdict = judgeHostField(value);
    if (verdicts.size >= 256) verdicts.clear();
    verdicts.set(value, verdict);
  }
  last.value = value;
  last.verdict = verdict;
  return verdict;
}

const verdicts = new Map<string, HostVerdict>();
const last: { value: string | undefined; verdict: HostVerdict } = { value: undefined, verdict: { ok: false, reason: '' } };

function judgeHostField(value: string): HostVerdict {
  // RFC 7230 allows an empty Host: nothing to fix.
  if (value === '') return { ok: true, name: '', port: undefined };
  if (DIGITS.test(value)) return { ok: false, reason: `[strict] purely numeric host names not allowed: ${value}` };
  const split = splitAddrPort(value);
  if (!split) return { ok: false, reason: `Client sent malformed Host header: ${value}` };
  if (split.host.startsWith('[')) return { ok: true, name: split.host.toLowerCase(), port: split.port };
  // fix_hostname_non_v6: no "..", no slash or backslash; a trailing dot goes.
  if (split.host.includes('..') || /[/\\]/.test(split.host)) return { ok: false, reason: `Client sent malformed Host header: ${value}` };
  const name = (split.host.endsWith('.') ? split.host.slice(0, -1) : split.host).toLowerCase();
  if (!strictName(name)) return { ok: false, reason: `[strict] Invalid host name '${name}'` };
  return { ok: true, name, port: split.port };
}

/**
 * ap_get_server_port with UseCanonicalName Off: the Host field's port, else the ServerName's,
 * else the scheme's default (80, or 443 over TLS) — not the port the connection came in on.
 */
export function serverPortOf(hostPort: number | undefined, serverName: string, tls: boolean): number {
  if (hostPort !== undefined) return hostPort;
  const configured = /:(\d+)$/.exec(serverName)?.[1];
  return configured !== undefined ? Number(configured) : tls ? 443 : 80;
}
