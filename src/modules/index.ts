/**
 * The modules htsandbox knows, in the order Apache's Debian build loads them, and the
 * directive registry built from their command tables. Loading this file installs the registry, as Apache's core reads the
 * command tables of the modules it loaded (`ap_add_module`, server/config.c).
 */
import { installDirectiveTable, parseOverrideMask, type DirectiveSpec } from '../grammar/directive-registry.js';
import { accessCompatModule } from './access-compat.js';
import { aliasModule } from './alias.js';
import { authBasicModule } from './auth-basic.js';
import { coreModule } from './core.js';
import { autoindexModule } from './autoindex.js';
import { cgiModule } from './cgi.js';
import { cgidModule } from './cgid.js';
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
import { httpCoreModule } from './http-core.js';
import { mimeModule } from './mime.js';
import { proxyModule } from './proxy.js';
import { proxyFcgiModule } from './proxy-fcgi.js';
import { reqtimeoutModule } from './reqtimeout.js';
import { rewriteModule } from './rewrite.js';
import { setEnvIfModule } from './setenvif.js';
import { soModule } from './so.js';
import { statusModule } from './status.js';
import { unixdModule } from './unixd.js';
import { userdirModule } from './userdir.js';
import { versionModule } from './version.js';
import { filterModule } from './filter.js';
import { htsandboxModule } from './htsandbox.js';
import * as parsedOnlyModules from './parsed-only.js';
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
  cgiModule,
  cgidModule,
  dirModule as ModuleDefinition,
  envModule as ModuleDefinition,
  expiresModule as ModuleDefinition,
  fcgidModule as ModuleDefinition,
  headersModule as ModuleDefinition,
  httpCoreModule,
  mimeModule as ModuleDefinition,
  proxyModule,
  proxyFcgiModule,
  reqtimeoutModule,
  rewriteModule as ModuleDefinition,
  setEnvIfModule as ModuleDefinition,
  soModule,
  statusModule,
  unixdModule,
  userdirModule,
  versionModule,
  filterModule,
  htsandboxModule as ModuleDefinition,
  // Modules whose directives are accepted, not applied.
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
