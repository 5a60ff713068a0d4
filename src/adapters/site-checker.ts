/**
 * `htsandbox check`'s file-system side: finds every access file under a site root and judges
 * each one with the host's AllowOverride for its directory, then every file a request would run
 * as a script.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import { catalogEntry, type ErrorCode } from '../vocabulary/error-catalog.js';
import { analyzeHtaccess } from '../grammar/htaccess-analysis.js';
import { walkActive } from '../grammar/syntax-tree.js';
import { lintRewrite } from '../grammar/rewrite-lint.js';
import { withFcgidProgramCheck } from './fcgid-programs.js';
import { htaccessIgnored, overridePolicyFor } from '../grammar/host-config.js';
import type { LoadedHost } from './server-config-loader.js';
import { siteResolveContext } from './site-resolve-context.js';
import { checkExecutable, runsThroughPhpCgi } from './cgi-process.js';
import { resolveRequest, SCRIPT_HANDLERS, type Decision } from '../engine/resolve.js';
import { dirConfigOf } from '../engine/config-ref.js';
import { fcgidWrapperFor } from '../engine/dir-config.js';
import { usesFastCgiLibrary, watchesOwnFile } from '../grammar/fastcgi-source.js';
// Installs the directive registry (the modules' command tables) before any file is read.
import '../modules/index.js';

/** The most of a script (or program) the doctor reads: enough for any script, and a program's symbol table. */
const DOCTOR_READ_LIMIT = 8 * 1024 * 1024;

/**
 * What a FastCGI application's own text shows: no FastCGI library at all (a plain CGI script
 * under fcgid-script, HT410), or no check of its own file (the stale-code caveat, HT411).
 */
function fastCgiDoctor(abs: string, file: string): Diagnostic[] {
  let text: string;
  try {
    const buf = readFileSync(abs);
    text = buf.subarray(0, DOCTOR_READ_LIMIT).toString('latin1');
  } catch {
    return [];
  }
  const at = { file, line: 1, column: 1 };
  if (!usesFastCgiLibrary(text)) {
    const e = catalogEntry('HT410');
    return [
      {
        code: 'HT410',
        severity: e.severity,
        ...at,
        message: `${file} runs as a FastCGI application (fcgid-script) but uses no FastCGI library that htsandbox can see: a plain CGI script answers one request and exits, and the host then answers 500`,
        ...(e.hint ? { hint: e.hint } : {}),
      },
    ];
  }
  const binary = text.startsWith('\x7fELF');
  if (!binary && !watchesOwnFile(text)) {
    const e = catalogEntry('HT411');
    return [
      {
        code: 'HT411',
        severity: e.severity,
        ...at,
        message: `${file} does not check its own modification time: after you update it, the host keeps answering with the old code until its processes end`,
        ...(e.hint ? { hint: e.hint } : {}),
      },
    ];
  }
  return [];
}

export interface CheckedFile {
  /** Path shown to the user (the root as given, joined with the relative path). */
  file: string;
  /** Whether the host would answer 500 for this directory and below. */
  rejected: boolean;
}

