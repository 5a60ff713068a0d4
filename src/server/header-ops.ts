/**
 * What mod_headers' `Header` lines and mod_expires add to a Node response. Apache keeps two
 * tables: `Header always` works on err_headers_out, which every response carries; the others
 * (onsuccess) on headers_out, which an error page Apache makes itself drops but a script's
 * answer keeps, whatever its status. The table operations themselves are mod_headers' own
 * (src/modules/headers.ts); this file adapts them to a ServerResponse.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { asciiLower } from '../grammar/byte-strings.js';
import type { ExprFacts } from '../grammar/ap-expr.js';
import {
  applyHeaderLines,
  FieldTable,
  joinVary,
  staticHeaderPlan,
  varyNames,
  type ContentTypeStep,
  type HeaderOp,
  type HeaderTable,
  type HeaderTables,
} from '../modules/headers.js';

export { applyHeaderLines, contentTypeAfter, FieldTable, joinVary, varyNames, type ContentTypeStep, type HeaderTable, type HeaderTables } from '../modules/headers.js';
export { applyExpires } from '../modules/expires.js';

/** The response itself as one table (where only one is in play). */
export function responseTable(res: ServerResponse): HeaderTable {
  return {
    get: (name) => {
      const v = res.getHeader(name);
      return v === undefined ? undefined : Array.isArray(v) ? v.map(String) : [String(v)];
    },
    set: (name, values) => res.setHeader(name, values.length === 1 ? values[0]! : values),
    remove: (name) => res.removeHeader(name),
  };
}

/** mod_headers' lines of the chosen tables on `res`, in order (`always` ones first for both). */
export function applyHeaderOps(
  res: ServerResponse,
  req: IncomingMessage,
  ops: readonly HeaderOp[],
  which: HeaderTables,
  env?: ReadonlyMap<string, string>,
  /** What an `expr=` condition reads of the request (asked only when one has it). */
  exprFacts?: () => ExprFacts,
  /** Where the lines on Content-Type leave what they do to the content type (applied as the head goes out). */
  contentTypeSteps?: ContentTypeStep[],
): void {
  if (ops.length === 0) return;
  if (which === 'both' && ops.some((o) => o.always) && ops.some((o) => !o.always)) {
    applyBothTables(res, req, ops, env, exprFacts, contentTypeSteps);
  } else {
    const plan = staticHeaderPlan(ops, which);
    if (plan) {
      for (const [name, value] of plan) res.setHeader(name, value);
    } else {
      const vary = applyHeaderLines(responseTable(res), req.headers, ops, which, env, exprFacts, contentTypeSteps);
      // ap_expr merges the request headers it read into Vary, whether or not the condition held.
      if (vary.length) res.setHeader('Vary', joinVary([...varyNames(res.getHeader('vary')), ...vary]));
    }
  }
  // fixup_vary (ap_http_header_filter) runs on every answer: a `Header` line's Vary goes out
  // as one field, each name once in its first spelling.
  const v = res.getHeader('vary');
  if (v !== undefined) res.setHeader('Vary', joinVary(varyNames(v as string | string[])));
}

/**
 * Both kinds of lines on an answer the server makes itself (a file, a listing): as
 * ap_headers_output_filter, `always` lines edit err_headers_out and the others headers_out, so
 * an onsuccess `unset` cannot remove what an `always` line set. Both tables go out, and under
 * one name err_headers_out's lines come first (as Apache 2.4.71 sends them).
 */
function applyBothTables(
  res: ServerResponse,
  req: IncomingMessage,
  ops: readonly HeaderOp[],
  env: ReadonlyMap<string, string> | undefined,
  exprFacts: (() => ExprFacts) | undefined,
  contentTypeSteps: ContentTypeStep[] | undefined,
): void {
  const plans = bothTablePlans(ops);
  if (plans) {
    // Only `set` lines with constant values: what each table gets does not depend on the answer.
    for (const [name, value] of plans.onsuccess) res.setHeader(name, value);
    for (const [name, value] of plans.always) mergeErrLines(res, name, typeof value === 'string' ? [value] : value, res.getHeader(name));
    return;
  }
  const err = new FieldTable();
  const vary = [
    ...applyHeaderLines(err, req.headers, ops, 'always', env, exprFacts, contentTypeSteps),
    ...applyHeaderLines(responseTable(res), req.headers, ops, 'onsuccess', env, exprFacts, contentTypeSteps),
  ];
  for (const { name, values } of err.entries()) mergeErrLines(res, name, values, res.getHeader(name));
  if (vary.length) res.setHeader('Vary', joinVary([...varyNames(res.getHeader('vary')), ...vary]));
}

