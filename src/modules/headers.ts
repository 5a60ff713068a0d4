/**
 * mod_headers (modules/metadata/mod_headers.c): `Header` and `RequestHeader`, their
 * per-directory lists, and what they do to a request's and a response's header tables.
 *
 * Apache keeps three lists per directory (fixup_in, fixup_out, fixup_err) and merges them by
 * appending the child's to the parent's (`merge_headers_config`). `RequestHeader` lines run in
 * the fixups phase on headers_in (`ap_headers_fixup`), before a script sees them; `Header`
 * lines run in the FIXUP_HEADERS_OUT output filter: `always` ones on err_headers_out, which
 * every answer carries, the others on headers_out (`ap_headers_output_filter`), and on the
 * error path only the `always` ones (`ap_headers_error_filter`).
 */
import { loadavg } from 'node:os';
import {
  type ApExprModules,
  evaluateApExpr,
  exprModulesOf,
  evaluateApExprString,
  parseApExpr,
  parseApExprString,
  type Expr,
  type ExprFacts,
  type Word,
} from '../grammar/ap-expr.js';
import { apPregsub, compileApacheRegex, type ApacheRegex } from '../grammar/regex.js';
import { getWordConf } from '../grammar/words.js';
import { HostProcessCrash } from '../vocabulary/host-process-crash.js';
import { finding, refused, type CompileResult, type CompiledLine, type DirectiveDefinition, type DirectiveFinding, type DirectiveInput, type ModuleDefinition } from './module.js';

/** One `Header` or `RequestHeader` line (mod_headers' `header_entry`). */
export interface HeaderOp {
  /** `Header always`: works on err_headers_out. */
  always: boolean;
  action: 'set' | 'setifempty' | 'add' | 'append' | 'merge' | 'unset' | 'echo' | 'edit' | 'edit*' | 'note';
  /** The header's name (anything from a ':' on dropped, as header_inout_cmd does). */
  name: string;
  /** The value's format string as written; for `edit`/`edit*` the substitution, for `note` the note's name. */
  value: string;
  /** The format string as parse_format_string splits it (absent for `unset`, `echo`, an `expr=` value). */
  format?: readonly FormatPart[];
  /** A value written `expr=…` (case-sensitive): an ap_expr string, evaluated per request. */
  valueExpr?: Word;
  /** `env=VAR` / `env=!VAR` condition. */
  env?: { name: string; negate: boolean };
  /** `expr=…` condition (ap_expr). */
  expr?: Expr;
  /** `early`: runs at post_read_request only, never in the fixups or the output filter. */
  early?: boolean;
  /** `edit`/`edit*`: the pattern (AP_REG_EXTENDED); `echo`: the pattern names are tested with. */
  regex?: ApacheRegex;
}

/** mod_headers' slice of the per-directory configuration. */
export interface HeadersDirConfig {
  /** `Header` lines, parent first (all run; a later `set` wins). */
  headers: readonly HeaderOp[];
  /** `RequestHeader` lines (they change what scripts see), parent first. */
  requestHeaders: readonly HeaderOp[];
}

/**
 * One piece of a format string: literal text (its backslash escapes already read), or a tag
 * mod_headers registers in header_pre_config: `%D` `%t` `%{VAR}e` `%{VAR}s` `%l` `%i` `%b`.
 */
export type FormatPart = string | { tag: 'D' | 't' | 'e' | 's' | 'l' | 'i' | 'b'; arg: string };

const FORMAT_TAGS = 'Dteslib';

/**
 * `parse_format_string` + `parse_format_tag` + `parse_misc_string`: text up to a `%` with
 * `\\`, `\r`, `\n`, `\t` read (any other backslash kept as written); `%%`, or `%` at the
 * end, is a `%`; `%{arg}X` and `%X` are tags, and an unknown X is refused.
 */
