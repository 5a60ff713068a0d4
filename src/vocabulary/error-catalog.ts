import type { Severity } from './diagnostic.js';

/** One entry of the error catalog: a stable code and what it means. */
export interface CatalogEntry {
  /** Stable identifier, never reused for another meaning. */
  code: string;
  severity: Severity;
  /** One line on what the code means (documented in docs/errors.md). */
  summary: string;
  /** The HTTP status the host answers when this happens while serving (undefined: not a request error). */
  status?: number;
  /** Default advice shown with the diagnostic. */
  hint?: string;
}

const entries = [
  // --- .htaccess / configuration syntax (the host rejects the file: 500) ---
  {
    code: 'HT100',
    severity: 'error',
    status: 500,
    summary: 'Invalid command: unknown directive, or one of a module the host does not load',
    hint: 'Check the spelling; if the directive is right, the module that defines it is not loaded on this host.',
  },
  {
    code: 'HT101',
    severity: 'error',
    status: 500,
    summary: 'Directive not allowed here (wrong context or forbidden by AllowOverride)',
    hint: "The host's AllowOverride does not let .htaccess files use this directive here, or it belongs in the server configuration.",
  },
  {
    code: 'HT102',
    severity: 'error',
    status: 500,
    summary: 'Wrong number or shape of arguments',
    hint: 'Note that "#" starts a comment only at the beginning of a line; a trailing "# note" is read as more arguments.',
  },
  {
    code: 'HT103',
    severity: 'error',
    status: 500,
    summary: 'Section not closed, closed twice or closed with the wrong name',
    hint: 'Every <Section> needs its </Section> in the same file, with the same name; a closing line with no opening one is an error too.',
  },
  {
    code: 'HT104',
    severity: 'error',
    status: 500,
    summary: 'Line longer than Apache accepts in a .htaccess file (8190 characters after joining continuations)',
    hint: 'Split the line (a backslash at the end of a line continues it) or shorten it: Apache reads at most 8190 characters of one logical .htaccess line.',
  },
  {
    code: 'HT105',
    severity: 'error',
    status: 500,
    summary: 'Invalid argument value (rejected by the directive itself)',
    hint: "The directive's own rules reject this value: see the message for which value and what it accepts (docs/directives.md lists the directive's module).",
  },
  {
    code: 'HT106',
    severity: 'error',
    status: 500,
    summary: 'Regular expression that does not compile',
    hint: 'Apache compiles patterns with PCRE: check brackets, parentheses, quantifiers and escapes (a literal dot is \\.).',
  },
  {
    code: 'HT107',
    severity: 'error',
    status: 500,
    summary: 'Bad flag or option in a RewriteRule or RewriteCond',
    hint: 'Flags go in one bracketed, comma-separated list without spaces: [R=301,L]. Conditions take [NC], [OR], [NV]; rules take L, R, NC, QSA, END, …',
  },
  {
    code: 'HT108',
    severity: 'error',
    status: 500,
    summary: 'Error directive reached',
    hint: 'An Error directive stops Apache on purpose: remove it, or put it inside the <If>/<IfModule> that was meant to guard it.',
  },
  {
    code: 'HT109',
    severity: 'error',
    status: 500,
    summary: 'Byte-order mark at the start of the file (Apache on Unix reads it as part of the first directive name)',
    hint: 'Save the file as UTF-8 without BOM.',
  },
  {
    code: 'HT110',
    severity: 'error',
    status: 500,
    summary: 'Expression (<If>, <ElseIf>, RewriteCond expr) that does not parse, or <Else>/<ElseIf> without an <If> before it',
    hint: 'See https://httpd.apache.org/docs/2.4/expr.html: strings in quotes, variables as %{NAME}, regular expressions as /…/ after =~.',
  },
  {
    code: 'HT111',
    severity: 'error',
    summary: "Conditional sections (<IfModule>, <IfDefine> …) nested so deep that Apache's process crashes reading the file: the client gets no answer at all",
    hint: 'Apache reads each true conditional section with one more level of recursion; past about 8,200 levels its 8 MiB stack runs out. Remove the nesting: a condition that holds once holds for the whole file.',
  },
  {
    code: 'HT112',
    severity: 'error',
    summary: 'htsandbox itself failed while judging this file or request (a bug in htsandbox): the verdict is unknown, so it is not passed',
    hint: 'Please report it with the file; until then, try the file on the host or a local Apache.',
  },
  // --- warnings: the host accepts the file, but something is off ---
  {
    code: 'HT200',
    severity: 'warning',
    summary: 'Directive parsed and accepted, but not emulated by htsandbox (the preview may differ from the host)',
    hint: 'The host accepts it; the preview ignores it, so what it changes (headers, filters, …) shows only on the host. docs/differences.md lists what is not emulated.',
  },
  {
    code: 'HT201',
    severity: 'warning',
    summary: 'Regular expression the host accepts but htsandbox cannot honour exactly',
    hint: "The host accepts this construct (PCRE) but htsandbox's engine reads it differently; the preview may match where the host does not, or the other way round.",
  },
  {
    code: 'HT202',
    severity: 'warning',
    summary: 'Directive accepted by the host but with no effect (deprecated or ignored)',
    hint: 'The host accepts the line but does nothing with it: remove it, or use the directive that replaced it (see the message).',
  },
  {
    code: 'HT203',
    severity: 'warning',
    summary: 'Handler name no module provides: the host serves such files as plain static files (source code disclosure)',
    hint: 'Files with this handler are sent as they are, source code included: use a handler the host knows (cgi-script, fcgid-script) or remove the line.',
  },
  {
    code: 'HT204',
    severity: 'warning',
    summary: 'Trailing text that looks like a comment is read as arguments',
    hint: "Only a # at the very start of a line is a comment in Apache's configuration: move the note to a line of its own.",
  },
  {
    code: 'HT205',
    severity: 'warning',
    summary: 'Directive skipped because AllowOverride Nonfatal is set',
    hint: 'With AllowOverride Nonfatal the host skips the line silently; without it the line would make the directory answer 500. Move it where it is allowed.',
  },
  {
    code: 'HT206',
    severity: 'warning',
    summary: 'Config variable ${NAME} is not defined',
    hint: "${NAME} is replaced only by names defined with Define (or on the host's command line); the text stays literal otherwise. Write the value itself.",
  },
  {
    code: 'HT207',
    severity: 'warning',
    summary: 'proxy: handler htsandbox cannot follow (malformed target, or a scheme other than fcgi://)',
    hint: 'htsandbox follows proxy:fcgi://host:port, proxy:unix:/path|fcgi://… and proxy:balancer://name targets; other schemes are answered as the host would without being followed.',
  },
  {
    code: 'HT208',
    severity: 'warning',
    summary: 'A file name longer than the file system allows (255 bytes): the host answers 403 where it is looked up',
    hint: 'Apache cannot look such a name up (ENAMETOOLONG) and answers 403 (AH00036). Use a shorter name.',
  },
  // mod_rewrite rules the host accepts but that cannot work as written (check only)
  {
    code: 'HT209',
    severity: 'warning',
    summary: "SetHandler server-status in .htaccess, which the Scripts host's mod_status ignores there (the file is served as it is, or 404)",
    hint: 'The host permits the status handler only in its server configuration. In the preview, the dashboard at /.htsandbox/ shows the processes; `--profile apache` serves the page as stock Apache does.',
  },
  {
    code: 'HT220',
    severity: 'warning',
    summary: 'RewriteRule pattern starting with ^/ in .htaccess, which never matches (the per-directory path has no leading slash)',
    hint: 'Drop the leading slash, or test %{REQUEST_URI} in a RewriteCond.',
  },
  {
    code: 'HT221',
    severity: 'warning',
    summary: 'RewriteRule where no RewriteEngine On applies (neither in the file nor inherited from a parent directory)',
    hint: 'Add "RewriteEngine On" before the rules.',
  },
  {
    code: 'HT222',
    severity: 'warning',
    summary: "RewriteRule with [R] but without [L]: the following rules still run, on the redirect's full URL",
    hint: 'Add L to the flags: [R=301,L].',
  },
  {
    code: 'HT223',
    severity: 'warning',
    summary: 'RewriteRule that is never reached: an earlier rule without conditions matches every path and ends the rules',
    hint: 'Move the rule above the catch-all one, or give the catch-all rule a RewriteCond.',
  },
  {
    code: 'HT224',
    severity: 'warning',
    summary: 'RewriteRule inside <If> or <Files> written as for the directory: there the pattern sees the whole file system path and a relative substitution has no directory',
    hint: 'Write the pattern without the ^ anchor and the substitution from the site root, or move the rule out of the section and use a RewriteCond.',
  },
  // --- I/O while checking or loading ---
  {
    code: 'HT300',
    severity: 'error',
    summary: 'File or directory cannot be read',
    hint: 'Check that the path exists and that htsandbox (and, on the host, the web server) may read it.',
  },
  {
    code: 'HT301',
    severity: 'error',
    summary: 'Include pattern matches no file',
    hint: 'The Include pattern names no file: check the path, or use IncludeOptional for one that may be missing.',
  },
  {
    code: 'HT302',
    severity: 'error',
    status: 403,
    summary: '.htaccess exists but cannot be read (the host answers 403)',
    hint: 'The host answers 403 for the whole directory: make the .htaccess readable (chmod 644 .htaccess) and its directory searchable (chmod 755).',
  },
  // --- scripts ---
  {
    code: 'HT400',
    severity: 'error',
    status: 500,
    summary: 'Script the host would run but cannot start (no execute bit, no "#!" line, a "#!" line ending in a carriage return, a missing interpreter)',
    hint: 'Give the script its execute bit (chmod 755), a #! line naming an interpreter that exists, and Unix line endings.',
  },
  // --- the script doctor (FastCGI) ---
  {
    code: 'HT410',
    severity: 'warning',
    status: 500,
    summary: 'Script run as a FastCGI application (fcgid-script) whose source shows no FastCGI library: a plain CGI script there breaks (the host answers 500)',
    hint: 'Keep it a CGI script (a .cgi name, or drop the SetHandler fcgid-script that maps it), or make it loop over FastCGI requests (Perl FCGI or CGI::Fast, Ruby fcgi, libfcgi). `htsandbox check --probe` starts it to be sure.',
  },
  {
    code: 'HT411',
    severity: 'info',
    summary: 'FastCGI application that does not watch its own file: after an update the host keeps answering with the old code until the process ends',
    hint: "The host's FastCGI FAQ: exit when the script's modification time changes (check it after each request; the starter site's counter.fcgi does), or the old code stays on every server that ran it.",
  },
  {
    code: 'HT412',
    severity: 'error',
    status: 500,
    summary: '(check --probe) Script mapped to fcgid-script did not answer as a FastCGI application when started as one',
    hint: 'Started with a listening socket on its standard input, as mod_fcgid starts it, the script wrote a CGI answer and exited (or said nothing): the host answers 500. Make it a CGI script again, or use a FastCGI library.',
  },
  // --- while serving: what a request met at run time (the log line carries the code) ---
  {
    code: 'HT500',
    severity: 'error',
    status: 500,
    summary: "A script's header block is one the host refuses (a malformed or over-long line, a byte HTTP does not allow, an invalid Status line)",
    hint: 'Print "Name: value" lines with printable ASCII only, end them with one empty line before the body, and give Status as a three-digit code and a reason.',
  },
  {
    code: 'HT501',
    severity: 'error',
    status: 500,
    summary: 'A script ended, or its process died, before it printed its header block (End of script output before headers)',
    hint: 'Run the script by hand (./script.cgi) to see its error; make it print at least "Content-Type: text/html" and an empty line before anything else, on stdout.',
  },
  {
    code: 'HT502',
    severity: 'error',
    status: 504,
    summary: "A script stayed silent past the host's timeout (Timeout, FcgidIOTimeout, ProxyTimeout): it is stopped",
    hint: 'Make the script answer sooner (long work belongs in a background job), or print its headers first and flush them while it works.',
  },
  {
    code: 'HT503',
    severity: 'error',
    status: 503,
    summary:
      'No FastCGI process could take the request in time (every slot busy: FcgidMaxProcesses, FcgidMaxProcessesPerClass), or a mod_proxy_fcgi backend refused the connection',
    hint: 'Let each request finish quickly so processes free up; for proxy:fcgi, start the FastCGI server at the address the SetHandler line names.',
  },
  {
    code: 'HT504',
    severity: 'error',
    status: 413,
    summary: 'A request body larger than the host allows (LimitRequestBody, FcgidMaxRequestLen)',
    hint: "Send a smaller body, or raise LimitRequestBody in the .htaccess (FcgidMaxRequestLen is the host's, not yours to change).",
  },
  {
    code: 'HT505',
    severity: 'error',
    status: 403,
    summary: 'A file or directory the web server may not read (its permissions deny the server)',
    hint: 'Make files readable (chmod 644) and directories searchable (chmod 755) by the web server.',
  },
  // --- usage ---
  { code: 'HT900', severity: 'error', summary: 'Command-line usage error', hint: 'Run htsandbox COMMAND --help for the options and examples.' },
] as const satisfies readonly CatalogEntry[];

/** Every code the project may emit. */
export type ErrorCode = (typeof entries)[number]['code'];

/** The error catalog, by code. */
export const ERROR_CATALOG: ReadonlyMap<ErrorCode, CatalogEntry> = new Map(entries.map((e) => [e.code, e as CatalogEntry]));

/** Looks up a catalog entry; every code used in the source must be in the catalog. */
export function catalogEntry(code: ErrorCode): CatalogEntry {
  const entry = ERROR_CATALOG.get(code);
  if (!entry) throw new Error(`unknown error code ${code}`);
  return entry;
}
