/** mod_expires codes (`check_code`): `A3600`, `M86400`, or "access plus 1 month". Pure. */
import { getWordConf } from './words.js';

/** Base (A: access, M: modification) and seconds, or undefined for a code Apache rejects. */
export function parseExpiresCode(code: string): { base: 'A' | 'M'; seconds: number } | undefined {
  if (/^[AM]\d+$/.test(code)) return { base: code[0] as 'A' | 'M', seconds: Number(code.slice(1)) };
  let pos = 0;
  const next = (): string => {
    const w = getWordConf(code, pos);
    pos = w.next;
    return w.value.toLowerCase();
  };
  let word = next();
  let base: 'A' | 'M';
  if (word.startsWith('n') || word.startsWith('a')) base = 'A';
  else if (word.startsWith('m')) base = 'M';
  else return undefined;
  word = next();
  if (word.startsWith('p')) word = next();
  let seconds = 0;
  while (word !== '') {
    if (!/^\d/.test(word)) return undefined;
    const num = Number.parseInt(word, 10);
    const unit = next();
    let factor: number;
    if (unit.startsWith('y')) factor = 365 * 86400;
    else if (unit.startsWith('mo')) factor = 30 * 86400;
    else if (unit.startsWith('w')) factor = 7 * 86400;
    else if (unit.startsWith('d')) factor = 86400;
    else if (unit.startsWith('h')) factor = 3600;
    else if (unit.startsWith('mi')) factor = 60;
    else if (unit.startsWith('s')) factor = 1;
    else return undefined;
    seconds += num * factor;
    word = next();
  }
  return { base, seconds };
}
