/**
 * mod_autoindex's FancyIndexing + HTMLTable page (`output_directories`, mod_autoindex.c), for
 * the host's IndexOptions (no icons configured, no descriptions). Pure.
 */
import { escapeHtml } from './error-pages.js';

export interface ListingEntry {
  name: string;
  isDir: boolean;
  size: number;
  mtimeMs: number;
}

/** `apr_strfsize`: four characters, e.g. "  4 ", "1.2K", " 12M". */
export function strfsize(size: number): string {
  if (size < 0) return '  - ';
  if (size < 973) return `${String(size).padStart(3, ' ')} `;
  const units = 'KMGTPE';
  let o = 0;
  let n = size;
  for (;;) {
    let remain = n & 1023;
    n = Math.floor(n / 1024);
    if (n >= 973) {
      o++;
      continue;
    }
    if (n < 9 || (n === 9 && remain < 973)) {
      remain = Math.floor((remain * 5 + 256) / 512);
      if (remain >= 10) {
        n++;
        remain = 0;
      }
      return `${n}.${remain}${units[o]}`;
    }
    if (remain >= 512) n++;
    return `${String(n).padStart(3, ' ')}${units[o]}`;
  }
}

const pad = (n: number): string => String(n).padStart(2, '0');
function listingDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}  `;
}

/** Escapes a file name for an href the way `ap_escape_uri` + `ap_escape_html` do. */
function hrefFor(name: string): string {
  return escapeHtml(name.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** `?C=N;O=D` → column and order; anything else is name ascending. */
export function listingOrder(query: string | undefined): { column: 'N' | 'M' | 'S' | 'D'; descending: boolean } {
  let column: 'N' | 'M' | 'S' | 'D' = 'N';
  let descending = false;
  for (const part of (query ?? '').split(/[;&]/)) {
    const [k, v] = part.split('=');
    if (k === 'C' && v && 'NMSD'.includes(v[0]!)) column = v[0] as 'N' | 'M' | 'S' | 'D';
    if (k === 'O' && v) descending = v[0] === 'D';
  }
  return { column, descending };
}

function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'variant' });
}

export function renderListing(uri: string, entries: readonly ListingEntry[], query: string | undefined, hasParent: boolean): string {
  const { column, descending } = listingOrder(query);
  const sorted = [...entries].sort((a, b) => {
    let c = 0;
    if (column === 'M') c = a.mtimeMs - b.mtimeMs;
    else if (column === 'S') c = (a.isDir ? -1 : a.size) - (b.isDir ? -1 : b.size);
    if (c === 0) c = versionCompare(a.name, b.name);
    return descending ? -c : c;
  });
  const link = (col: string, label: string): string => {
    const order = col === column && !descending ? 'D' : 'A';
    return `<th><a href="?C=${col};O=${order}">${label}</a></th>`;
  };
  const title = escapeHtml(uri.length > 1 ? uri.replace(/\/$/, '') : uri);
  const parent = uri.replace(/[^/]*\/$/, '') || '/';
  const rows: string[] = [];
  if (hasParent) {
    rows.push(`<tr><td valign="top">&nbsp;</td><td><a href="${hrefFor(parent)}">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>`);
  }
  for (const e of sorted) {
    const name = e.isDir ? `${e.name}/` : e.name;
    rows.push(
      `<tr><td valign="top">&nbsp;</td><td><a href="${hrefFor(name)}">${escapeHtml(name)}</a></td><td align="right">${listingDate(e.mtimeMs)}</td><td align="right">${e.isDir ? '  - ' : strfsize(e.size)}</td><td>&nbsp;</td></tr>`,
    );
  }
  return (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    `<html>\n <head>\n  <title>Index of ${title}</title>\n </head>\n <body>\n<h1>Index of ${title}</h1>\n  <table>\n` +
    `   <tr><th valign="top">&nbsp;</th>${link('N', 'Name')}${link('M', 'Last modified')}${link('S', 'Size')}${link('D', 'Description')}</tr>\n` +
    '   <tr><th colspan="5"><hr></th></tr>\n' +
    rows.map((r) => `${r}\n`).join('') +
    '   <tr><th colspan="5"><hr></th></tr>\n</table>\n</body></html>\n'
  );
}
