/** Renderings of `check` diagnostics: text for people, JSON, GitHub annotations, SARIF 2.1.0. */
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import { ERROR_CATALOG } from '../vocabulary/error-catalog.js';

export type DiagnosticFormat = 'text' | 'json' | 'github' | 'sarif';

const COLORS = { error: '\x1b[31m', warning: '\x1b[33m', info: '\x1b[36m', dim: '\x1b[2m', reset: '\x1b[0m' };

/** Human output: `path:line:col severity code message`, with the hint indented below. */
export function formatText(diags: readonly Diagnostic[], color: boolean): string {
  return diags
    .map((d) => {
      const sev = color ? `${COLORS[d.severity]}${d.severity}${COLORS.reset}` : d.severity;
      const head = `${d.file}:${d.line}:${d.column} ${sev} ${d.code} ${d.message.replace(/\n/g, '\n    ')}`;
      const hint = d.hint ? `\n    ${color ? COLORS.dim : ''}hint: ${d.hint}${color ? COLORS.reset : ''}` : '';
      return head + hint;
    })
    .join('\n');
}

const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProp = (s: string): string => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** GitHub Actions workflow commands (`::error file=…,line=…::message`). */
export function formatGithub(diags: readonly Diagnostic[]): string {
  return diags
    .map((d) => {
      const kind = d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'notice';
      const msg = d.hint ? `${d.message} (${d.hint})` : d.message;
      return `::${kind} file=${escapeProp(d.file)},line=${d.line},col=${d.column},title=${escapeProp(d.code)}::${escapeData(msg)}`;
    })
    .join('\n');
}

/** SARIF 2.1.0, one run, rules from the error catalog. */
export function formatSarif(diags: readonly Diagnostic[], version: string): string {
  const used = [...new Set(diags.map((d) => d.code))].sort();
  const rules = used.map((code) => {
    const e = ERROR_CATALOG.get(code as never);
    return { id: code, shortDescription: { text: e?.summary ?? code }, ...(e?.hint ? { help: { text: e.hint } } : {}) };
  });
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'htsandbox', version, informationUri: 'https://www.npmjs.com/package/htsandbox', rules } },
        results: diags.map((d) => ({
          ruleId: d.code,
          level: d.severity === 'info' ? 'note' : d.severity,
          message: { text: d.hint ? `${d.message}\n${d.hint}` : d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: d.file },
                region: { startLine: d.line, startColumn: d.column },
              },
            },
          ],
        })),
      },
    ],
  };
  return JSON.stringify(log, null, 2);
}

export function formatDiagnostics(found: readonly Diagnostic[], format: DiagnosticFormat, opts: { color: boolean; version: string }): string {
  // Every finding carries a hint: its own, or its code's from the catalog.
  const diags = found.map((d) => (d.hint ? d : { ...d, ...(ERROR_CATALOG.get(d.code as never)?.hint ? { hint: ERROR_CATALOG.get(d.code as never)!.hint! } : {}) }));
  switch (format) {
    case 'text':
      return formatText(diags, opts.color);
    case 'json':
      return JSON.stringify({ diagnostics: diags }, null, 2);
    case 'github':
      return formatGithub(diags);
    case 'sarif':
      return formatSarif(diags, opts.version);
  }
}