/** err_headers_out's lines under `name` go out before headers_out's (`cur`, what `res` has). */
function mergeErrLines(res: ServerResponse, name: string, values: readonly string[], cur: ReturnType<ServerResponse['getHeader']>): void {
  const outLines = cur === undefined ? [] : Array.isArray(cur) ? cur.map(String) : [String(cur)];
  const lines = [...values, ...outLines];
  if (name.toLowerCase() === 'vary') res.setHeader(name, joinVary(varyNames(lines)));
  else res.setHeader(name, lines.length === 1 ? lines[0]! : lines);
}

type HeaderPlan = [string, string | string[]][];
const bothPlanMemo = new WeakMap<readonly HeaderOp[], { always: HeaderPlan; onsuccess: HeaderPlan } | null>();

/**
 * Both tables' headers, computed once per configuration, when every line is a plain `set` of a
 * constant value (no condition, no handler-set name): a `set` replaces whatever the answer had,
 * so the result is the same on every answer. Null when any line depends on the answer.
 */
function bothTablePlans(ops: readonly HeaderOp[]): { always: HeaderPlan; onsuccess: HeaderPlan } | null {
  let plans = bothPlanMemo.get(ops);
  if (plans !== undefined) return plans;
  const always = ops.every((o) => o.action === 'set') ? staticHeaderPlan(ops, 'always') : null;
  const onsuccess = always ? staticHeaderPlan(ops, 'onsuccess') : null;
  plans = always && onsuccess ? { always, onsuccess } : null;
  bothPlanMemo.set(ops, plans);
  return plans;
}

/** Fields for a head: name, value, and the name lower-cased. */
export type HeadFields = readonly (readonly [string, string | string[], string])[];
const headFieldsMemo = new WeakMap<readonly HeaderOp[], HeadFields | null>();

/**
 * What `applyHeaderOps(…, 'both')` leaves in an answer's header table that was empty before,
 * when the lines are constant (a plan per configuration, see staticHeaderPlan and
 * bothTablePlans) and none names Vary: the same `set`s, and `always` lines' values before the
 * onsuccess ones under one name. A file, listing or OPTIONS answer whose table is still empty
 * gives these with its own head to `writeHead`, where Node takes them as given instead of
 * storing each in its header table (docs/performance.md, session 14). Null otherwise.
 */
export function headFieldsOfLines(ops: readonly HeaderOp[]): HeadFields | null {
  let fields = headFieldsMemo.get(ops);
  if (fields !== undefined) return fields;
  fields = null;
  const both = ops.some((o) => o.always) && ops.some((o) => !o.always);
  const merged = new Map<string, [string, string[]]>();
  const lines = (v: string | string[]): string[] => (typeof v === 'string' ? [v] : [...v]);
  let plain = true;
  if (both) {
    const plans = bothTablePlans(ops);
    if (plans) {
      for (const [name, value] of plans.onsuccess) merged.set(name.toLowerCase(), [name, lines(value)]);
      for (const [name, value] of plans.always) {
        const cur = merged.get(name.toLowerCase());
        merged.set(name.toLowerCase(), [name, [...lines(value), ...(cur?.[1] ?? [])]]);
      }
    } else plain = false;
  } else {
    const plan = staticHeaderPlan(ops, 'both');
    if (plan) for (const [name, value] of plan) merged.set(name.toLowerCase(), [name, lines(value)]);
    else plain = false;
  }
  if (plain && !merged.has('vary')) fields = [...merged].map(([lower, [name, values]]) => [name, values.length === 1 ? values[0]! : values, lower] as const);
  headFieldsMemo.set(ops, fields);
  return fields;
}

/**
 * `AddDefaultCharset` (ap_make_content_type): a type that contains text/plain or text/html
 * and no `charset=`, all without case (ap_strcasestr: `Text/HTML` and `x-text/plainish` get
 * one, `Charset=koi8-r` keeps its own), gets `; charset=` and the configured name.
 */
export function withDefaultCharset(type: string, charset: string | undefined): string {
  if (charset === undefined) return type;
  const t = asciiLower(type);
  if (t.includes('charset=')) return type;
  return t.includes('text/plain') || t.includes('text/html') ? `${type}; charset=${charset}` : type;
}
