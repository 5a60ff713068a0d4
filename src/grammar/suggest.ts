/**
 * "Did you mean …": the known name nearest to a misspelled one, for the hints of diagnostics
 * (an unknown directive, option, RewriteRule flag or handler). Pure.
 */

/** Edits between two words (insert, delete, replace, swap two neighbours), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) rows.push([i]);
  for (let j = 1; j <= t.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[s.length]![t.length]!;
}

/**
 * The candidate closest to `word`, when it is close enough to be a typo of it: one edit for
 * names of up to four characters, two up to eight, three beyond. The first of equals wins.
 */
export function closestName(word: string, candidates: Iterable<string>): string | undefined {
  if (word === '' || word.length > 64) return undefined;
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    if (Math.abs(c.length - word.length) > limit) continue;
    const d = distance(word, c);
    if (d > 0 && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `did you mean X? ` for a hint, or '' when nothing known is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const name = closestName(word, candidates);
  return name === undefined ? '' : `did you mean ${name}? `;
}
