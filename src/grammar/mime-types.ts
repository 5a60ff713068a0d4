/** The `TypesConfig` file (mime.types format): extension → media type; a later line wins. Pure. */
import { asciiLower } from './byte-strings.js';

export function parseMimeTypes(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [type, ...exts] = trimmed.split(/\s+/);
    if (!type) continue;
    for (const ext of exts) map.set(ext.toLowerCase(), type.toLowerCase());
  }
  return map;
}

/**
 * The extensions mod_mime considers in a file name (`find_ct`): leading dots belong to the
 * name, the first dot-separated part is the base, every later non-empty part is an
 * extension, lower-cased, left to right.
 */
export function fileExtensions(basename: string): string[] {
  let i = 0;
  while (basename[i] === '.') i++;
  const parts = basename.slice(i).split('.');
  return parts
    .slice(1)
    .filter((p) => p !== '')
    .map(asciiLower);
}