export interface SiteCheckResult {
  files: CheckedFile[];
  /** Files a GET request would run as CGI or FastCGI scripts (each checked for exec problems). */
  scripts: string[];
  /** The scripts run as FastCGI applications without a wrapper (what `check --probe` may start). */
  fcgidScripts: { file: string; path: string }[];
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
  const regularFiles: string[] = [];
  const names = loaded.host.accessFileNames;
  // RewriteEngine's per-directory state passes from a directory's .htaccess to its subdirectories.
  const visit = (dir: string, rewriteEngine: boolean | undefined): void => {
    let engineHere = rewriteEngine;
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
          try {
            const analysis = withFcgidProgramCheck(analyzeHtaccess(text, shown(abs), loaded.facts, loaded.host.modules, policy));
            for (const d of analysis.diagnostics) diagnostics.push(d);
            files.push({ file: shown(abs), rejected: analysis.fatal !== undefined });
            if (analysis.fatal === undefined) {
              // The Scripts host's mod_status ignores SetHandler server-status in .htaccess (PermitStatusHandler).
              if (loaded.host.modules.has('suexec') && loaded.host.modules.has('status')) {
                for (const { node } of walkActive(analysis.nodes)) {
                  if (node.kind === 'directive' && node.key === 'sethandler' && node.args[0]?.value.toLowerCase() === 'server-status') {
                    const e = catalogEntry('HT209');
                    diagnostics.push({
                      code: 'HT209',
                      severity: e.severity,
                      file: shown(abs),
                      line: node.line,
                      column: node.column,
                      message: 'SetHandler server-status is ignored in .htaccess on this host',
                      ...(e.hint ? { hint: e.hint } : {}),
                    });
                  }
                }
              }
              const lint = lintRewrite(analysis.nodes, rewriteEngine);
              for (const d of lint.diagnostics) diagnostics.push(d);
              engineHere = lint.engine;
            }
          } catch (err) {
            // A file check cannot judge must never pass: it is an error of its own.
            diagnostics.push(ioDiag('HT112', shown(abs), `htsandbox could not judge this file: ${(err as Error).message}`));
            files.push({ file: shown(abs), rejected: true });
          }
        }
      }
    }
    for (const name of entries) {
      const child = join(dir, name);
      try {
        const st = lstatSync(child);
        if (st.isDirectory()) visit(child, engineHere);
        else if (st.isFile() && name !== accessName) regularFiles.push(child);
      } catch {
        /* vanished while walking */
      }
    }
  };
  visit(rootAbs, undefined);
  const fcgidScripts: { file: string; path: string }[] = [];
  const scripts = checkScripts(rootAbs, loaded, regularFiles, shown, diagnostics, fcgidScripts);
  return { files, scripts, fcgidScripts, diagnostics };
}

/**
 * Asks the resolver, as for a GET of each file's URL, which files the host would run as
 * scripts, and checks that each could start (execute bit, "#!" line, interpreter): Apache only
 * finds out at request time, as a 500.
 */
function checkScripts(
  rootAbs: string,
  loaded: LoadedHost,
  regularFiles: string[],
  shown: (abs: string) => string,
  diagnostics: Diagnostic[],
  fcgidScripts: { file: string; path: string }[],
): string[] {
  const ctx = siteResolveContext(loaded, rootAbs, { watch: false });
  if ('error' in ctx) {
    diagnostics.push(ioDiag('HT300', loaded.source, ctx.error));
    return [];
  }
  const suexec = loaded.host.modules.has('suexec');
  const scripts: string[] = [];
  for (const abs of regularFiles) {
    const rel = relative(ctx.documentRoot, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) continue;
    const rawPath = `/${rel.split(sep).map(encodeURIComponent).join('/')}`;
    let d: Decision;
    try {
      d = resolveRequest(ctx, {
        method: 'GET',
        rawPath,
        query: undefined,
        remoteAddr: '127.0.0.1',
        origin: 'http://localhost',
        headers: { host: 'localhost' },
        rawTarget: rawPath,
      });
    } catch (err) {
      // serve answers such a request with its internal-error 500: say so rather than skip it.
      diagnostics.push(ioDiag('HT112', shown(abs), `htsandbox could not work out how the host answers GET ${rawPath}: ${(err as Error).message}`));
      continue;
    }
    if (d.kind !== 'handler' || d.path !== abs || !SCRIPT_HANDLERS.has(d.handler)) continue;
    scripts.push(shown(abs));
    // What serve runs: a FastCGI file with an FcgidWrapper runs the wrapper (checked as a
    // directive); .php on the Scripts host runs through php-cgi.
    if (d.handler === 'fcgid-script' ? fcgidWrapperFor(dirConfigOf(d.config), abs) !== undefined : runsThroughPhpCgi(abs, suexec)) continue;
    const problem = checkExecutable(abs);
    if (problem) {
      diagnostics.push({ code: 'HT400', severity: catalogEntry('HT400').severity, file: shown(abs), line: 1, column: 1, message: problem.message, hint: problem.explain });
    } else if (d.handler === 'fcgid-script') {
      fcgidScripts.push({ file: shown(abs), path: abs });
      diagnostics.push(...fastCgiDoctor(abs, shown(abs)));
    }
  }
  return scripts;
}
