/**
 * What mod_headers' `Header` lines and mod_expires add to a response. Apache keeps two
 * tables: `Header always` works on err_headers_out, which every response carries; the others
 * (onsuccess) on headers_out, which an error page Apache makes itself drops but a script's
 * answer keeps, whatever its status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirConfig, HeaderOp } from '../engine/dir-config.js';
import { parseExpiresCode } from '../grammar/expires-code.js';
import { evaluateApExpr, type ExprFacts } from '../grammar/ap-expr.js';

/** Which lines run: `always` ones, onsuccess ones, or both (always first). */
export type HeaderTables = 'always' | 'onsuccess' | 'both';

function opsFor(ops: readonly HeaderOp[], which: HeaderTables): HeaderOp[] {
  if (which === 'always') return ops.filter((o) => o.always);
  if (which === 'onsuccess') return ops.filter((o) => !o.always);
  return [...ops.filter((o) => o.always), ...ops.filter((o) => !o.always)];
}

/** Names the handlers set themselves; a plan touching them must run per response. */
const HANDLER_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-range',
  'content-encoding',
  'etag',
  'last-modified',
  'accept-ranges',
  'location',
  'allow',
  'server',
  'date',
]);
const planMemo = new WeakMap<readonly HeaderOp[], Map<HeaderTables, [string, string | string[]][] | null>>();

/** The names in Vary header values (a value may list several). */
export function varyNames(v: number | string | readonly string[] | undefined): string[] {
  const values = v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
  return values
    .flatMap((x) => String(x).split(','))
    .map((t) => t.trim())
    .filter(Boolean);
}

/** ap_http_header_filter's fix_vary: each name once (its first spelling), joined with ','. */
export function joinVary(names: readonly string[]): string {
  return [...new Map(names.map((h) => [h.toLowerCase(), h])).values()].join(',');
}

/**
 * The headers a list of ops produces when it depends on nothing but itself (no env
 * conditions, echo or edit, no handler-set names): computed once per configuration.
 */
function staticPlan(ops: readonly HeaderOp[], which: HeaderTables): [string, string | string[]][] | null {
  let byKind = planMemo.get(ops);
  if (!byKind) planMemo.set(ops, (byKind = new Map()));
  const cached = byKind.get(which);
  if (cached !== undefined) return cached;
  let plan: [string, string | string[]][] | null = null;
  const simple = ops.every((o) => !o.env && !o.expr && !['echo', 'edit', 'edit*', 'note'].includes(o.action) && !HANDLER_HEADERS.has(o.name.toLowerCase()));
  if (simple) {
    const fake = new Map<string, { name: string; values: string[] }>();
    const ordered = opsFor(ops, which);
    for (const op of ordered) {
      const key = op.name.toLowerCase();
      const cur = fake.get(key)?.values ?? [];
      const value = op.value.replace(/%%/g, '%');
      if (op.action === 'set') fake.set(key, { name: op.name, values: [value] });
      else if (op.action === 'setifempty') {
        if (cur.length === 0) fake.set(key, { name: op.name, values: [value] });
      } else if (op.action === 'add') fake.set(key, { name: op.name, values: [...cur, value] });
      else if (op.action === 'append') fake.set(key, { name: op.name, values: [cur.length ? `${cur.join(', ')}, ${value}` : value] });
      else if (op.action === 'merge') {
        const tokens = cur
          .join(', ')
          .split(',')
          .map((t) => t.trim());
        if (!tokens.includes(value)) fake.set(key, { name: op.name, values: [cur.length ? `${cur.join(', ')}, ${value}` : value] });
      } else if (op.action === 'unset') fake.delete(key);
    }
    plan = [...fake.values()].map((h) => [h.name, h.values.length === 1 ? h.values[0]! : h.values]);
  }
  byKind.set(which, plan);
  return plan;
}

/** A response header table as mod_headers edits it: Apache's headers_out or err_headers_out. */
export interface HeaderTable {
  /** The values under a name (any case), or undefined. */
  get(name: string): string[] | undefined;
  set(name: string, values: string[]): void;
  remove(name: string): void;
}

/** A table of its own, in insertion order (a script's err_headers_out, its headers_out). */
export class FieldTable implements HeaderTable {
  private readonly fields = new Map<string, { name: string; values: string[] }>();

  get(name: string): string[] | undefined {
    return this.fields.get(name.toLowerCase())?.values;
  }

  set(name: string, values: string[]): void {
    this.fields.set(name.toLowerCase(), { name, values });
  }

  add(name: string, value: string): void {
    const f = this.fields.get(name.toLowerCase());
    if (f) f.values.push(value);
    else this.set(name, [value]);
  }

  remove(name: string): void {
    this.fields.delete(name.toLowerCase());
  }