export function parseHeaderFormat(s: string): { parts: FormatPart[] } | { error: string } {
  const parts: FormatPart[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '%') {
      let text = '';
      while (i < s.length && s[i] !== '%') {
        const c = s[i]!;
        if (c !== '\\') {
          text += c;
          i++;
          continue;
        }
        const e = s[i + 1];
        const escaped = e === '\\' ? '\\' : e === 'r' ? '\r' : e === 'n' ? '\n' : e === 't' ? '\t' : undefined;
        if (escaped !== undefined) {
          text += escaped;
          i += 2;
        } else {
          // Copied verbatim; the next character is read as usual (a `%` still starts a tag).
          text += '\\';
          i++;
        }
      }
      parts.push(text);
      continue;
    }
    i++;
    if (i >= s.length || s[i] === '%') {
      parts.push('%');
      if (i < s.length) i++;
      continue;
    }
    let arg = '';
    if (s[i] === '{') {
      // ap_getword(…, '}'): up to the brace, or everything left when there is none.
      const close = s.indexOf('}', i + 1);
      arg = s.slice(i + 1, close === -1 ? s.length : close);
      i = close === -1 ? s.length : close + 1;
    }
    const tag = s[i] ?? '';
    if (tag === '' || !FORMAT_TAGS.includes(tag)) return { error: `Unrecognized header format %${tag}` };
    parts.push({ tag: tag as Exclude<FormatPart, string>['tag'], arg });
    i++;
  }
  return { parts };
}

const ACTIONS: ReadonlySet<string> = new Set(['set', 'setifempty', 'add', 'append', 'merge', 'unset', 'echo', 'edit', 'edit*', 'note']);

/** PCRE compile as ap_pregcomp does it, with Apache's message when it fails. */
function compilePattern(pattern: string, onError: string): { regex: ApacheRegex } | { problem: DirectiveFinding; fatal: boolean } {
  const r = compileApacheRegex(pattern);
  if (!r.ok) return { problem: finding(onError, 'HT106', `The pattern does not compile: ${r.reason}.`), fatal: true };
  if (r.regex === undefined) {
    return { problem: { code: 'HT201', message: `pattern '${pattern}' uses PCRE features htsandbox cannot run (${r.unsupported}); the host accepts it` }, fatal: false };
  }
  return { regex: r.regex };
}

/**
 * `header_cmd` + `header_inout_cmd`: the words read with ap_getword_conf, checked in Apache's
 * order with its messages, and the line as serve applies it.
 */
function compileHeaderLine(isResponse: boolean, rawArgs: string, modules: ApExprModules): CompileResult<HeaderOp> {
  let pos = 0;
  const next = (): string => {
    const w = getWordConf(rawArgs, pos);
    pos = w.next;
    return w.value;
  };
  const more = (): boolean => pos < rawArgs.length;
  let action = next();
  let always = false;
  if (isResponse && (action.toLowerCase() === 'always' || action.toLowerCase() === 'onsuccess')) {
    always = action.toLowerCase() === 'always';
    action = next();
  }
  const hdr = next();
  const value = more() ? next() : undefined;
  const subs = more() ? next() : undefined;
  let envclause = more() ? next() : undefined;
  if (more()) return refused(finding(`${isResponse ? 'Header' : 'RequestHeader'} has too many arguments`));
  const a = action.toLowerCase();
  if (!ACTIONS.has(a)) {
    return refused(finding("first argument must be 'add', 'set', 'setifempty', 'append', 'merge', 'unset', 'echo', 'note', 'edit', or 'edit*'."));
  }
  const findings: DirectiveFinding[] = [];
  let val = value;
  let regex: ApacheRegex | undefined;
  let unrunnable = false;
  if (a === 'edit' || a === 'edit*') {
    if (subs === undefined) return refused(finding('Header edit requires a match and a substitution'));
    const c = compilePattern(val ?? '', 'Header edit regex could not be compiled');
    if ('problem' in c) {
      if (c.fatal) return refused(c.problem);
      findings.push(c.problem);
      unrunnable = true;
    } else regex = c.regex;
  } else {
    if (envclause !== undefined) return refused(finding('Too many arguments to directive'));
    envclause = subs;
  }
  if (a === 'unset') {
    if (val !== undefined) {
      if (envclause !== undefined) return refused(finding('header unset takes two arguments'));
      envclause = val;
      val = undefined;
    }
  } else if (a === 'echo') {
    if (val !== undefined) {
      if (envclause !== undefined) return refused(finding('Header echo takes two arguments'));
      envclause = val;
      val = undefined;
    }
    if (!isResponse) return refused(finding('Header echo only valid on Header directives'));
    const c = compilePattern(hdr, 'Header echo regex could not be compiled');
    if ('problem' in c) {
      if (c.fatal) return refused(c.problem);
      findings.push(c.problem);
      unrunnable = true;
    } else regex = c.regex;
  } else if (val === undefined) {
    return refused(finding('Header requires three arguments'));
  }
  const op: HeaderOp = { always, action: a as HeaderOp['action'], name: hdr.replace(/:.*$/s, ''), value: '' };
  if (regex) op.regex = regex;
  if (envclause !== undefined) {
    const e = envclause.toLowerCase();
    if (e === 'early') op.early = true;
    else if (e.startsWith('env=')) {
      if (envclause.length === 4 || envclause === `${envclause.slice(0, 4)}!`) {
        return refused(finding('error: missing environment variable name. envclause should be in the form env=envar '));
      }
      const v = envclause.slice(4);
      op.env = v.startsWith('!') ? { name: v.slice(1), negate: true } : { name: v, negate: false };
    } else if (e.startsWith('expr=')) {
      const parsed = parseApExpr(envclause.slice(5), modules);
      if (!parsed.ok) return refused(finding(`Can't parse envclause/expression: ${parsed.error}`, 'HT110'));
      op.expr = parsed.expr;
    } else return refused(finding(`Unknown parameter: ${envclause}`));
  }
  // parse_format_string: the tags are in the substitution for edit, in the value otherwise.
  const format = a === 'edit' || a === 'edit*' ? subs : val;
  if (format !== undefined && a !== 'unset' && a !== 'echo') {
    op.value = format;
    if (format.startsWith('expr=')) {
      const parsed = parseApExprString(format.slice(5), modules);
      if (!parsed.ok) return refused(finding(`Can't parse value expression : ${parsed.error}`, 'HT110'));
      op.valueExpr = parsed.word;
    } else {
      const parsed = parseHeaderFormat(format);
      if ('error' in parsed) return refused(finding(parsed.error));
      op.format = parsed.parts;
    }
  }
  return { findings, value: unrunnable ? undefined : op };
}

