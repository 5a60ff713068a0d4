/**
 * The `.htaccess` verdict corpus: `fixtures/htaccess/NAME.htaccess` (+ optional
 * `NAME.override`, the AllowOverride of that fixture's directory) and the verdicts real
 * Apache gave, recorded in `fixtures/htaccess/verdicts.json`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './private-apache.js';

export const HTACCESS_FIXTURES = join(PROJECT_ROOT, 'fixtures/htaccess');
export const VERDICTS_FILE = join(HTACCESS_FIXTURES, 'verdicts.json');

export interface HtaccessFixture {
  name: string;
  /** Raw bytes of the file. */
  content: Buffer;
  /** AllowOverride value for its directory; undefined means the profile's (All). */
  override: string | undefined;
}

/** Apache's verdict on one fixture. */
export interface ApacheVerdict {
  rejected: boolean;
  /** Apache's message (the part after "<path>: " in its error log), when it rejected the file. */
  message?: string;
  /** Apache's child process crashed reading it: the client got no answer at all. */
  noAnswer?: boolean;
}

/**
 * A fixture too big to keep as a file (thousands of nested sections), written as
 * `NAME.nested.json`: `depth` times the `open` lines, then `body`, then as many `close` lines.
 */
interface NestedFixture {
  open: string[];
  body: string[];
  close: string[];
  depth: number;
}

function expandNested(spec: NestedFixture): Buffer {
  const open = spec.open.map((l) => `${l}\n`).join('');
  const close = spec.close.map((l) => `${l}\n`).join('');
  return Buffer.from(open.repeat(spec.depth) + spec.body.map((l) => `${l}\n`).join('') + close.repeat(spec.depth), 'latin1');
}

export function loadFixtures(): HtaccessFixture[] {
  return readdirSync(HTACCESS_FIXTURES)
    .filter((f) => f.endsWith('.htaccess') || f.endsWith('.nested.json'))
    .sort()
    .map((f) => {
      const nested = f.endsWith('.nested.json');
      const name = f.slice(0, -(nested ? '.nested.json' : '.htaccess').length);
      let override: string | undefined;
      try {
        override = readFileSync(join(HTACCESS_FIXTURES, `${name}.override`), 'utf8').trim();
      } catch {
        override = undefined;
      }
      const raw = readFileSync(join(HTACCESS_FIXTURES, f));
      const content = nested ? expandNested(JSON.parse(raw.toString('utf8')) as NestedFixture) : raw;
      return { name, content, override };
    });
}

/** Server-config lines that give each fixture directory its AllowOverride. */
export function overrideSections(siteRoot: string, fixtures: readonly HtaccessFixture[]): string {
  return fixtures
    .filter((f) => f.override !== undefined)
    .map((f) => `<Directory "${siteRoot}/${f.name}">\n    AllowOverride ${f.override}\n</Directory>`)
    .join('\n');
}

export function readVerdicts(): Record<string, ApacheVerdict> {
  return JSON.parse(readFileSync(VERDICTS_FILE, 'utf8')) as Record<string, ApacheVerdict>;
}
