/**
 * `htsandbox check`'s file-system side: finds every access file under a site root and judges
 * each one with the host's AllowOverride for its directory.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import { catalogEntry, type ErrorCode } from '../vocabulary/error-catalog.js';
import { analyzeHtaccess } from '../grammar/htaccess-analysis.js';
import { withFcgidProgramCheck } from './fcgid-programs.js';
import { htaccessIgnored, overridePolicyFor } from '../grammar/host-config.js';
import type { LoadedHost } from './server-config-loader.js';

export interface CheckedFile {
  /** Path shown to the user (the root as given, joined with the relative path). */
  file: string;
  /** Whether the host would answer 500 for this directory and below. */
  rejected: boolean;
}

export interface SiteCheckResult {
  files: CheckedFile[];
  diagnostics: Diagnostic[];
}

function ioDiag(code: ErrorCode, file: string, message: string): Diagnostic {
  const e = catalogEntry(code);
  return { code, severity: e.severity, file, line: 1, column: 1, message, ...(e.hint ? { hint: e.hint } : {}) };
}

/** Checks every access file under `rootAsGiven`. */
export function checkSite(rootAsGiven: string, loaded: LoadedHost): SiteCheckResult {
  const rootAbs = resolve(rootAsGiven);
  const shown = (abs: string): string => {
    const rel = relative(rootAbs, abs);
    return rel === '' ? rootAsGiven : join(rootAsGiven, rel).split(sep).join('/');
  };
  const files: CheckedFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const names = loaded.host.accessFileNames;
  const visit = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (err) {
      diagnostics.push(ioDiag('HT300', shown(dir), `cannot read directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
      return;
    }
    // Apache uses the first AccessFileName that exists in a directory.
    const accessName = names.find((n) => entries.includes(n));
    if (accessName) {
      const abs = join(dir, accessName);
      const policy = overridePolicyFor(loaded.host, dir);
      if (!htaccessIgnored(policy)) {
        let text: string | undefined;
        try {
          text = readFileSync(abs, 'latin1');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EISDIR') {
            diagnostics.push(ioDiag('HT302', shown(abs), `Access to file ${abs} denied by server: not a regular file`));
          } else {
            diagnostics.push(ioDiag('HT302', shown(abs), `pcfg_openfile: unable to check htaccess file, ensure it is readable and that '${dir}/' is executable`));
          }
          files.push({ file: shown(abs), rejected: true });
        }
        if (text !== undefined) {
          const analysis = withFcgidProgramCheck(analyzeHtaccess(text, shown(abs), loaded.facts, loaded.host.modules, policy));
          diagnostics.push(...analysis.diagnostics);
          files.push({ file: shown(abs), rejected: analysis.fatal !== undefined });
        }
      }
    }
    for (const name of entries) {
      const child = join(dir, name);
      try {
        if (lstatSync(child).isDirectory()) visit(child);
      } catch {
        /* vanished while walking */
      }
    }
  };
  visit(rootAbs);
  return { files, diagnostics };
}