const header: DirectiveDefinition<HeaderOp> = {
  name: 'Header',
  shape: 'RAW_ARGS',
  override: 'OR_FILEINFO',
  help: 'an optional condition, an action, header and value followed by optional env clause',
  compile: (input: DirectiveInput) => compileHeaderLine(true, input.rawArgs, exprModulesOf(input.hasModule)),
};

const requestHeader: DirectiveDefinition<HeaderOp> = {
  name: 'RequestHeader',
  shape: 'RAW_ARGS',
  override: 'OR_FILEINFO',
  help: 'an action, header and value followed by optional env clause',
  compile: (input: DirectiveInput) => compileHeaderLine(false, input.rawArgs, exprModulesOf(input.hasModule)),
};

/** `merge_headers_config`: the child's lines after the parent's. */
function mergeHeaders(base: Readonly<HeadersDirConfig>, lines: readonly CompiledLine[]): Partial<HeadersDirConfig> {
  const out: HeaderOp[] = [];
  const inn: HeaderOp[] = [];
  for (const l of lines) (l.key === 'header' ? out : inn).push(l.value as HeaderOp);
  const merged: Partial<HeadersDirConfig> = {};
  if (out.length > 0) merged.headers = base.headers.concat(out);
  if (inn.length > 0) merged.requestHeaders = base.requestHeaders.concat(inn);
  return merged;
}

/** mod_headers as Apache loads it. */
export const headersModule: ModuleDefinition<HeadersDirConfig> = {
  name: 'headers',
  directives: [header, requestHeader],
  dirConfig: { empty: { headers: [], requestHeaders: [] }, merge: mergeHeaders },
  hooks: {
    fixups: 'applyRequestHeaderLines',
    insert_filter: 'headerLinesFor',
    output_filter: 'applyHeaderLines',
    insert_error_filter: 'applyHeaderLines',
  },
};

// --- The tables mod_headers edits ---

/** A header table as mod_headers edits it: Apache's headers_in, headers_out or err_headers_out. */
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

/** The request's header fields as Node keeps them (lower-cased names). */
export type RequestHeaderFields = Readonly<Record<string, string | string[] | undefined>>;

