/**
 * What the configuration reader needs to know about the host to evaluate
 * `<IfModule>`, `<IfDefine>`, `<IfDirective>`, `<IfSection>`, `<IfFile>` and `<IfVersion>`
 * while it reads, as Apache does (they are EXEC_ON_READ).
 */
export interface HostFacts {
  /** True when the module is loaded; accepts `mod_x.c` and `x_module` names. */
  hasModule(name: string): boolean;
  /** True for `-D` / `Define`d names. */
  isDefined(name: string): boolean;
  /** Value of a `Define NAME VALUE` (for `${NAME}`), undefined when not defined. */
  defineValue(name: string): string | undefined;
  /** True when a directive of that name is known to the host (for `<IfDirective>`). */
  hasDirective(name: string): boolean;
  /** `<IfFile>`: the file exists. A parser stays pure: the adapter supplies this. */
  fileExists(path: string): boolean;
  /** Apache version the host reports, e.g. `2.4.62`. */
  version: string;
}

/** Host facts with nothing loaded; for tests of pure syntax. */
export const NO_HOST_FACTS: HostFacts = {
  hasModule: () => false,
  isDefined: () => false,
  defineValue: () => undefined,
  hasDirective: () => false,
  fileExists: () => false,
  version: '2.4.62',
};
