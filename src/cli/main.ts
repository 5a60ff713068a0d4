/** The command-line entry: parses arguments with commander and returns an exit code. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { CommandIo } from './io.js';
import type { CheckOptions } from './check-command.js';
import type { ServeOptions } from './serve-command.js';
// Installs the directive registry (the modules' command tables) before any file is read.
import '../modules/index.js';

// Each command's module is loaded when the command runs: `serve` starts without reading what
// `test`, `export` or `compare` need, and `--help` reads none of them.
const commands = {
  check: () => import('./check-command.js'),
  init: () => import('./init-command.js'),
  compare: () => import('./compare-command.js'),
  test: () => import('./test-command.js'),
  export: () => import('./export-command.js'),
  explain: () => import('./explain-command.js'),
  serve: () => import('./serve-command.js'),
};

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
    // One width everywhere, so docs/cli.md (generated from this help) is the same on any terminal.
    .configureHelp({ helpWidth: 100 })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  program
    .command('check')
    .description('find every .htaccess error the host would answer 500 for, with file:line')
    .argument('[root]', 'site root to check', '.')
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'github', 'sarif']).default('text'))
    .option('--not-emulated', 'also list directives htsandbox accepts but does not emulate')
    .option('--probe', 'start each FastCGI script as mod_fcgid would, to see whether it speaks FastCGI (runs your code)')
    .addHelpText('after', CHECK_EXAMPLES)
    .action(async (root: string, o: { config?: string; profile?: string; format: 'text' | 'json' | 'github' | 'sarif'; notEmulated?: boolean; probe?: boolean }) => {
      const { runCheck } = await commands.check();
      const opts: CheckOptions = { root, format: o.format, showNotEmulated: Boolean(o.notEmulated), probe: Boolean(o.probe) };
      if (o.config) opts.config = o.config;
      if (o.profile) opts.profile = o.profile;
      exitCode = await runCheck(opts, io, version);
    });

  program
    .command('serve')
    .description('serve a site the way the host answers it')
    .argument('[root]', 'site root (the DocumentRoot)', '.')
    .option('--port <port>', 'TCP port (0 picks a free one)', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .option('--access-log <file>', 'combined-format access log (- for stderr)')
    .option('--error-log <file>', 'error log (default stderr)')
    .option('--userdir <dir>', 'serve /~NAME/... from DIR/NAME/web_scripts/... (one server for a whole class)')
    .option('--reload-on-change', 'replace FastCGI processes when their script changes (the host never does)')
    .option('--trace-fcgi', 'log every FastCGI record sent to and received from applications, in words')
    .option('--tls', 'answer HTTPS on the same port too, with a self-signed certificate kept in the state directory')
    .option('--tls-cert <file>', 'the certificate for --tls (PEM), with --tls-key')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--dashboard <path>', 'where the live dashboard and its JSON API answer', '/.htsandbox/')
    .option('--no-dashboard', "no dashboard (its path is then the site's like any other)")
    .option('--dashboard-public', 'show the dashboard to clients that are not on loopback too')
    .option('--strict', "add nothing of htsandbox's own to answers (no X-Htsandbox-Explain header)")
    .option('--quiet', 'no line per request on a terminal')
    .option('--servers <n>', "simulate the host's balancer: N servers, each with its own FastCGI processes", '1')
    .option('--persistence <seconds>', 'how long the balancer keeps a client on its server after its last request', '600')
    .addHelpText('after', SERVE_EXAMPLES)
    .action(
      async (
        root: string,
        o: {
          port: string;
          host: string;
          config?: string;
          profile?: string;
          accessLog?: string;
          errorLog?: string;
          userdir?: string;
          reloadOnChange?: boolean;
          traceFcgi?: boolean;
          tls?: boolean;
          tlsCert?: string;
          tlsKey?: string;
          dashboard: string | false;
          dashboardPublic?: boolean;
          strict?: boolean;
          quiet?: boolean;
          servers: string;
          persistence: string;
        },
      ) => {
        // The whole word must be a port number: parseInt would take `80a` as 80.
        const port = /^\d{1,5}$/.test(o.port) ? Number(o.port) : Number.NaN;
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          io.stderr.write(`htsandbox serve: bad port ${JSON.stringify(o.port)}: give a number from 0 to 65535 (0 picks a free port)\n`);
          exitCode = 2;
          return;
        }
        const opts: ServeOptions = { root, port, host: o.host };
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
        opts.dashboard = o.dashboard;
        if (o.dashboardPublic) opts.dashboardPublic = true;
        if (o.strict) opts.strict = true;
        if (o.quiet) opts.quiet = true;
        const servers = /^\d+$/.test(o.servers) ? Number(o.servers) : NaN;
        const persistence = /^\d+$/.test(o.persistence) ? Number(o.persistence) : NaN;
        if (!(servers >= 1 && servers <= 64) || !(persistence >= 0)) {
          io.stderr.write(`htsandbox serve: --servers takes 1 to 64 and --persistence a number of seconds (got ${o.servers}, ${o.persistence})\n`);
          exitCode = 2;
          return;
        }
        opts.servers = servers;
        opts.persistenceSeconds = persistence;
        const { runServe } = await commands.serve();
        exitCode = await runServe(opts, io);
      },
    );

  program
    .command('init')
    .description('make a Scripts-style starter site to learn from: CGI, FastCGI, PHP, rewrites, auth, error demos')
    .argument('<dir>', 'a new (or empty) directory')
    .addHelpText('after', '\nExample:\n  htsandbox init mysite && htsandbox serve mysite\n')
    .action(async (dir: string) => {
      const { runInit } = await commands.init();
      exitCode = runInit({ dir }, io);
    });

  program
    .command('explain')
    .description('tell the story of one request: each .htaccess, rewrite rule, access decision and handler, ending with the status and why')
    .argument('<root>', 'site root')
    .argument('<url>', "the request's path and query, e.g. /front/articles/42?x=1")
    .option('--method <method>', 'request method', 'GET')
    .option('--header <field...>', 'request header fields, "Name: value"')
    .option('--data <body>', 'a request body (only its length matters here)')
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nNothing is served and no script runs: it says what would run.\n\nExamples:\n  htsandbox explain mysite /private/\n  htsandbox explain mysite /front/articles/42 --format json\n',
    )
    .action(async (root: string, url: string, o: { method: string; header?: string[]; data?: string; config?: string; profile?: string; format: 'text' | 'json' }) => {
      const { runExplain } = await commands.explain();
      exitCode = runExplain(
        {
          root,
          url,
          method: o.method,
          headers: o.header ?? [],
          format: o.format,
          ...(o.data !== undefined ? { data: o.data } : {}),
          ...(o.config ? { config: o.config } : {}),
          ...(o.profile ? { profile: o.profile } : {}),
        },
        io,
      );
    });

  program
    .command('test')
    .description('run URL expectation suites against the site as the host would serve it (or, --against, a live server)')
    .argument('[root]', 'site root', '.')
    .option('--suite <file...>', 'suite files (YAML or JSON; docs/test-suites.md)')
    .addOption(new Option('--format <format>', 'report format').choices(['text', 'json', 'junit', 'github']).default('text'))
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .option('--against <url>', 'send the requests to this live server instead of serving the site')
    .option('--coverage-min <percent>', "fail when the suite exercises less of the site's rewrite rules and .htaccess files")
    .addHelpText(
      'after',
      '\nExit status: 0 every test passed, 1 a test failed, 2 usage or a bad suite.\n\nExamples:\n  htsandbox test mysite --suite site-tests.yaml\n  htsandbox test --suite site-tests.yaml --against https://me.scripts.mit.edu/ --format junit > junit.xml\n',
    )
    .action(
      async (root: string, o: { suite?: string[]; format: 'text' | 'json' | 'junit' | 'github'; config?: string; profile?: string; against?: string; coverageMin?: string }) => {
        const coverageMin = o.coverageMin === undefined ? undefined : Number(o.coverageMin);
        if (coverageMin !== undefined && !(coverageMin >= 0 && coverageMin <= 100)) {
          io.stderr.write(`htsandbox test: --coverage-min takes a percentage from 0 to 100 (got ${o.coverageMin})\n`);
          exitCode = 2;
          return;
        }
        const { runTest } = await commands.test();
        exitCode = await runTest(
          {
            root,
            suites: o.suite ?? [],
            format: o.format,
            ...(o.config ? { config: o.config } : {}),
            ...(o.profile ? { profile: o.profile } : {}),
            ...(o.against ? { against: o.against } : {}),
            ...(coverageMin !== undefined ? { coverageMin } : {}),
          },
          io,
        );
      },
    );

  program
    .command('export')
    .description('write a real Apache 2.4 + mod_fcgid configuration (and a Dockerfile) that serves the site as htsandbox does')
    .argument('<root>', 'site root')
    .requiredOption('--to <dir>', 'a new (or empty) directory for httpd.conf, mime.types and the Dockerfile')
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .option('--port <port>', 'the port the exported server listens on', '8080')
    .addHelpText('after', '\nExample:\n  htsandbox export mysite --to mysite-apache && sudo apache2 -f "$PWD/mysite-apache/httpd.conf" -DFOREGROUND\n')
    .action(async (root: string, o: { to: string; config?: string; profile?: string; port: string }) => {
      const port = /^\d+$/.test(o.port) ? Number(o.port) : NaN;
      if (!(port >= 1 && port <= 65535)) {
        io.stderr.write(`htsandbox export: bad port ${o.port}\n`);
        exitCode = 2;
        return;
      }
      const { runExport } = await commands.export();
      exitCode = runExport({ root, to: o.to, port, ...(o.config ? { config: o.config } : {}), ...(o.profile ? { profile: o.profile } : {}) }, io);
    });

  program
    .command('compare')
    .description('run one script as CGI and as FastCGI under the same load, and compare speed and process starts')
    .argument('<root>', 'site root')
    .argument('<path>', 'URL path of the script, e.g. /counter.fcgi (it must use a FastCGI library)')
    .option('-n, --requests <n>', 'requests per run', '500')
    .option('-c, --concurrency <n>', 'concurrent clients', '4')
    .option('--config <file>', "the host's server configuration (Apache syntax)")
    .option('--profile <name>', 'a bundled host profile: scripts (default) or apache')
    .addHelpText('after', '\nExample:\n  htsandbox compare fixtures/example-site /counter.fcgi -n 1000 -c 8\n')
    .action(async (root: string, path: string, o: { requests: string; concurrency: string; config?: string; profile?: string }) => {
      const requests = /^\d+$/.test(o.requests) ? Number(o.requests) : NaN;
      const concurrency = /^\d+$/.test(o.concurrency) ? Number(o.concurrency) : NaN;
      if (!(requests >= 1) || !(concurrency >= 1 && concurrency <= 256)) {
        io.stderr.write(`htsandbox compare: -n takes a positive number and -c 1 to 256 (got ${o.requests}, ${o.concurrency})\n`);
        exitCode = 2;
        return;
      }
      const { runCompare } = await commands.compare();
      exitCode = await runCompare({ root, path, requests, concurrency, ...(o.config ? { config: o.config } : {}), ...(o.profile ? { profile: o.profile } : {}) }, io);
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
