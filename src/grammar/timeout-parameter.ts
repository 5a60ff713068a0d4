/**
 * `ap_timeout_parameter_parse` (server/util.c): a time written as an integer (apr_strtoi64:
 * leading white space, an optional sign, decimal digits) and a unit, `s`, `h`, `ms` or `mi`
 * (minutes), of which only the first letters count; without a unit, `defaultUnit`. Pure.
 */

const MS_PER_UNIT: Readonly<Record<string, number>> = { s: 1000, h: 3_600_000, ms: 1, mi: 60_000 };
const INT64_MAX = 2n ** 63n - 1n;

/** The time in milliseconds, or undefined where Apache answers APR_EGENERAL or ERANGE. */
export function parseTimeoutParameter(text: string, defaultUnit: 's' | 'ms' = 's'): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text)!;
  const digits = m[2]!;
  // strtoll: out of range is ERANGE; no digits at all reads 0 and leaves the text to the unit.
  if (digits !== '' && BigInt(digits) > INT64_MAX + (m[1] === '-' ? 1n : 0n)) return undefined;
  const rest = digits === '' ? text : text.slice(m[0].length);
  const unitText = rest === '' ? defaultUnit : rest;
  const unit = unitText[0] === 'm' ? unitText.slice(0, 2) : unitText[0]!;
  const scale = MS_PER_UNIT[unit];
  if (scale === undefined) return undefined;
  const value = digits === '' ? 0 : Number(digits) * (m[1] === '-' ? -1 : 1);
  return value * scale;
}
