/**
 * mod_fcgid checks, while it reads a configuration, that the program each of its directives
 * names exists (`apr_stat` in set_wrapper_config and set_*_info): in a `.htaccess` a missing
 * one fails the whole file, so every request below that directory answers 500. This needs the
 * file system, so it runs here, next to the pure analysis, for `serve` and `check` alike.
 */
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { catalogEntry } from '../vocabulary/error-catalog.js';
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import type { ConfigNode } from '../grammar/syntax-tree.js';
import { walkActive } from '../grammar/syntax-tree.js';
import { splitWords } from '../grammar/words.js';
import { aprErrorText } from './os-errors.js';
import type { HtaccessAnalysis } from '../grammar/htaccess-analysis.js';

/** Directive → mod_fcgid's word for the program, and whether it reports the whole line. */
const PROGRAM_DIRECTIVES: ReadonlyMap<string, { what: string; wholeLine: boolean }> = new Map([
  ['fcgidwrapper', { what: 'Wrapper', wholeLine: false }],
  ['fcgiwrapper', { what: 'Wrapper', wholeLine: false }],
  ['fcgidauthenticator', { what: 'Authenticator', wholeLine: true }],
  ['fastcgiauthenticator', { what: 'Authenticator', wholeLine: true }],
  ['fcgidauthorizer', { what: 'Authorizer', wholeLine: true }],
  ['fastcgiauthorizer', { what: 'Authorizer', wholeLine: true }],
  ['fcgidaccesschecker', { what: 'Access checker', wholeLine: true }],
  ['fastcgiaccesschecker', { what: 'Access checker', wholeLine: true }],
]);

/** The first mod_fcgid directive (in file order) whose program cannot be stat'ed, as Apache words it. */
export function missingFcgidProgram(nodes: readonly ConfigNode[]): Diagnostic | undefined {
  for (const { node } of walkActive(nodes)) {
    if (node.kind !== 'directive') continue;
    const kind = PROGRAM_DIRECTIVES.get(node.key);
    const arg = node.args[0]?.value;
    if (!kind || arg === undefined) continue;
    const program = splitWords(arg)[0]?.value;
    if (!program) continue;
    try {
      // Apache's working directory is /.
      statSync(isAbsolute(program) ? program : join('/', program));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      const text = aprErrorText(code, `(${Math.abs((err as NodeJS.ErrnoException).errno ?? 5)})${code}`);
      const entry = catalogEntry('HT105');
      return {
        code: 'HT105',
        severity: entry.severity,
        file: node.file,
        line: node.line,
        column: node.column,
        message: `${kind.what} ${kind.wholeLine ? arg : program} cannot be accessed: ${text}`,
        hint: `mod_fcgid checks that ${program} exists when it reads this file; while it does not, every request in this directory answers 500. Install it or fix the path.`,
      };
    }
  }
  return undefined;
}

/** The analysis with mod_fcgid's program check folded in (Apache stops at the first error in the file). */
export function withFcgidProgramCheck(analysis: HtaccessAnalysis): HtaccessAnalysis & { programMissing: boolean } {
  const missing = missingFcgidProgram(analysis.nodes);
  if (!missing) return { ...analysis, programMissing: false };
  const fatal = analysis.fatal && analysis.fatal.line <= missing.line ? analysis.fatal : missing;
  return { nodes: analysis.nodes, diagnostics: [...analysis.diagnostics, missing], fatal, programMissing: true };
}
