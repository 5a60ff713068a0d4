/**
 * mod_proxy_fcgi (modules/proxy/mod_proxy_fcgi.c): its command table (`command_table[]`) and
 * its scheme handler, the server's `runProxyFcgi` (src/server/proxy-fcgi-handler.ts), which
 * answers `SetHandler "proxy:fcgi://…"`. `ProxyFCGIBackendType` and `ProxyFCGISetEnvIf` are
 * checked as `cmd_servertype` and `cmd_setenv` check them, and not reproduced.
 */
import { exprModulesOf, parseApExpr } from '../grammar/ap-expr.js';
import { finding, refused, type DirectiveInput, type ModuleDefinition } from './module.js';

const accepted = { findings: [], value: undefined } as const;

/**
 * `cmd_setenv`: the condition must parse; the unset form (`!NAME`) takes no value. The value is
 * a string expression, which htsandbox does not parse (accepted as written).
 */
function setEnvIfProblem({ words, hasModule }: DirectiveInput): string | undefined {
  const [condition = '', name = '', value] = words;
  const parsed = parseApExpr(condition, exprModulesOf(hasModule));
  if (!parsed.ok) return `Could not parse expression "${condition}": ${parsed.error}`;
  if (name.startsWith('!')) {
    if (value !== undefined) return `Third argument ("${value}") is not allowed when using ProxyFCGISetEnvIf's unset mode (${name})`;
    if (name === '!') return 'ProxyFCGISetEnvIf: "!" is not a valid variable name';
  }
  return undefined;
}

/** mod_proxy_fcgi as Apache loads it. */
export const proxyFcgiModule: ModuleDefinition = {
  name: 'proxy_fcgi',
  directives: [
    {
      name: 'ProxyFCGIBackendType',
      shape: 'TAKE1',
      override: 'OR_FILEINFO',
      help: "Specify the type of FastCGI server: 'Generic', 'FPM'",
      compile: ({ words }) =>
        /^(generic|fpm)$/i.test(words[0] ?? '') ? accepted : refused(finding("ProxyFCGIBackendType requires one of the following arguments: 'GENERIC', 'FPM'")),
      parsedOnly: true,
    },
    {
      name: 'ProxyFCGISetEnvIf',
      shape: 'TAKE23',
      override: 'OR_FILEINFO',
      help: 'expr-condition env-name expr-value',
      compile: (input) => {
        const problem = setEnvIfProblem(input);
        return problem === undefined ? accepted : refused(finding(problem));
      },
      parsedOnly: true,
    },
  ],
  hooks: { handler: 'runProxyFcgi' },
};
