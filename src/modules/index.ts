/**
 * The modules htsandbox knows, in the order Apache's Debian build loads them, and the
 * directive registry built from their command tables (plus the legacy table of modules not
 * yet moved here). Loading this file installs the registry, as Apache's core reads the
 * command tables of the modules it loaded (`ap_add_module`, server/config.c).
 */
import { installDirectiveTable, parseOverrideMask, type DirectiveSpec } from '../grammar/directive-registry.js';
import { DIRECTIVE_VALIDATORS } from '../grammar/directive-validators.js';
import { accessCompatModule } from './access-compat.js';
import { aliasModule } from './alias.js';
import { authBasicModule } from './auth-basic.js';
import { coreModule } from './core.js';
import { autoindexModule } from './autoindex.js';
import { authnCoreModule } from './authn-core.js';
import { authnFileModule } from './authn-file.js';
import { authzCoreModule } from './authz-core.js';
import { authzGroupfileModule } from './authz-groupfile.js';
import { authzHostModule } from './authz-host.js';
import { authzUserModule } from './authz-user.js';
import { dirModule } from './dir.js';
import { envModule } from './env.js';
import { expiresModule } from './expires.js';
import { fcgidModule } from './fcgid.js';
import { headersModule } from './headers.js';
import { mimeModule } from './mime.js';
import { setEnvIfModule } from './setenvif.js';
import { filterModule } from './filter.js';
import { htsandboxModule } from './htsandbox.js';
import { LEGACY_EMULATED, LEGACY_ROWS } from './legacy.js';
import * as parsedOnlyModules from './parsed-only.js';
import * as serverWideModules from './server-wide.js';
import type { DirectiveDefinition, ModuleDefinition } from './module.js';

/** The modules with a home of their own, in Apache's load order. */
export const MODULES: readonly ModuleDefinition[] = [
  coreModule as ModuleDefinition,
  accessCompatModule as ModuleDefinition,
  aliasModule as ModuleDefinition,
  authBasicModule as ModuleDefinition,
  authnCoreModule as ModuleDefinition,
  authnFileModule as ModuleDefinition,
  authzCoreModule as ModuleDefinition,
  authzGroupfileModule as ModuleDefinition,
  authzHostModule,
  authzUserModule,
  autoindexModule as ModuleDefinition,
  dirModule as ModuleDefinition,
  envModule as ModuleDefinition,
  expiresModule as ModuleDefinition,
  fcgidModule as ModuleDefinition,
  headersModule as ModuleDefinition,
  mimeModule as ModuleDefinition,
  setEnvIfModule as ModuleDefinition,
  filterModule,
  htsandboxModule as ModuleDefinition,
  // Server-wide only, read with the host configuration; then those accepted, not applied.
  ...Object.values(serverWideModules),
  ...Object.values(parsedOnlyModules),
];

/** A module's directive, by lower-cased name, with the module that defines it. */
export interface ModuleDirective {
  module: ModuleDefinition;
  directive: DirectiveDefinition;
}

/** Every directive a module of `MODULES` defines, by lower-cased name. */
export const MODULE_DIRECTIVES: ReadonlyMap<string, ModuleDirective> = new Map(
  MODULES.flatMap((module) => module.directives.map((directive): [string, ModuleDirective] => [directive.name.toLowerCase(), { module, directive }])),
);

function registrySpecs(): DirectiveSpec[] {
  const specs: DirectiveSpec[] = [];
  for (const [name, modules, shape, override, help] of LEGACY_ROWS) {
    const key = name.toLowerCase();
    const validator = DIRECTIVE_VALIDATORS.get(key);
    const spec: DirectiveSpec = { name, modules: modules.split('|'), shape, override: parseOverrideMask(override), help, emulated: LEGACY_EMULATED.has(key) };
    if (validator) {
      spec.compile = (input) => {
        const out = validator(input);
        return { findings: out === undefined ? [] : Array.isArray(out) ? out : [out], value: undefined };
      };
    }
    specs.push(spec);
  }
  for (const module of MODULES) {
    for (const d of module.directives) {
      specs.push({
        name: d.name,
        modules: [module.name, ...(d.alsoDefinedBy ?? [])],
        shape: d.shape,
        override: parseOverrideMask(d.override),
        help: d.help,
        emulated: d.parsedOnly !== true,
        compile: d.compile,
      });
    }
  }
  return specs;
}

installDirectiveTable(registrySpecs());
