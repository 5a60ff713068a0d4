/**
 * mod_autoindex's page (`index_directory`, `emit_head`, `output_directories`, `emit_tail` in
 * mod_autoindex.c) for a directory's settings: the query string's sort and format
 * arguments, the entries' icons, alt texts and descriptions, their order (`dsortf`), and the
 * three layouts (HTMLTable, FancyIndexing's <pre>, a plain <ul>). Pure. Every string here is
 * a byte string (one character per byte, 'latin1'), as Apache measures and cuts names in bytes.
 */
import { escapeHtml } from './error-pages.js';
import { AI, type AutoindexSettings, type IconItem } from './autoindex-options.js';
import { compileFnmatch } from './fnmatch.js';

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
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** apr_strftime of the local time: "%Y-%m-%d %H:%M", or UseOldDateFormat's "%d-%b-%Y %H:%M". */
function listingDate(ms: number, old: boolean): string {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return old ? `${pad(d.getDate())}-${MONTHS[d.getMonth()]}-${d.getFullYear()} ${time}` : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** `ap_os_escape_path` (then `ap_escape_html` by the caller): a byte string in, %xx for the rest. */
function escapePath(name: string, partial: boolean): string {
  let out = name.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  // A first segment with a colon would read as a scheme: "./" goes before it.
  if (!partial) {
    const colon = out.indexOf(':');
    const slash = out.indexOf('/');
    if (colon !== -1 && (slash === -1 || colon < slash)) out = `./${out}`;
  }
  return out;
}

/** A byte's code, A-Z folded to a-z when `caseless` (apr_tolower in the C locale). */
const foldedAt = (s: string, i: number, caseless: boolean): number => {
  const c = s.charCodeAt(i);
  return caseless && c >= 65 && c <= 90 ? c + 32 : c;
};

/**
 * `ap_strcmp_match` / `ap_strcasecmp_match`: `*` and `?` wildcards. Backtracks to the last `*`
 * only (what a later `*` can match, an earlier one never needs to): no allocation, as it runs
 * for every icon, alt and IndexIgnore pattern of every entry of a listing.
 */
export function wildcardMatch(str: string, pattern: string, caseless = false): boolean {
  let x = 0;
  let y = 0;
  let starY = -1;
  let starX = 0;
  while (x < str.length) {
    const p = pattern[y];
    if (p === '*') {
      starY = y++;
      starX = x;
    } else if (p !== undefined && (p === '?' || foldedAt(pattern, y, caseless) === foldedAt(str, x, caseless))) {
      x++;
      y++;
    } else if (starY !== -1) {
      y = starY + 1;
      x = ++starX;
    } else return false;
  }
  while (pattern[y] === '*') y++;
  return y === pattern.length;
}

/** `find_item`: the first item for this path (or ^^SPECIAL^^ name), type or encoding. */
function findItem(list: readonly IconItem[], path: string, contentType: string | undefined, encoding: string | undefined, pathOnly: boolean): string | undefined {
  for (const p of list) {
    if (p.applyTo === '') return p.data;
    if (p.by === 'path' || path[0] === '^') {
      if (wildcardMatch(path, p.applyTo)) return p.data;
    } else if (!pathOnly) {
      if (encoding === undefined) {
        if (p.by === 'type' && contentType !== undefined && wildcardMatch(contentType, p.applyTo, true)) return p.data;
      } else if (p.by === 'encoding' && wildcardMatch(encoding, p.applyTo, true)) return p.data;
    }
  }
  return undefined;
}

/** `find_desc`: the first AddDescription whose pattern matches (a substring when it has no wildcards). */
function findDescription(s: AutoindexSettings, filename: string): string | undefined {
  const only = filename.slice(filename.lastIndexOf('/') + 1);
  for (const t of s.descriptions) {
    const name = t.fullPath ? filename : only;
    if (t.matches(name)) return t.description;
  }
  return undefined;
}

/** `find_title` (ScanHTMLTitles): the text after the first `<title>` up to the next '<'. */
export function htmlTitle(head: string): string | undefined {
  const find = '<title>';
  let p = 0;
  for (let x = 0; x < head.length; x++) {
    if (head[x]!.toLowerCase() === find[p]) {
      if (++p === find.length) {
        let rest = head.slice(x + 1);
        const lt = rest.indexOf('<');
        if (lt !== -1) rest = rest.slice(0, lt);
        let out = '';
        let start = true;
        for (const ch of rest) {
          if (ch === '\r' || ch === '\n') {
            if (!start) out += ' ';
          } else {
            out += ch;
            start = false;
          }
        }
        return out;
      }
    } else p = 0;
  }
  return undefined;
}

/** One directory entry, as the lookup sub-request (ap_sub_req_lookup_dirent) found it. */
export interface ListingEntry {
  /** The name as read from the directory (UTF-8 string). */
  name: string;
  isDir: boolean;
  size: number;
  mtimeMs: number;
  /** The lookup's file name (the directory's without its slash), for icons and descriptions. */
  filename: string;
  contentType?: string;
  encoding?: string;
  /** The file's first bytes when ScanHTMLTitles may read its title (text/html, no encoding). */
  htmlHead?: string;
}

type Key = 'N' | 'M' | 'S' | 'D';

/** What the query string (index_directory's parser) and the settings make of one request. */
export interface ListingRequest {
  opts: number;
  key: Key;
  direction: 'A' | 'D';
  /** The F=, V= and P= arguments repeated in the column links. */
  colargs: string;
  /** P=: only the names this wildcard matches (apr_fnmatch with APR_FNM_NOESCAPE | APR_FNM_PERIOD), compiled once per listing. */
  pattern?: (name: string) => boolean;
}

/** `index_directory`'s query string reading: C=, O=, F=, V=, P=; a syntax error ends it. */
export function listingRequest(s: AutoindexSettings, query: string | undefined): ListingRequest {
  let opts = s.opts;
  let key: Key = s.defaultKey ?? 'N';
  let direction = s.defaultDirection ?? 'A';
  if (opts & AI.IGNORE_CLIENT) return { opts: opts | AI.SUPPRESS_COLSORT, key, direction, colargs: '' };
  let fval = '';
  let vval = '';
  let ppre = '';
  let epattern = '';
  let pattern: string | undefined;
  let q = query ?? '';
  const ends = (c: string | undefined) => c === undefined || c === '&' || c === ';';
  while (q) {
    const c2 = q[2];
    if (q[0] === 'C' && q[1] === '=' && c2 && 'NMSD'.includes(c2) && ends(q[3])) {
      key = c2 as Key;
      q = q.slice(q[3] ? 4 : 3);
    } else if (q[0] === 'O' && q[1] === '=' && (c2 === 'A' || c2 === 'D') && ends(q[3])) {
      direction = c2;
      q = q.slice(q[3] ? 4 : 3);
    } else if (q[0] === 'F' && q[1] === '=' && c2 && '012'.includes(c2) && ends(q[3])) {
      if (c2 === '0') opts &= ~(AI.FANCY_INDEXING | AI.TABLE_INDEXING);
      else if (c2 === '1') opts = (opts | AI.FANCY_INDEXING) & ~AI.TABLE_INDEXING;
      else opts |= AI.FANCY_INDEXING | AI.TABLE_INDEXING;
      fval = `;F=${c2}`;
      q = q.slice(q[3] ? 4 : 3);
    } else if (q[0] === 'V' && q[1] === '=' && (c2 === '0' || c2 === '1') && ends(q[3])) {
      if (c2 === '0') opts &= ~AI.VERSION_SORT;
      else opts |= AI.VERSION_SORT;
      vval = `;V=${c2}`;
      q = q.slice(q[3] ? 4 : 3);
    } else if (q[0] === 'P' && q[1] === '=') {
      const rest = q.slice(2);
      const m = /[&;]/.exec(rest);
      const eos = m ? m.index : rest.length;
      pattern = undefined;
      if (eos > 0) {
        const raw = rest.slice(0, eos);
        // ap_unescape_url: a bad %xx, or an encoded '/' or NUL, drops the pattern.
        if (/%(?![0-9a-fA-F]{2})/.test(raw) || /%(2f|00)/i.test(raw)) pattern = undefined;
        else {
          pattern = raw.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
          ppre = ';P=';
          epattern = escapePath(pattern, true);
        }
      }
      q = eos < rest.length && rest.length > eos + 1 ? rest.slice(eos + 1) : '';
    } else q = '';
  }
  const out: ListingRequest = { opts, key, direction, colargs: `${fval}${vval}${ppre}${epattern}` };
  if (pattern !== undefined) out.pattern = compileFnmatch(pattern, { period: true, noEscape: true });
  return out;
}

/** Whether P= lets `name` (as read from the directory) through. */
export function patternAdmits(request: ListingRequest, name: string): boolean {
  return request.pattern === undefined || request.pattern(name);
}

interface Row {
  /** The sort name: a directory's with its slash; the parent's is its URI. */
  name: string;
  parent: boolean;
  isDir: boolean;
  /** FOLDERS_FIRST's flag. */
  dirFirst: boolean;
  size: number;
  /** -1: none. */
  lm: number;
  icon?: string;
  alt?: string;
  desc?: string;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
/** A byte as C's signed char, which apr_strnatcmp compares. */
const sbyte = (s: string, i: number): number => {
  const c = i < s.length ? s.charCodeAt(i) : 0;
  return c > 127 ? c - 256 : c;
};

/** `apr_strnatcmp` / `apr_strnatcasecmp`: digit runs compare as numbers (Martin Pool's natsort). */
export function strnatcmp(a: string, b: string, fold = false): number {
  let ai = 0;
  let bi = 0;
  for (;;) {
    let ca = sbyte(a, ai);
    let cb = sbyte(b, bi);
    while (isSpace(ca)) ca = sbyte(a, ++ai);
    while (isSpace(cb)) cb = sbyte(b, ++bi);
    if (isDigit(ca) && isDigit(cb)) {
      const result = ca === 48 || cb === 48 ? compareLeft(a, ai, b, bi) : compareRight(a, ai, b, bi);
      if (result !== 0) return result;
    }
    if (ca === 0 && cb === 0) return 0;
    if (fold) {
      if (ca >= 97 && ca <= 122) ca -= 32;
      if (cb >= 97 && cb <= 122) cb -= 32;
    }
    if (ca < cb) return -1;
    if (ca > cb) return 1;
    ai++;
    bi++;
  }
}
function compareRight(a: string, ai: number, b: string, bi: number): number {
  let bias = 0;
  for (; ; ai++, bi++) {
    const ca = sbyte(a, ai);
    const cb = sbyte(b, bi);
    if (!isDigit(ca) && !isDigit(cb)) return bias;
    if (!isDigit(ca)) return -1;
    if (!isDigit(cb)) return 1;
    if (ca < cb) bias ||= -1;
    else if (ca > cb) bias ||= 1;
  }
}
function compareLeft(a: string, ai: number, b: string, bi: number): number {
  for (; ; ai++, bi++) {
    const ca = sbyte(a, ai);
    const cb = sbyte(b, bi);
    if (!isDigit(ca) && !isDigit(cb)) return 0;
    if (!isDigit(ca)) return -1;
    if (!isDigit(cb)) return 1;
    if (ca < cb) return -1;
    if (ca > cb) return 1;
  }
}
const strcmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** `dsortf`: the parent first, then (FoldersFirst) directories, then the key, then the name. */
function compareRows(e1: Row, e2: Row, key: Key, ascending: boolean, versionSort: boolean, ignoreCase: boolean): number {
  if (e1.parent) return -1;
  if (e2.parent) return 1;
  if (e1.dirFirst !== e2.dirFirst) return e1.dirFirst ? -1 : 1;
  const [c1, c2] = ascending ? [e1, e2] : [e2, e1];
  if (key === 'M') {
    if (c1.lm !== c2.lm) return c1.lm > c2.lm ? 1 : -1;
  } else if (key === 'S') {
    if (c1.size !== c2.size) return c1.size > c2.size ? 1 : -1;
  } else if (key === 'D') {
    const r = versionSort ? strnatcmp(c1.desc ?? '', c2.desc ?? '') : strcmp(c1.desc ?? '', c2.desc ?? '');
    if (r) return r;
  }
  let result = 0;
  if (versionSort) {
    if (ignoreCase) result = strnatcmp(c1.name, c2.name, true);
    if (!result) result = strnatcmp(c1.name, c2.name);
  }
  if (!result && ignoreCase) result = strcmp(lowerAscii(c1.name), lowerAscii(c2.name));
  if (!result) result = strcmp(c1.name, c2.name);
  return result;
}

/** `terminate_description`: cuts a description to `width` characters (tags free, entities one), ending it with '>'. */
function terminateDescription(s: AutoindexSettings, desc: string, opts: number, width: number): string {
  let maxsize = width;
  if (s.descAdjust === 'unset') {
    if (opts & AI.SUPPRESS_ICON) maxsize += 6;
    if (opts & AI.SUPPRESS_LAST_MOD) maxsize += 19;
    if (opts & AI.SUPPRESS_SIZE) maxsize += 7;
  }
  let x = 0;
  for (; x < desc.length && (maxsize > 0 || desc[x] === '<'); x++) {
    if (desc[x] === '<') {
      const close = desc.indexOf('>', x);
      if (close === -1) return desc;
      x = close;
    } else if (desc[x] === '&') {
      maxsize--;
      const semi = desc.indexOf(';', x);
      if (semi === -1) return desc;
      x = semi;
    } else maxsize--;
  }
  if (!maxsize && x < desc.length) return `${desc.slice(0, x - 1)}>`;
  return desc;
}

/** What emit_head and emit_tail insert: an HTML file as it is, another text file in <pre>. */
export type Insert = { html: string } | { text: string } | undefined;

/** do_emit_plain: the text in <pre>, with <, > and & escaped. */
const plain = (text: string): string => `<pre>\n${text.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'))}</pre>\n`;

export interface ListingPage {
  /** r->uri, decoded. */
  uri: string;
  settings: AutoindexSettings;
  request: ListingRequest;
  entries: readonly ListingEntry[];
  /** The parent entry is shown (not `/`, not ignored by IndexIgnore ".."). */
  parentShown: boolean;
  /** The directory's file name with its slash, for the parent's "/dir/.." icon and description. */
  dirPath: string;
  header?: Insert;
  readme?: Insert;
  /** ap_psignature("", r): ServerSignature's <address> line ('' when Off), left out when a readme was shown. */
  signature?: string;
}

/** The page's bytes, as a byte string. */
export function renderListing(page: ListingPage): string {
  const s = page.settings;
  const { key, direction, colargs } = page.request;
  const opts = page.request.opts;
  const xhtml = (opts & AI.EMIT_XHTML) !== 0;
  const fancy = (opts & (AI.FANCY_INDEXING | AI.TABLE_INDEXING)) !== 0;
  const styled = s.styleSheet !== undefined;
  const rows: Row[] = [];
  if (page.parentShown) {
    const testpath = `${page.dirPath}..`;
    const row: Row = { name: parentUri(page.uri), parent: true, isDir: true, dirFirst: false, size: -1, lm: -1 };
    if (opts & AI.FANCY_INDEXING) {
      const icon = findItem(s.icons, testpath, undefined, undefined, true) ?? findItem(s.icons, '^^DIRECTORY^^', undefined, undefined, true);
      if (icon !== undefined) row.icon = icon;
      row.alt = findItem(s.alts, testpath, undefined, undefined, true) ?? findItem(s.alts, '^^DIRECTORY^^', undefined, undefined, true) ?? 'PARENTDIR';
      const desc = findDescription(s, testpath);
      if (desc !== undefined) row.desc = desc;
    }
    rows.push(row);
  }
  for (const e of page.entries) {
    const row: Row = { name: e.isDir ? `${e.name}/` : e.name, parent: false, isDir: e.isDir, dirFirst: false, size: -1, lm: -1 };
    if (fancy) {
      row.lm = e.mtimeMs;
      const filename = e.filename;
      if (e.isDir) {
        row.dirFirst = (opts & AI.FOLDERS_FIRST) !== 0;
        const icon = findItem(s.icons, filename, undefined, undefined, true) ?? findItem(s.icons, '^^DIRECTORY^^', undefined, undefined, true);
        if (icon !== undefined) row.icon = icon;
        row.alt = findItem(s.alts, filename, undefined, undefined, true) ?? findItem(s.alts, '^^DIRECTORY^^', undefined, undefined, true) ?? 'DIR';
      } else {
        const icon = findItem(s.icons, filename, e.contentType, e.encoding, false);
        if (icon !== undefined) row.icon = icon;
        const alt = findItem(s.alts, filename, e.contentType, e.encoding, false);
        if (alt !== undefined) row.alt = alt;
        row.size = e.size;
      }
      const desc = findDescription(s, filename) ?? (opts & AI.SCAN_HTML_TITLES && e.htmlHead !== undefined ? htmlTitle(e.htmlHead) : undefined);
      if (desc !== undefined) row.desc = desc;
    } else if (key === 'M') row.lm = 0;
    rows.push(row);
  }
  const versionSort = (opts & AI.VERSION_SORT) !== 0;
  const ignoreCase = (opts & AI.IGNORE_CASE) !== 0;
  rows.sort((a, b) => compareRows(a, b, key, direction === 'A', versionSort, ignoreCase));

  const title = escapeHtml(page.uri.replace(/(?<=.)\/+$/, ''));
  let out = '';
  // emit_head: the header file replaces the <h1> (an HTML one also the preamble, with SuppressHTMLPreamble).
  const preamble = (): string => {
    let p = xhtml
      ? `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">\n <head>\n  <title>Index of ${title}</title>\n`
      : `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html>\n <head>\n  <title>Index of ${title}</title>\n`;
    if (styled) p += `  <link rel="stylesheet" href="${s.styleSheet!}" type="text/css"${xhtml ? ' />\n' : '>\n'}`;
    if (s.headInsert !== undefined) p += s.headInsert;
    return `${p} </head>\n <body>\n`;
  };
  const header = page.header;
  if (header && 'html' in header) {
    if (!(opts & AI.SUPPRESS_PREAMBLE)) out += preamble();
    out += header.html;
  } else if (header && 'text' in header) {
    out += preamble() + plain(header.text);
  } else {
    out += preamble();
    out += styled ? `  <h1 id="indextitle">Index of ${title}</h1>\n` : `<h1>Index of ${title}</h1>\n`;
  }
  out += outputDirectories(rows, s, opts, key, direction, colargs);
  // emit_tail: a readme replaces the signature; an HTML one with SuppressHTMLPreamble ends the page itself.
  const readme = page.readme;
  if (readme && 'html' in readme) {
    out += readme.html;
    if (!(opts & AI.SUPPRESS_PREAMBLE)) out += '</body></html>\n';
  } else {
    out += readme && 'text' in readme ? plain(readme.text) : (page.signature ?? '');
    out += '</body></html>\n';
  }
  return out;
}

/** `ap_make_full_path(r->uri, "../")`, normalized. */
export function parentUri(uri: string): string {
  const dir = uri.endsWith('/') ? uri : `${uri}/`;
  return dir.replace(/[^/]*\/$/, '') || '/';
}

function emitLink(anchor: string, column: Key, key: Key, direction: 'A' | 'D', colargs: string, nosort: boolean): string {
  if (nosort) return anchor;
  return `<a href="?C=${column};O=${key === column && direction === 'A' ? 'D' : 'A'}${colargs}">${anchor}</a>`;
}

/** `output_directories`. */
function outputDirectories(rows: readonly Row[], s: AutoindexSettings, opts: number, key: Key, direction: 'A' | 'D', colargs: string): string {
  const xhtml = (opts & AI.EMIT_XHTML) !== 0;
  const styled = s.styleSheet !== undefined;
  const nosort = (opts & AI.SUPPRESS_COLSORT) !== 0;
  const table = (opts & AI.TABLE_INDEXING) !== 0;
  const fancy = (opts & AI.FANCY_INDEXING) !== 0;
  let nameWidth = s.nameWidth;
  let descWidth = s.descWidth;
  if (fancy && !table) {
    if (s.nameAdjust === 'adjust') for (const r of rows) nameWidth = Math.max(nameWidth, r.name.length);
    if (s.descAdjust === 'adjust') for (const r of rows) if (r.desc !== undefined) descWidth = Math.max(descWidth, r.desc.length);
  }
  const padding = (n: number): string => ' '.repeat(Math.max(0, nameWidth - n));
  const sizes = (): string => `${s.iconWidth ? ` width="${s.iconWidth}"` : ''}${s.iconHeight ? ` height="${s.iconHeight}"` : ''}${xhtml ? ' /' : ''}`;
  const blank = findItem(s.icons, '^^BLANKICON^^', undefined, undefined, true);
  const link = (anchor: string, column: Key): string => emitLink(anchor, column, key, direction, colargs, nosort);
  const cut = (t: string): string => (t.length > nameWidth ? `${t.slice(0, nameWidth - 3)}..>` : t);
  let out = '';
  let breakrow = '';
  if (table) {
    let cols = 1;
    out += styled ? '  <table id="indexlist">\n   <tr class="indexhead">' : '  <table>\n   <tr>';
    if (!(opts & AI.SUPPRESS_ICON)) {
      out += styled ? '<th class="indexcolicon">' : '<th valign="top">';
      out += blank !== undefined ? `<img src="${escapeHtml(blank)}" alt="[ICO]"${sizes()}></th>` : '&nbsp;</th>';
      cols++;
    }
    out += `<th${styled ? ' class="indexcolname">' : '>'}${link('Name', 'N')}`;
    if (!(opts & AI.SUPPRESS_LAST_MOD)) {
      out += `</th><th${styled ? ' class="indexcollastmod">' : '>'}${link('Last modified', 'M')}`;
      cols++;
    }
    if (!(opts & AI.SUPPRESS_SIZE)) {
      out += `</th><th${styled ? ' class="indexcolsize">' : '>'}${link('Size', 'S')}`;
      cols++;
    }
    if (!(opts & AI.SUPPRESS_DESC)) {
      out += `</th><th${styled ? ' class="indexcoldesc">' : '>'}${link('Description', 'D')}`;
      cols++;
    }
    if (!(opts & AI.SUPPRESS_RULES)) breakrow = `   <tr${styled ? ' class="indexbreakrow"' : ''}><th colspan="${cols}"><hr${xhtml ? ' /' : ''}></th></tr>\n`;
    out += `</th></tr>\n${breakrow}`;
  } else if (fancy) {
    out += '<pre>';
    if (!(opts & AI.SUPPRESS_ICON)) out += blank !== undefined ? `<img src="${escapeHtml(blank)}" alt="Icon "${sizes()}> ` : '      ';
    out += `${link('Name', 'N')}${' '.repeat(Math.max(0, nameWidth - 4))} `;
    if (!(opts & AI.SUPPRESS_LAST_MOD)) out += `${link('Last modified', 'M')}      `;
    if (!(opts & AI.SUPPRESS_SIZE)) out += `${link('Size', 'S')}  `;
    if (!(opts & AI.SUPPRESS_DESC)) out += link('Description', 'D');
    out += opts & AI.SUPPRESS_RULES ? '\n' : `<hr${xhtml ? ' /' : ''}>`;
  } else out += '<ul>';

  const old = s.dateFormat === 'old';
  rows.forEach((r, x) => {
    const anchor = escapeHtml(escapePath(r.name, false));
    const t2 = x === 0 && r.name[0] === '/' ? 'Parent Directory' : r.name;
    const iconCell = (): string => {
      let c = opts & AI.ICONS_ARE_LINKS ? `<a href="${anchor}">` : '';
      const icon = r.icon ?? s.defaultIcon;
      if (icon !== undefined) c += `<img src="${escapeHtml(icon)}" alt="[${r.alt ?? '   '}]"${sizes()}>`;
      else c += table ? '&nbsp;' : '     ';
      return c;
    };
    if (table) {
      if (styled) {
        const parity = x & 1 ? 'odd' : 'even';
        out += r.alt !== undefined && opts & AI.ADDALTCLASS ? `   <tr class="${parity}-${lowerAscii(r.alt)}">` : `   <tr class="${parity}">`;
      } else out += '<tr>';
      if (!(opts & AI.SUPPRESS_ICON)) out += `<td${styled ? ' class="indexcolicon">' : ' valign="top">'}${iconCell()}${opts & AI.ICONS_ARE_LINKS ? '</a></td>' : '</td>'}`;
      const nameCell = styled ? '<td class="indexcolname">' : '<td>';
      if (s.nameAdjust === 'adjust') out += `${nameCell}<a href="${anchor}">${escapeHtml(t2)}</a>`;
      else {
        const shown = cut(t2);
        out += `${nameCell}<a href="${anchor}">${escapeHtml(shown)}</a>${padding(shown.length)}`;
      }
      if (!(opts & AI.SUPPRESS_LAST_MOD)) {
        if (r.lm !== -1) out += `</td><td${styled ? ' class="indexcollastmod">' : ' align="right">'}${listingDate(r.lm, old)}  `;
        else out += `</td><td${styled ? ' class="indexcollastmod">&nbsp;' : '>&nbsp;'}`;
      }
      if (!(opts & AI.SUPPRESS_SIZE)) out += `</td><td${styled ? ' class="indexcolsize">' : ' align="right">'}${strfsize(r.size)}`;
      if (!(opts & AI.SUPPRESS_DESC)) {
        const cell = styled ? '</td><td class="indexcoldesc">' : '</td><td>';
        if (r.desc !== undefined) out += cell + (s.descAdjust === 'adjust' ? r.desc : terminateDescription(s, r.desc, opts, descWidth));
        else out += `${cell}&nbsp;`;
      }
      out += '</td></tr>\n';
    } else if (fancy) {
      if (!(opts & AI.SUPPRESS_ICON)) out += iconCell() + (opts & AI.ICONS_ARE_LINKS ? '</a> ' : ' ');
      const shown = cut(t2);
      out += `<a href="${anchor}">${escapeHtml(shown)}</a>${padding(shown.length)} `;
      if (!(opts & AI.SUPPRESS_LAST_MOD)) out += r.lm !== -1 ? `${listingDate(r.lm, old)}  ` : ' '.repeat(19);
      if (!(opts & AI.SUPPRESS_SIZE)) out += `${strfsize(r.size)}  `;
      if (!(opts & AI.SUPPRESS_DESC) && r.desc !== undefined) out += terminateDescription(s, r.desc, opts, descWidth);
      out += '\n';
    } else out += `<li><a href="${anchor}"> ${escapeHtml(t2)}</a></li>\n`;
  });
  if (table) out += `${breakrow}</table>\n`;
  else if (fancy) out += opts & AI.SUPPRESS_RULES ? '</pre>\n' : `<hr${xhtml ? ' /' : ''}></pre>\n`;
  else out += '</ul>\n';
  return out;
}
