/**
 * Byte strings. Apache works on bytes; htsandbox keeps request and configuration text as
 * latin1 strings, one UTF-16 unit per byte (Buffer's 'latin1'): a decoded `%E9` is the unit
 * 0xE9, `café` read from a UTF-8 `.htaccess` is `caf\u00c3\u00a9`. Text that Node decoded as
 * UTF-8 (the server's own environment) is turned back into its bytes before it joins them. Pure.
 */

const NON_ASCII = /[^\x00-\x7f]/;

/** Text (a JS string of Unicode characters) as the byte string of its UTF-8 encoding. */
export function textAsBytes(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/**
 * `ap_str_tolower` (apr_tolower, C locale): only A-Z change. String's toLowerCase would also
 * fold the units 0xC0-0xDE, so that a Latin-1 `\xC9` byte would be taken for `\xE9`.
 */
export function asciiLower(s: string): string {
  return NON_ASCII.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s.toLowerCase();
}

/**
 * `ap_str_toupper` (apr_toupper, C locale): only a-z change. String's toUpperCase would also
 * fold 0xE0-0xFE, turn 0xDF into "SS" and 0xB5, 0xFF into units above 0xFF (no longer bytes).
 */
export function asciiUpper(s: string): string {
  return NON_ASCII.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s.toUpperCase();
}
