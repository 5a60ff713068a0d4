/**
 * The name lookups `Require host` and `Require forward-dns` make (getnameinfo/getaddrinfo in
 * Apache), answered from /etc/hosts: the sandbox has no network, so the resolver's files source
 * is what answers there too (nsswitch "files dns"). Read once per site context.
 */
import { readFileSync } from 'node:fs';
import type { HostNameLookup } from '../engine/access.js';

/** An address as written in /etc/hosts and as the client's: IPv4-mapped IPv6 taken as IPv4. */
function plainAddress(a: string): string {
  const l = a.toLowerCase();
  return l.startsWith('::ffff:') && l.includes('.') ? l.slice(7) : l;
}

/** /etc/hosts' lines as address and names (the first name is the canonical one). */
export function parseHostsFile(text: string): { address: string; names: string[] }[] {
  const entries: { address: string; names: string[] }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [address, ...names] = line.split(/\s+/);
    if (address && names.length > 0) entries.push({ address: plainAddress(address), names });
  }
  return entries;
}

/** Lookups over /etc/hosts' entries: the first line naming an address gives its name; a name's addresses are those of every line listing it. */
export function hostsFileLookup(text: string): HostNameLookup {
  const entries = parseHostsFile(text);
  return {
    nameOf: (addr) => entries.find((e) => e.address === plainAddress(addr))?.names[0],
    addressesOf: (name) => entries.filter((e) => e.names.some((n) => n.toLowerCase() === name.toLowerCase())).map((e) => e.address),
  };
}

/** The system's /etc/hosts, read when first asked (none readable: no names). */
export function systemHostNames(path = '/etc/hosts'): HostNameLookup {
  let lookup: HostNameLookup | undefined;
  const get = (): HostNameLookup => {
    if (!lookup) {
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        // No hosts file: every lookup fails, as the resolver's would without network.
      }
      lookup = hostsFileLookup(text);
    }
    return lookup;
  };
  return { nameOf: (addr) => get().nameOf(addr), addressesOf: (name) => get().addressesOf(name) };
}
