/**
 * htpasswd files and password checks as Apache does them on Linux (`check_password`,
 * mod_authn_file.c; `apr_password_validate`): `$apr1$` (APR MD5), `$2y$`/`$2a$`/`$2b$` (bcrypt),
 * `{SHA}` (base64 SHA-1), anything else through crypt(3) (DES). Plain text never matches.
 * Hashing comes from well-kept libraries: apache-md5, bcryptjs, unix-crypt-td-js.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { readLogicalLines } from './line-reader.js';
import { getWordConf } from './words.js';

const require = createRequire(import.meta.url);
const apacheMd5 = require('apache-md5') as (password: string, salt: string) => string;
const bcrypt = require('bcryptjs') as { compareSync(password: string, hash: string): boolean };
const unixCrypt = require('unix-crypt-td-js') as (password: string, salt: string) => string;

/** The hash of `user` in an htpasswd file's text (the first matching line wins), or undefined. */
export function findUserHash(text: string, user: string): string | undefined {
  // Lines are read like config lines: trimmed, continuations joined, '#' comments skipped.
  for (const line of readLogicalLines(text, 16 * 1024 * 1024).lines) {
    const l = line.text;
    if (l === '' || l.startsWith('#')) continue;
    const colon = l.indexOf(':');
    if (colon === -1) continue;
    if (l.slice(0, colon) !== user) continue;
    const rest = l.slice(colon + 1);
    const end = rest.indexOf(':');
    return end === -1 ? rest : rest.slice(0, end);
  }
  return undefined;
}

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** `apr_password_validate`. */
export function verifyPassword(password: string, hash: string): boolean {
  try {
    if (hash.startsWith('$apr1$')) {
      const salt = hash.slice(0, hash.lastIndexOf('$') + 1);
      return same(apacheMd5(password, salt), hash);
    }
    if (/^\$2[aby]\$/.test(hash)) return bcrypt.compareSync(password, hash.replace(/^\$2y\$/, '$2a$'));
    if (hash.startsWith('{SHA}')) return same(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
    if (hash.length === 13) return same(unixCrypt(password, hash.slice(0, 2)), hash);
    return false;
  } catch {
    return false;
  }
}

/** The groups of `user` in an AuthGroupFile's text (`group: user1 user2`). */
export function groupsOf(text: string, user: string): string[] {
  const out: string[] = [];
  for (const line of readLogicalLines(text, 16 * 1024 * 1024).lines) {
    const l = line.text;
    if (l === '' || l.startsWith('#')) continue;
    const colon = l.indexOf(':');
    if (colon === -1) continue;
    let pos = colon + 1;
    for (;;) {
      const w = getWordConf(l, pos);
      if (w.value === '' && w.next >= l.length) break;
      if (w.value === user) {
        out.push(l.slice(0, colon));
        break;
      }
      pos = w.next;
      if (pos >= l.length) break;
    }
  }
  return out;
}
