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
const HANDLER_HEADERS = new Set(['content-type', 'content-length', 'content-range', 'content-encoding', 'etag', 'last-modified', 'accept-ranges', 'location', 'allow', 'server', 'date']);
const planMemo = new WeakMap<readonly HeaderOp[], Map<HeaderTables, [string, string | string[]][] | null>>();

function headerText(v: number | string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v);
}

function splitVary(v: string | undefined): string[] {
  return v ? v.split(',').map((t) => t.trim()).filter(Boolean) : [];
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
        const tokens = cur.join(', ').split(',').map((t) => t.trim());
        if (!tokens.includes(value)) fake.set(key, { name: op.name, values: [cur.length ? `${cur.join(', ')}, ${value}` : value] });
      } else if (op.action === 'unset') fake.delete(key);
    }
    plan = [...fake.values()].map((h) => [h.name, h.values.length === 1 ? h.values[0]! : h.values]);
  }
  byKind.set(which, plan);
  return plan;
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
  // A plan assumes only handler-set names are there before; a script's answer has its own fields.
  const plan = which === 'onsuccess' ? null : staticPlan(ops, which);
  if (plan) {
    for (const [name, value] of plan) res.setHeader(name, value);
    return;
  }
  const ordered = opsFor(ops, which);
  let facts: ExprFacts | undefined;
  for (const op of ordered) {
    if (op.env && (env?.has(op.env.name) ?? false) === op.env.negate) continue;
    if (op.expr) {
      facts ??= exprFacts ? { ...exprFacts(), responseHeader: (name: string) => headerText(res.getHeader(name)) } : undefined;
      if (!facts) continue;
      const vary: string[] = [];
      const holds = evaluateApExpr(op.expr, facts, vary);
      // ap_expr merges the request headers it read into Vary, whether or not the condition held.
      if (vary.length) {
        const names = [...splitVary(headerText(res.getHeader('vary'))), ...vary];
        res.setHeader('Vary', [...new Map(names.map((h) => [h.toLowerCase(), h])).values()].join(','));
      }
      if (!holds) continue;
    }
    const key = op.name.toLowerCase();
    const current = res.getHeader(key);
    const list = current === undefined ? [] : Array.isArray(current) ? current.map(String) : [String(current)];
    const value = op.value.replace(/%%/g, '%');
    switch (op.action) {
      case 'set':
        res.setHeader(op.name, value);
        break;
      case 'setifempty':
        if (list.length === 0) res.setHeader(op.name, value);
        break;
      case 'add':
        res.setHeader(op.name, [...list, value]);
        break;
      case 'append':
        res.setHeader(op.name, list.length ? `${list.join(', ')}, ${value}` : value);
        break;
      case 'merge': {
        const tokens = list.join(', ').split(',').map((t) => t.trim());
        if (!tokens.includes(value)) res.setHeader(op.name, list.length ? `${list.join(', ')}, ${value}` : value);
        break;
      }
      case 'unset':
        res.removeHeader(op.name);
        break;
      case 'echo':
        for (const [k, v] of Object.entries(req.headers)) {
          if (k.toLowerCase() === key && v !== undefined) res.setHeader(k, v);
        }
        break;
      default:
        break;
    }
  }
}

/**
 * mod_expires: `Expires` and a merged `Cache-Control: max-age` on a successful answer that has
 * no `Expires` yet (a script may set its own), by its media type or ExpiresDefault. `A` counts
 * from now, `M` from the file's modification time (`mtimeUs`; none, nothing is set).
 */
export function applyExpires(res: ServerResponse, cfg: DirConfig, contentType: string | undefined, mtimeUs: bigint | undefined): void {
  const e = cfg.expires;
  if (!e.active || (e.byType.size === 0 && e.default === undefined)) return;
  if (res.hasHeader('expires')) return;
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
  res.setHeader('Expires', new Date(expires * 1000).toUTCString());
  const cc = res.getHeader('Cache-Control');
  const maxAge = `max-age=${expires - nowSec}`;
  res.setHeader('Cache-Control', cc ? `${String(cc)}, ${maxAge}` : maxAge);
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
