/**
 * Apache's argument tokenizer, `ap_getword_conf` + `substring_conf` (server/util.c):
 * a word is quoted only when its first character is `"` or `'`; inside quotes only
 * `\<quote>` and `\\` are unescaped; an unterminated quote runs to the end of the line;
 * `\\` collapses to `\` even in unquoted words.
 */

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** One word and where it sat in the line. */
export interface Word {
  value: string;
  /** Offset of the word's first character (the quote, if quoted). */
  start: number;
  /** Offset just past the word and the whitespace after it (where the next word starts). */
  next: number;
  quoted: boolean;
}

function unescape(s: string, quote: string | null): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const d = s[i + 1];
    if (c === '\\' && (d === '\\' || (quote !== null && d === quote))) {
      out += d;
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/** Reads the next word from `line` at `pos`; at the end it returns an empty word. */
export function getWordConf(line: string, pos: number): Word {
  let p = pos;
  const n = line.length;
  while (p < n && isSpace(line.charCodeAt(p))) p++;
  if (p >= n) return { value: '', start: p, next: p, quoted: false };
  const start = p;
  const q = line[p]!;
  let value: string;
  let end: number;
  let quoted = false;
  if (q === '"' || q === "'") {
    quoted = true;
    let e = p + 1;
    while (e < n && line[e] !== q) {
      if (line[e] === '\\' && e + 1 < n && (line[e + 1] === q || line[e + 1] === '\\')) e += 2;
      else e++;
    }
    value = unescape(line.slice(p + 1, e), q);
    end = e < n ? e + 1 : e;
  } else {
    let e = p;
    while (e < n && !isSpace(line.charCodeAt(e))) e++;
    value = unescape(line.slice(p, e), null);
    end = e;
  }
  while (end < n && isSpace(line.charCodeAt(end))) end++;
  return { value, start, next: end, quoted };
}

/** Splits a whole argument string into words (what TAKE_ARGV / ITERATE see). */
export function splitWords(args: string): Word[] {
  const out: Word[] = [];
  let pos = 0;
  for (;;) {
    const w = getWordConf(args, pos);
    if (w.value === '' && w.next >= args.length) break;
    out.push(w);
    pos = w.next;
    if (pos >= args.length) break;
  }
  return out;
}