/** Which lines run: `always` ones, onsuccess ones, or both (always first). */
export type HeaderTables = 'always' | 'onsuccess' | 'both';

/** The lines of the chosen tables, in the order the output filter runs them. */
export function headerLinesFor(ops: readonly HeaderOp[], which: HeaderTables): HeaderOp[] {
  if (which === 'always') return ops.filter((o) => o.always && !o.early);
  if (which === 'onsuccess') return ops.filter((o) => !o.always && !o.early);
  return [...ops.filter((o) => o.always && !o.early), ...ops.filter((o) => !o.always && !o.early)];
}

/**
 * The names in Vary header values (a value may list several). uniq_field_values
 * (http_filters.c) ends a name at a comma or at white space.
 */
export function varyNames(v: number | string | readonly string[] | undefined): string[] {
  const values = v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
  return values.flatMap((x) => String(x).split(/[\s,]+/)).filter(Boolean);
}

/**
 * fixup_vary (http_filters.c): each name once, compared without case; the first spelling
 * stays (uniq_field_values adds a name only when no earlier one matches it). Joined with ','.
 */
export function joinVary(names: readonly string[]): string {
  const seen = new Map<string, string>();
  for (const h of names) {
    const key = h.toLowerCase();
    if (!seen.has(key)) seen.set(key, h);
  }
  return [...seen.values()].join(',');
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

/**
 * The headers a list of lines produces when it depends on nothing but itself (no condition,
 * echo, edit or note, no handler-set names): computed once per configuration, null otherwise.
 */
export function staticHeaderPlan(ops: readonly HeaderOp[], which: HeaderTables): [string, string | string[]][] | null {
  let byKind = planMemo.get(ops);
  if (!byKind) planMemo.set(ops, (byKind = new Map()));
  const cached = byKind.get(which);
  if (cached !== undefined) return cached;
  let plan: [string, string | string[]][] | null = null;
  const simple = ops.every((o) => !o.env && !o.expr && constantValue(o) && !['echo', 'edit', 'edit*', 'note'].includes(o.action) && !HANDLER_HEADERS.has(o.name.toLowerCase()));
  if (simple) {
    const table = new FieldTable();
    applyHeaderLines(table, {}, ops, which);
    plan = table.entries().map((h) => [h.name, h.values.length === 1 ? h.values[0]! : h.values]);
  }
  byKind.set(which, plan);
  return plan;
}

/** Microseconds since the epoch, now (apr_time_now). */
function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** `apr_table_get` on r->subprocess_env: names compare without case. */
function envValue(env: ReadonlyMap<string, string> | undefined, name: string): string | undefined {
  if (!env) return undefined;
  const exact = env.get(name);
  if (exact !== undefined) return exact;
  const key = name.toLowerCase();
  for (const [k, v] of env) if (k.toLowerCase() === key) return v;
  return undefined;
}

/** `unwrap_header`: CR and LF in a variable's value become spaces. */
function unwrapHeader(v: string): string {
  return v.replace(/[\r\n]/g, ' ');
}

/**
 * `process_tags`: an `expr=` value evaluated (ap_expr_str_exec), or each tag's handler run
 * and the pieces joined. `facts` is asked only for what needs the request.
 */
function processTags(op: HeaderOp, env: ReadonlyMap<string, string> | undefined, facts: () => ExprFacts | undefined): string {
  if (op.valueExpr) {
    const f = facts();
    return f ? evaluateApExprString(op.valueExpr, f) : '';
  }
  if (!op.format) return op.value;
  let out = '';
  for (const part of op.format) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    switch (part.tag) {
      case 'D': {
        const now = nowUs();
        out += `D=${now - (facts()?.requestTimeUs ?? now)}`;
        break;
      }
      case 't':
        out += `t=${facts()?.requestTimeUs ?? nowUs()}`;
        break;
      case 'e': {
        const v = envValue(env, part.arg);
        out += v === undefined ? '(null)' : unwrapHeader(v);
        break;
      }
      case 's': {
        // ap_ssl_var_lookup: mod_ssl's variable, "(null)" when empty or without TLS.
        const v = facts()?.variable(`SSL:${part.arg}`) ?? '';
        out += v === '' ? '(null)' : unwrapHeader(v);
        break;
      }
      case 'l': {
        const [a = 0, b = 0, c = 0] = loadavg();
        out += `l=${a.toFixed(2)}/${b.toFixed(2)}/${c.toFixed(2)}`;
        break;
      }
      // ap_get_sload counts the scoreboard's idle and busy workers; htsandbox has no worker
      // pool: this request is the busy one.
      case 'i':
        out += 'i=0';
        break;
      case 'b':
        out += 'b=1';
        break;
    }
  }
  return out;
}

