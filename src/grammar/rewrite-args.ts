/**
 * How mod_rewrite splits its own argument lines (modules/mappers/mod_rewrite.c): `parseargline`
 * for RewriteCond and RewriteRule, `cmd_parseflagfield` for their `[flags]`. Pure; used by the
 * module (src/modules/rewrite.ts) and by `check`'s rewrite advice (rewrite-lint.ts).
 */

/** `parseargline`: up to three words, quotes honoured, `\ ` escapes a space. */
export function rewriteArgLine(str: string): { a1: string; a2: string; a3?: string } | undefined {
  let i = 0;
  const n = str.length;
  const isSpace = (c: string | undefined): boolean => c !== undefined && /[ \t\n\v\f\r]/.test(c);
  const word = (): { value: string; ended: boolean } => {
    let quote = '';
    if (str[i] === '"' || str[i] === "'") quote = str[i++]!;
    const start = i;
    for (; i < n; i++) {
      const c = str[i]!;
      if ((isSpace(c) && !quote) || c === quote) break;
      if (c === '\\' && isSpace(str[i + 1])) i++;
    }
    const value = str.slice(start, i);
    const ended = i >= n;
    return { value, ended };
  };
  while (isSpace(str[i])) i++;
  const w1 = word();
  if (w1.ended) return undefined;
  i++;
  while (isSpace(str[i])) i++;
  const w2 = word();
  if (w2.ended) return { a1: w1.value, a2: w2.value };
  i++;
  while (isSpace(str[i])) i++;
  if (i >= n) return { a1: w1.value, a2: w2.value };
  const w3 = word();
  return { a1: w1.value, a2: w2.value, a3: w3.value };
}

/** `cmd_parseflagfield`: `[a,b=c]` → key/value pairs, or Apache's error. */
export function rewriteFlagField(field: string): { pairs: [string, string][] } | { error: string } {
  if (!field.startsWith('[') || !field.endsWith(']') || field.length < 2) return { error: 'bad flag delimiters' };
  const body = `${field.slice(1, -1)},`;
  const pairs: [string, string][] = [];
  let pos = 0;
  while (pos < body.length) {
    while (pos < body.length && /\s/.test(body[pos]!)) pos++;
    const comma = body.indexOf(',', pos);
    if (pos >= body.length || comma === -1) break;
    const item = body.slice(pos, comma).replace(/\s+$/, '');
    const eq = item.indexOf('=');
    pairs.push(eq === -1 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)]);
    pos = comma + 1;
  }
  return { pairs };
}
