/**
 * The `Options` directive (`set_options`, server/core.c) as a pure parse: the option bits it
 * sets and the errors Apache gives.
 */

export const OPT_NONE = 0;
export const OPT_INDEXES = 1;
export const OPT_INCLUDES = 2;
export const OPT_SYM_LINKS = 4;
export const OPT_EXECCGI = 8;
export const OPT_INC_WITH_EXEC = 32;
export const OPT_SYM_OWNER = 64;
export const OPT_MULTI = 128;
/** `Options All`: everything but MultiViews (include/http_core.h). */
export const OPT_ALL = OPT_INDEXES | OPT_INCLUDES | OPT_INC_WITH_EXEC | OPT_SYM_LINKS | OPT_EXECCGI;

/** What one `Options` line does. */
export interface OptionsChange {
  /** True when the list was absolute (replaces the inherited set). */
  absolute: boolean;
  /** Absolute value (when `absolute`). */
  opts: number;
  add: number;
  remove: number;
}

/** Option keywords (lower-case) and the bits they set. */
export const OPTION_KEYWORDS: Readonly<Record<string, number>> = {
  indexes: OPT_INDEXES,
  includes: OPT_INCLUDES | OPT_INC_WITH_EXEC,
  includesnoexec: OPT_INCLUDES,
  followsymlinks: OPT_SYM_LINKS,
  symlinksifownermatch: OPT_SYM_OWNER,
  execcgi: OPT_EXECCGI,
  multiviews: OPT_MULTI,
  runscripts: OPT_MULTI | OPT_EXECCGI,
};

/**
 * Parses the words of an `Options` line. `allowed` is `override_opts`: the options the
 * host's `AllowOverride Options=…` lets this context set.
 */
export function parseOptions(words: readonly string[], allowed: number): { change: OptionsChange } | { error: string } {
  const change: OptionsChange = { absolute: false, opts: 0, add: 0, remove: 0 };
  let first = true;
  let merge = false;
  let allNone = false;
  for (const raw of words) {
    let w = raw;
    let action = '';
    if (w.startsWith('+') || w.startsWith('-')) {
      action = w[0]!;
      w = w.slice(1);
      if (!merge && !first && !allNone) return { error: 'Either all Options must start with + or -, or no Option may.' };
      merge = true;
    } else if (first) {
      change.absolute = true;
      change.opts = OPT_NONE;
    } else if (merge) {
      return { error: 'Either all Options must start with + or -, or no Option may.' };
    }
    const lw = w.toLowerCase();
    let opt: number;
    if (lw === 'none' || lw === 'all') {
      const label = lw === 'none' ? 'None' : 'All';
      if (!first) {
        return { error: lw === 'none' ? "'Options None' must be the first Option given." : "'Options All' must be the first option given." };
      }
      if (merge) return { error: `You may not use 'Options +${label}' or 'Options -${label}'.` };
      opt = lw === 'none' ? OPT_NONE : OPT_ALL;
      allNone = true;
    } else {
      const k = OPTION_KEYWORDS[lw];
      if (k === undefined) return { error: `Illegal option ${w}` };
      opt = k;
    }
    if ((allowed & opt) !== opt) return { error: `Option ${w} not allowed here` };
    if (action === '-') {
      change.remove |= opt;
      change.add &= ~opt;
      change.opts &= ~opt;
    } else if (action === '+') {
      change.add |= opt;
      change.remove &= ~opt;
      change.opts |= opt;
    } else {
      change.opts |= opt;
    }
    first = false;
  }
  return { change };
}
