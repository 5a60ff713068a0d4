/** The site's own files as the CLI's commands look at them (no server involved). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every `.htaccess` under `root` (symbolic links to directories not followed), sorted. */
export function accessFilesUnder(root: string): string[] {
  const out: string[] = [];
  // An explicit stack: a site nested deeper than the call stack is still walked.
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name === '.htaccess') out.push(p);
    }
  }
  return out.sort();
}