/** Whether a line's value is the same for every request (no tag, no expression). */
function constantValue(op: HeaderOp): boolean {
  return !op.valueExpr && (op.format ?? []).every((p) => typeof p === 'string');
}

/** `apr_table_merge`'s join of the values under one name. */
function merged(list: readonly string[], value: string): string {
  return list.length ? `${list.join(', ')}, ${value}` : value;
}

/** `do_headers_fixup`'s hdr_merge test: is `value` already one of the comma-separated tokens? */
function hasToken(list: readonly string[], value: string): boolean {
  return list
    .join(', ')
    .split(',')
    .map((t) => t.trim())
    .includes(value);
}

/**
 * `process_regexp`: the first match in `value` replaced by the substitution; for `edit*` the
 * rest after it edited again as a string of its own (so `^` matches at its start, as Apache's
 * recursion does). A rest in which the pattern matches the empty string at its very start is
 * edited again unchanged, for ever: Apache's child runs out of stack and dies (segmentation
 * fault, the client gets no answer). That is thrown as HostProcessCrash.
 */
export function editHeaderValue(op: HeaderOp, value: string, substitution = processTags(op, undefined, () => undefined)): string {
  const regex = op.regex;
  if (!regex) return value;
  let out = '';
  let rest = value;
  for (;;) {
    const m = regex.match(rest);
    if (!m) return out + rest;
    const whole = m.captures[0] ?? '';
    out += rest.slice(0, m.index) + apPregsub(substitution, m.captures);
    const after = m.index + whole.length;
    if (op.action !== 'edit*') return out + rest.slice(after);
    if (after === 0) {
      throw new HostProcessCrash(
        `Header edit* ${op.name}: the pattern matches the empty string at the start of "${rest}", so Apache edits the same text again without end and its process crashes (segmentation fault): the client gets no answer`,
        'make the pattern match at least one character (`x+` rather than `x*`, no bare `$` or `^` alternative), or use `Header edit` for a single replacement',
      );
    }
    rest = rest.slice(after);
  }
}

/**
 * What a `Header` line did to the response's content type (r->content_type, which
 * ap_http_header_filter writes over any Content-Type field): `set` replaces it, `unset` drops
 * it, `edit`/`edit*` edit it. `add`, `append` and `merge` only add fields, which that filter
 * then replaces unless no content type is left.
 */
export type ContentTypeStep = { action: 'set'; value: string } | { action: 'unset' } | { action: 'edit'; op: HeaderOp; substitution: string };

/** The handler's content type after the steps (undefined: none; a Content-Type field a line added may then go out). */
export function contentTypeAfter(steps: readonly ContentTypeStep[], handlerType: string | undefined): string | undefined {
  let type = handlerType;
  for (const step of steps) {
    if (step.action === 'set') type = step.value;
    else if (step.action === 'unset') type = undefined;
    else if (type !== undefined) type = editHeaderValue(step.op, type, step.substitution);
  }
  return type;
}

/**
 * `do_headers_fixup` over one table: the lines of the chosen kinds, in order, each under its
 * condition. The request headers their `expr=` conditions read (for Vary) come back. Lines on
 * Content-Type also act on the response's content type: what they did is added to
 * `contentTypeSteps` when given (the handler's type may not be known yet).
 */
