/**
 * Paths between htsandbox and the operating system. htsandbox keeps every path as a byte
 * string (grammar/byte-strings.ts: one unit per byte), as Apache does: a request's decoded
 * `%C3%A9` is the two units 0xC3 0xA9, a Latin-1 `%E9` the one unit 0xE9. Node's file
 * functions write a string path as UTF-8, which would turn each of those units into two bytes;
 * they take a Buffer as the bytes themselves. An ASCII path, the common case, is passed on as
 * it is, after one test.
 */
import { readdirSync } from 'node:fs';

const NON_ASCII = /[^\x00-\x7f]/;
/** A unit above 0xFF: the string is text (Node's own, e.g. from argv), not bytes. */
const WIDE = /[^\x00-\xff]/;

/** `path` as Node's file functions should get it to reach the bytes it stands for. */
export function osPath(path: string): string | Buffer {
  return NON_ASCII.test(path) && !WIDE.test(path) ? Buffer.from(path, 'latin1') : path;
}

/**
 * The text whose UTF-8 encoding is exactly the bytes of `path`, for the interfaces that take
 * only text and write it as UTF-8 (Node's spawn, the native helper's paths); undefined when the
 * bytes are not UTF-8 (no text gives them). ASCII comes back as it is.
 */
export function utf8Text(path: string): string | undefined {
  if (!NON_ASCII.test(path) || WIDE.test(path)) return path;
  const bytes = Buffer.from(path, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text, 'utf8') === bytes.length && Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/** The names in directory `dir`, as byte strings (a name that is not UTF-8 kept as it is). */
export function readdirBytes(dir: string): string[] {
  return readdirSync(osPath(dir), { encoding: 'buffer' }).map((name) => name.toString('latin1'));
}