  entries(): { name: string; values: string[] }[] {
    return [...this.fields.values()];
  }
}

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
): void {
  if (ops.length === 0) return;
  if (which === 'both' && ops.some((o) => o.always) && ops.some((o) => !o.always)) {
    applyBothTables(res, req, ops, env, exprFacts);
    return;
  }
  const plan = staticPlan(ops, which);
  if (plan) {
    for (const [name, value] of plan) res.setHeader(name, value);
    return;
  }
  const vary = applyHeaderOpsTo(responseTable(res), req, ops, which, env, exprFacts);
  if (vary.length) {
    // ap_expr merges the request headers it read into Vary, whether or not the condition held.
    res.setHeader('Vary', joinVary([...varyNames(res.getHeader('vary')), ...vary]));
  }
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
): void {
  const err = new FieldTable();
  const vary = [...applyHeaderOpsTo(err, req, ops, 'always', env, exprFacts), ...applyHeaderOpsTo(responseTable(res), req, ops, 'onsuccess', env, exprFacts)];
  for (const { name, values } of err.entries()) {
    const cur = res.getHeader(name);
    const outLines = cur === undefined ? [] : Array.isArray(cur) ? cur.map(String) : [String(cur)];
    const lines = [...values, ...outLines];
    if (name.toLowerCase() === 'vary') res.setHeader(name, joinVary(varyNames(lines)));
    else res.setHeader(name, lines.length === 1 ? lines[0]! : lines);
  }
  if (vary.length) res.setHeader('Vary', joinVary([...varyNames(res.getHeader('vary')), ...vary]));
}

/**
 * The lines of the chosen tables on one header table; the request headers their `expr=`
 * conditions read (for Vary) come back.
 */
export function applyHeaderOpsTo(
  table: HeaderTable,
  req: IncomingMessage,
  ops: readonly HeaderOp[],
  which: HeaderTables,
  env?: ReadonlyMap<string, string>,
  exprFacts?: () => ExprFacts,
): string[] {
  const vary: string[] = [];
  let facts: ExprFacts | undefined;
  for (const op of opsFor(ops, which)) {
    if (op.env && (env?.has(op.env.name) ?? false) === op.env.negate) continue;
    if (op.expr) {
      facts ??= exprFacts ? { ...exprFacts(), responseHeader: (name: string) => table.get(name)?.join(', ') } : undefined;
      if (!facts || !evaluateApExpr(op.expr, facts, vary)) continue;
    }
    const list = table.get(op.name) ?? [];
    const value = op.value.replace(/%%/g, '%');
    switch (op.action) {
      case 'set':
        table.set(op.name, [value]);
        break;
      case 'setifempty':
        if (list.length === 0) table.set(op.name, [value]);
        break;
      case 'add':
        table.set(op.name, [...list, value]);
        break;
      case 'append':
        table.set(op.name, [list.length ? `${list.join(', ')}, ${value}` : value]);
        break;
      case 'merge': {
        const tokens = list
          .join(', ')
          .split(',')
          .map((t) => t.trim());
        if (!tokens.includes(value)) table.set(op.name, [list.length ? `${list.join(', ')}, ${value}` : value]);
        break;
      }
      case 'unset':
        table.remove(op.name);
        break;
      case 'echo':
        for (const [k, v] of Object.entries(req.headers)) {
          if (k.toLowerCase() === op.name.toLowerCase() && v !== undefined) table.set(k, Array.isArray(v) ? v : [v]);
        }
        break;
      default:
        break;
    }
  }
  return vary;
}

/**
 * mod_expires: `Expires` and a merged `Cache-Control: max-age` on a successful answer that has
 * no `Expires` yet (a script may set its own), by its media type or ExpiresDefault. `A` counts
 * from now, `M` from the file's modification time (`mtimeUs`; none, nothing is set).
 */
export function applyExpires(table: HeaderTable, cfg: DirConfig, contentType: string | undefined, mtimeUs: bigint | undefined): void {
  const e = cfg.expires;
  if (!e.active || (e.byType.size === 0 && e.default === undefined)) return;
  if (table.get('expires') !== undefined) return;
  const bare = contentType?.split(';')[0]!.trim().toLowerCase();
  let code: string | undefined;
  if (bare) {
    code = e.byType.get(bare) ?? e.byType.get(`${bare.split('/')[0]}/*`);
  }
  code ??= e.default;
  if (code === undefined) return;
  const parsed = parseExpiresCode(code);
  if (!parsed) return;
  const nowSec = Math.floor(Date.now() / 1000);
  let baseSec = nowSec;
  if (parsed.base === 'M') {
    if (mtimeUs === undefined) return;
    baseSec = Number(mtimeUs / 1_000_000n);
  }
  const expires = Math.max(baseSec + parsed.seconds, nowSec);
  table.set('Expires', [new Date(expires * 1000).toUTCString()]);
  const cc = table.get('cache-control');
  const maxAge = `max-age=${expires - nowSec}`;
  table.set('Cache-Control', [cc ? `${cc.join(', ')}, ${maxAge}` : maxAge]);
}

/**
 * `AddDefaultCharset` (ap_make_content_type): a type that contains text/plain or text/html
 * and no `charset=` gets `; charset=` and the configured name.
 */
export function withDefaultCharset(type: string, cfg: DirConfig): string {
  const charset = cfg.addDefaultCharset;
  if (charset === undefined || type.includes('charset=')) return type;
  return type.includes('text/plain') || type.includes('text/html') ? `${type}; charset=${charset}` : type;
}
