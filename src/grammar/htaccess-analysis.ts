/**
 * One `.htaccess` file judged as the host judges it: parsed (build phase), then walked
 * (each directive invoked), with the error Apache would log first.
 */
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import type { HostFacts } from './conditions.js';
import type { OverridePolicy } from './host-config.js';
import { parseConfigSteps } from './parser.js';
import type { ConfigNode } from './syntax-tree.js';
import { validateNodesSteps } from './validate.js';

export interface HtaccessAnalysis {
  nodes: ConfigNode[];
  /** Every finding, build phase first, each phase in file order. */
  diagnostics: Diagnostic[];
  /** The error Apache reports (and answers 500 for); undefined when the host accepts the file. */
  fatal: Diagnostic | undefined;
}

const BOM = '\xef\xbb\xbf';

/**
 * Apache's error-log escaping (`ap_escape_errorlog_item`): non-printable bytes as \xHH and a
 * backslash doubled; a double quote stays as it is (fixture error-with-quote).
 */
export function escapeLogItem(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\xff\\]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Analyses the latin1 text of one `.htaccess` file under the given override policy. */
export function analyzeHtaccess(text: string, file: string, facts: HostFacts, modules: ReadonlySet<string>, policy: OverridePolicy): HtaccessAnalysis {
  const steps = analyzeHtaccessSteps(text, file, facts, modules, policy);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * `analyzeHtaccess` in slices: each `next()` does a bounded share of the work (about a
 * thousand lines or nodes), so a server can answer other clients between slices while a huge
 * file is read. The result is the same.
 */
export function* analyzeHtaccessSteps(text: string, file: string, facts: HostFacts, modules: ReadonlySet<string>, policy: OverridePolicy): Generator<void, HtaccessAnalysis> {
  const parsed = yield* parseConfigSteps(text, { file, kind: 'htaccess', host: facts });
  const walk = yield* validateNodesSteps(parsed.nodes, {
    kind: 'htaccess',
    override: policy.mask,
    overrideOpts: policy.opts,
    overrideList: policy.list,
    hasModule: (m) => modules.has(m),
  });
  const diagnostics = [...parsed.diagnostics, ...walk].map((d) => ({ ...d, message: escapeLogItem(d.message) }));
  if (text.startsWith(BOM)) {
    const first = diagnostics.find((d) => d.code === 'HT100' && d.line === 1);
    if (first) first.hint = 'The file starts with a UTF-8 byte-order mark, which Apache reads as part of the first directive name: save it as UTF-8 without BOM.';
  }
  const fatal = diagnostics.find((d) => d.severity === 'error');
  return { nodes: parsed.nodes, diagnostics, fatal };
}