export function applyHeaderLines(
  table: HeaderTable,
  requestHeaders: RequestHeaderFields,
  ops: readonly HeaderOp[],
  which: HeaderTables,
  env?: ReadonlyMap<string, string>,
  exprFacts?: () => ExprFacts,
  contentTypeSteps?: ContentTypeStep[],
): string[] {
  const vary: string[] = [];
  let facts: ExprFacts | undefined;
  const getFacts = (): ExprFacts | undefined => (facts ??= exprFacts ? { ...exprFacts(), responseHeader: (name: string) => table.get(name)?.join(', ') } : undefined);
  for (const op of headerLinesFor(ops, which)) {
    if (op.expr) {
      const f = getFacts();
      if (!f || !evaluateApExpr(op.expr, f, vary)) continue;
    } else if (op.env && (envValue(env, op.env.name) !== undefined) === op.env.negate) continue;
    const list = table.get(op.name) ?? [];
    const value = op.action === 'unset' || op.action === 'echo' ? '' : processTags(op, env, getFacts);
    if (contentTypeSteps && op.name.toLowerCase() === 'content-type') {
      if (op.action === 'set') contentTypeSteps.push({ action: 'set', value });
      else if (op.action === 'unset') contentTypeSteps.push({ action: 'unset' });
      else if (op.action === 'edit' || op.action === 'edit*') contentTypeSteps.push({ action: 'edit', op, substitution: value });
    }
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
        table.set(op.name, [merged(list, value)]);
        break;
      case 'merge':
        if (!hasToken(list, value)) table.set(op.name, [merged(list, value)]);
        break;
      case 'unset':
        table.remove(op.name);
        break;
      case 'echo':
        for (const [k, v] of Object.entries(requestHeaders)) {
          if (v !== undefined && k === op.name.toLowerCase()) table.set(k, Array.isArray(v) ? v : [v]);
        }
        break;
      case 'edit':
      case 'edit*':
        // Each value edited, then the name unset and the results added back at the end.
        if (list.length > 0) {
          const edited = list.map((v) => editHeaderValue(op, v, value));
          table.remove(op.name);
          table.set(op.name, edited);
        }
        break;
      case 'note':
        // Copies the value into r->notes, which only a LogFormat `%{name}n` reads; htsandbox
        // logs no such field, so the answer is all there is to see, and it is unchanged.
        break;
    }
  }
  return vary;
}

/**
 * `ap_headers_fixup` on a request's fields as a script will see them (in order, a repeated
 * name's values already joined): `RequestHeader` lines, each under its `env=` condition.
 */
export function applyRequestHeaderLines(
  headers: [string, string][],
  ops: readonly HeaderOp[],
  env: ReadonlyMap<string, string>,
  /** What an `expr=` condition or value and the time tags read (asked only when one needs it). */
  exprFacts?: () => ExprFacts,
): [string, string][] {
  let out = headers;
  let facts: ExprFacts | undefined;
  const getFacts = (): ExprFacts | undefined => (facts ??= exprFacts?.());
  for (const op of ops) {
    if (op.early) continue;
    if (op.expr) {
      const f = getFacts();
      if (!f || !evaluateApExpr(op.expr, f)) continue;
    } else if (op.env && (envValue(env, op.env.name) !== undefined) === op.env.negate) continue;
    const key = op.name.toLowerCase();
    const idx = out.findIndex(([n]) => n.toLowerCase() === key);
    const value = op.action === 'unset' ? '' : processTags(op, env, getFacts);
    switch (op.action) {
      case 'set':
        out = [...out.filter(([n]) => n.toLowerCase() !== key), [op.name, value]];
        break;
      case 'setifempty':
        if (idx === -1) out = [...out, [op.name, value]];
        break;
      case 'add':
      case 'append':
        out = idx === -1 ? [...out, [op.name, value]] : out.map(([n, v], i) => (i === idx ? [n, `${v}, ${value}`] : [n, v]));
        break;
      case 'merge': {
        const cur = idx === -1 ? undefined : out[idx]![1];
        if (cur === undefined) out = [...out, [op.name, value]];
        else if (!hasToken([cur], value)) out = out.map(([n, v], i) => (i === idx ? [n, `${v}, ${value}`] : [n, v]));
        break;
      }
      case 'unset':
        out = out.filter(([n]) => n.toLowerCase() !== key);
        break;
      case 'edit':
      case 'edit*':
        if (idx !== -1) {
          const edited = out.filter(([n]) => n.toLowerCase() === key).map(([n, v]): [string, string] => [n, editHeaderValue(op, v, value)]);
          out = [...out.filter(([n]) => n.toLowerCase() !== key), ...edited];
        }
        break;
      default:
        break;
    }
  }
  return out;
}
