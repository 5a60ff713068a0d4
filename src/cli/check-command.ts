/** `htsandbox check [ROOT]`: every .htaccess problem the host would only show as a 500. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkSite } from '../adapters/site-checker.js';
import { loadHost } from '../adapters/server-config-loader.js';
import { formatDiagnostics, type DiagnosticFormat } from './diagnostic-formats.js';
import type { CommandIo } from './io.js';
import { probeFastCgi } from '../adapters/fastcgi-probe.js';
import { catalogEntry } from '../vocabulary/error-catalog.js';
import type { SiteCheckResult } from '../adapters/site-checker.js';

/**
 * `--probe`: starts each FastCGI script (no wrapper) with a listening socket on its standard
 * input, as mod_fcgid does, and sends it one request. It runs the user's code, so it is opt-in and
 * says what it ran. A script that answers as CGI or not at all gets HT412 (the host's 500); its
 * source-based HT410 guess is then replaced by the finding.
 */
async function probeScripts(result: SiteCheckResult, io: CommandIo): Promise<void> {
  if (result.fcgidScripts.length === 0) return;
  io.stderr.write(
    `probe: running ${result.fcgidScripts.length} FastCGI script${result.fcgidScripts.length === 1 ? '' : 's'} as mod_fcgid would (your code runs): ${result.fcgidScripts.map((s) => s.file).join(', ')}\n`,
  );
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };
  for (const script of result.fcgidScripts) {
    const outcome = await probeFastCgi(script.path, [], env);
    if (outcome.kind === 'fastcgi') {
      result.diagnostics.splice(0, result.diagnostics.length, ...result.diagnostics.filter((d) => !(d.code === 'HT410' && d.file === script.file)));
      continue;
    }
    if (outcome.kind === 'failed') continue;
    const what =
      outcome.kind === 'cgi'
        ? `wrote a CGI answer to its standard output and did not accept the connection (${JSON.stringify(outcome.stdout.split('\n')[0]?.slice(0, 80) ?? '')}…)`
        : outcome.kind === 'exited'
          ? `exited (status ${outcome.code ?? 'by a signal'}) without accepting the connection${outcome.stderr ? `: ${outcome.stderr.trim().split('\n').pop()}` : ''}`
          : 'neither accepted the connection nor wrote anything within 3 s';
    const e = catalogEntry('HT412');
    result.diagnostics.splice(0, result.diagnostics.length, ...result.diagnostics.filter((d) => !(d.code === 'HT410' && d.file === script.file)));
    result.diagnostics.push({
      code: 'HT412',
      severity: e.severity,
      file: script.file,
      line: 1,
      column: 1,
      message: `started as a FastCGI application (a listening socket on standard input), ${script.file} ${what}`,
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
}

export interface CheckOptions {
  root: string;
  config?: string;
  profile?: string;
  format: DiagnosticFormat;
  /** Also print warnings about directives htsandbox parses but does not emulate. */
  showNotEmulated: boolean;
  /** Start each FastCGI script as mod_fcgid would, to see whether it speaks FastCGI (runs the user's code). */
  probe?: boolean;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** Runs `check`; returns the exit code (0 clean, 1 errors found, 2 usage or I/O problem). */
export async function runCheck(opts: CheckOptions, io: CommandIo, version: string): Promise<number> {
  const rootAbs = resolve(io.cwd, opts.root);
  try {
    if (!statSync(rootAbs).isDirectory()) {
      io.stderr.write(`htsandbox check: ${opts.root} is not a directory\n`);
      return EXIT_USAGE;
    }
  } catch (err) {
    io.stderr.write(`htsandbox check: cannot read ${opts.root}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const source: { siteRoot: string; configFile?: string; profile?: string } = { siteRoot: rootAbs };
  if (opts.config) source.configFile = resolve(io.cwd, opts.config);
  if (opts.profile) source.profile = opts.profile;
  const loaded = loadHost(source);
  if ('error' in loaded) {
    io.stderr.write(`htsandbox check: ${loaded.error}\n`);
    return EXIT_USAGE;
  }
  const configErrors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (configErrors.length > 0) {
    io.stderr.write(`htsandbox check: the server configuration ${loaded.source} has errors:\n`);
    io.stderr.write(`${formatDiagnostics(configErrors, 'text', { color: false, version })}\n`);
    return EXIT_USAGE;
  }
  const root = opts.root;
  const result = checkSite(root, loaded);
  if (opts.probe) await probeScripts(result, io);
  const shown = result.diagnostics.filter((d) => opts.showNotEmulated || d.code !== 'HT200');
  const io_errors = shown.some((d) => d.code === 'HT300');
  const errors = shown.filter((d) => d.severity === 'error').length;
  const warnings = shown.filter((d) => d.severity === 'warning').length;
  const out = formatDiagnostics(shown, opts.format, { color: Boolean(io.stdout.isTTY), version });
  if (out !== '') io.stdout.write(`${out}\n`);
  if (opts.format === 'text') {
    const notEmulated = result.diagnostics.filter((d) => d.code === 'HT200').length;
    if (!opts.showNotEmulated && notEmulated > 0) {
      io.stderr.write(`note: ${notEmulated} directive${notEmulated === 1 ? ' is' : 's are'} accepted by the host but not emulated by htsandbox yet (--not-emulated lists them)\n`);
    }
    const rejected = result.files.filter((f) => f.rejected).length;
    const brokenScripts = new Set(shown.filter((d) => d.severity === 'error' && catalogEntry(d.code as never).status === 500 && /^HT4/.test(d.code)).map((d) => d.file)).size;
    io.stderr.write(
      `checked ${result.files.length} access file${result.files.length === 1 ? '' : 's'} and ${result.scripts.length} script${result.scripts.length === 1 ? '' : 's'}: ` +
        `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}` +
        (rejected || brokenScripts
          ? `; the host would answer 500 for ${[rejected ? `${rejected} .htaccess file${rejected === 1 ? '' : 's'} (and everything below ${rejected === 1 ? 'it' : 'them'})` : '', brokenScripts ? `${brokenScripts} script${brokenScripts === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ')}`
          : '') +
        '\n',
    );
  }
  if (errors > 0) return EXIT_FINDINGS;
  return io_errors ? EXIT_USAGE : EXIT_OK;
}
