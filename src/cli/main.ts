/** The command-line entry: parses arguments with commander and returns an exit code. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { runCheck } from './check-command.js';
import { runServe } from './serve-command.js';
import type { CommandIo } from './io.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const PROGRAM_EXAMPLES = `
Examples:
  htsandbox check web_scripts            report every .htaccess error the host would answer 500 for
  htsandbox serve web_scripts            preview the site at http://127.0.0.1:8080/
  htsandbox help serve                   options of one command
`;

const CHECK_EXAMPLES = `
Examples:
  htsandbox check                        check the site in the current directory
  htsandbox check web_scripts --format github
                                         annotations for a GitHub Actions log
  htsandbox check . --config host.conf   with your own host configuration (Apache syntax)
  htsandbox check . --not-emulated       also list directives the preview does not emulate
Exit status: 0 no errors, 1 errors found, 2 bad usage.
`;

const SERVE_EXAMPLES = `
Examples:
  htsandbox serve                        serve the current directory at http://127.0.0.1:8080/
  htsandbox serve web_scripts --port 0   on any free port (printed at start)
  htsandbox serve . --access-log -       with the access log on stderr
  htsandbox serve . --profile apache     as a generic Apache 2.4 host instead of scripts.mit.edu
  htsandbox serve . --tls                http:// and https:// on the same port (self-signed)
  htsandbox serve /srv/class --userdir /srv/class
                                         /~NAME/ from /srv/class/NAME/web_scripts/
`;

/** Runs the CLI with `argv` (without node and script); never calls process.exit. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const version = packageVersion();
  let exitCode = 0;
  const program = new Command();
  program
    .name('htsandbox')
    .description('A local emulator of a Scripts-style shared web host (Apache 2.4 + mod_fcgid + .htaccess)')
    .version(version)
    .addHelpText('after', PROGRAM_EXAMPLES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  program
    .command('check')
    .description('find every .htaccess error the host would answer 500 for, with file:line')
    .argument('[root]', 'site root to check', '.')
    .option('--config <file>', 'the host\'s server configuration (Apache syntax)')
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'github', 'sarif']).default('text'))
    .option('--not-emulated', 'also list directives htsandbox accepts but does not emulate')
    .addHelpText('after', CHECK_EXAMPLES)
    .action((root: string, o: { config?: string; profile?: string; format: 'text' | 'json' | 'github' | 'sarif'; notEmulated?: boolean }) => {
      const opts: Parameters<typeof runCheck>[0] = { root, format: o.format, showNotEmulated: Boolean(o.notEmulated) };
      if (o.config) opts.config = o.config;
      if (o.profile) opts.profile = o.profile;
      exitCode = runCheck(opts, io, version);
    });

  program
    .command('serve')
    .description('serve a site the way the host answers it')
    .argument('[root]', 'site root (the DocumentRoot)', '.')
    .option('--port <port>', 'TCP port (0 picks a free one)', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--config <file>', 'the host\'s server configuration (Apache syntax)')
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .option('--access-log <file>', 'combined-format access log (- for stderr)')
    .option('--error-log <file>', 'error log (default stderr)')
    .option('--userdir <dir>', 'serve /~NAME/... from DIR/NAME/web_scripts/... (one server for a whole class)')
    .option('--reload-on-change', 'replace FastCGI processes when their script changes (the host never does)')
    .option('--trace-fcgi', 'log every FastCGI record sent to and received from applications, in words')
    .option('--tls', 'answer HTTPS on the same port too, with a self-signed certificate kept in the state directory')
    .option('--tls-cert <file>', 'the certificate for --tls (PEM), with --tls-key')
    .option('--tls-key <file>', 'its private key (PEM)')
    .addHelpText('after', SERVE_EXAMPLES)
    .action(async (root: string, o: { port: string; host: string; config?: string; profile?: string; accessLog?: string; errorLog?: string; userdir?: string; reloadOnChange?: boolean; traceFcgi?: boolean; tls?: boolean; tlsCert?: string; tlsKey?: string }) => {
      // The whole word must be a port number: parseInt would take `80a` as 80.
      const port = /^\d{1,5}$/.test(o.port) ? Number(o.port) : Number.NaN;
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        io.stderr.write(`htsandbox serve: bad port ${JSON.stringify(o.port)}: give a number from 0 to 65535 (0 picks a free port)\n`);
        exitCode = 2;
        return;
      }
      const opts: Parameters<typeof runServe>[0] = { root, port, host: o.host };
      if (o.config) opts.config = o.config;
      if (o.profile) opts.profile = o.profile;
      if (o.accessLog) opts.accessLog = o.accessLog;
      if (o.errorLog) opts.errorLog = o.errorLog;
      if (o.userdir) opts.userDir = o.userdir;
      if (o.reloadOnChange) opts.reloadOnChange = true;
      if (o.traceFcgi) opts.traceFcgi = true;
      if (o.tls) opts.tls = true;
      if (o.tlsCert) opts.tlsCert = o.tlsCert;
      if (o.tlsKey) opts.tlsKey = o.tlsKey;
      exitCode = await runServe(opts, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    throw err;
  }
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
  }
  return exitCode;
}
