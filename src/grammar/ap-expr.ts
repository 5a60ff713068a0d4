/**
 * Apache's expression language (ap_expr: server/util_expr_scan.l, util_expr_parse.y and
 * util_expr_eval.c) for `<If>`, `<ElseIf>`: a scanner and parser with the same tokens and
 * grammar, the same names checked while parsing (an unknown variable, function or operator is
 * a parse error, so the section is a 500 on the host), and an evaluator. Pure: what a request
 * holds comes in through ExprFacts.
 */
import { createHash } from 'node:crypto';
import { asciiLower, asciiUpper } from './byte-strings.js';
import { compileApacheRegex, type ApacheRegex } from './regex.js';
import { compileFnmatch } from './fnmatch.js';

// ---------------------------------------------------------------- the names ap_expr knows ---

/** util_expr_eval.c: misc, request header, request and connection variables. */
const VARIABLES = new Set([
  'TIME_YEAR',
  'TIME_MON',
  'TIME_DAY',
  'TIME_HOUR',
  'TIME_MIN',
  'TIME_SEC',
  'TIME_WDAY',
  'TIME',
  'SERVER_SOFTWARE',
  'API_VERSION',
  'HTTP_USER_AGENT',
  'HTTP_PROXY_CONNECTION',
  'HTTP_REFERER',
  'HTTP_COOKIE',
  'HTTP_FORWARDED',
  'HTTP_HOST',
  'HTTP_ACCEPT',
  'REQUEST_METHOD',
  'REQUEST_SCHEME',
  'REQUEST_URI',
  'REQUEST_FILENAME',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'SERVER_ADMIN',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SCRIPT_FILENAME',
  'PATH_INFO',
  'QUERY_STRING',
  'IS_SUBREQ',
  'DOCUMENT_ROOT',
  'AUTH_TYPE',
  'THE_REQUEST',
  'CONTENT_TYPE',
  'HANDLER',
  'REQUEST_LOG_ID',
  'SCRIPT_USER',
  'SCRIPT_GROUP',
  'DOCUMENT_URI',
  'LAST_MODIFIED',
  'CONTEXT_PREFIX',
  'CONTEXT_DOCUMENT_ROOT',
  'REQUEST_STATUS',
  'REMOTE_ADDR',
  'REMOTE_PORT',
  'HTTPS',
  'IPV6',
  'CONN_LOG_ID',
  'CONN_REMOTE_ADDR',
  'HTTP2',
]);
/** String functions (`name(word)` and `%{name:arg}`). */
const STRING_FUNCTIONS = new Set([
  'osenv',
  'env',
  'resp',
  'req',
  'http',
  'note',
  'reqenv',
  'req_novary',
  'tolower',
  'toupper',
  'escape',
  'unescape',
  'file',
  'filesize',
  'base64',
  'unbase64',
  'sha1',
  'md5',
  'ldap',
]);
/** Unary operators (`-X word`), case-sensitive. */
const UNARY_OPS = new Set(['n', 'z', 'R', 'T', 'd', 'e', 'f', 's', 'L', 'h', 'x', 'F', 'U', 'A']);
/** Binary operators (`word -name word`), case-insensitive. */
const BINARY_OPS = new Set(['ipmatch', 'fnmatch', 'strmatch', 'strcmatch']);

// ---------------------------------------------------------------------------- the tree ---

export type Word =
  | { kind: 'string'; value: string }
  | { kind: 'digit'; value: string }
  | { kind: 'var'; name: string }
  /** mod_ssl's `%{SSL_…}` (ssl_expr_lookup): the name as written, without its `SSL_`. */
  | { kind: 'ssl'; name: string }
  | { kind: 'func'; name: string; arg: Word }
  | { kind: 'backref'; n: number }
  | { kind: 'concat'; parts: Word[] };

export type Expr =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'not'; e: Expr }
  | { kind: 'and' | 'or'; a: Expr; b: Expr }
  | { kind: 'compare'; op: CompareOp; a: Word; b: Word }
  | { kind: 'in'; a: Word; list: Word[] }
  | { kind: 'regex'; negate: boolean; a: Word; re: ApacheRegex }
  | { kind: 'unary'; op: string; a: Word }
  | { kind: 'binary'; op: string; a: Word; b: Word };

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '-eq' | '-ne' | '-lt' | '-le' | '-gt' | '-ge';

// ------------------------------------------------------------------------- the scanner ---

type Token =
  | { t: 'op'; v: string } // comparison, logic, concat, in
  | { t: 'unary'; v: string }
  | { t: 'binary'; v: string }
  | { t: 'digit'; v: string }
  | { t: 'id'; v: string }
  | { t: 'true' | 'false' }
  | { t: 'punct'; v: string } // ( ) { } , :
  | { t: 'regex'; v: string; icase: boolean }
  | { t: 'str'; parts: Word[] } // a whole quoted string, its variables and backrefs parsed
  | { t: 'var'; w: Word }
  | { t: 'backref'; n: number }
  | { t: 'end' };

class ExprError extends Error {}

const KEYWORD_OPS: Record<string, string> = {
  and: '&&',
  or: '||',
  not: '!',
  eq: '-eq',
  ne: '-ne',
  lt: '-lt',
  le: '-le',
  gt: '-gt',
  ge: '-ge',
  in: 'in',
};
const DASH_OPS: Record<string, string> = { '-in': 'in', '-eq': '-eq', '-ne': '-ne', '-ge': '-ge', '-le': '-le', '-gt': '-gt', '-lt': '-lt' };
const REGEX_DELIMITERS = '/#$%^,;:_?|-!.\'"';

/** What the server loaded that adds names to the language (each module's expr_lookup hook). */
export interface ApExprModules {
  /**
   * mod_ssl: names core does not know that start with `SSL_` are its variables, and `SSL`
   * (`SSL(x)`, `%{SSL:x}`) its string function (ssl_engine_vars.c, ssl_expr_lookup), any case
   * (Apache 2.4.71 takes `%{ssl_protocol}` and `%{ssl:https}`: the `expr-ssl` conformance
   * cases). Without it both are parse errors, as in Apache.
   */
  ssl?: boolean;
}

/** The names the loaded modules add, from the host's module list (`hasModule` takes a module id). */
export function exprModulesOf(hasModule: (id: string) => boolean): ApExprModules {
  return { ssl: hasModule('ssl') };
}

/** mod_ssl's string function, when it is loaded. */
function sslFunction(name: string, modules: ApExprModules): boolean {
  return modules.ssl === true && name.toUpperCase() === 'SSL';
}

class Scanner {
  private i = 0;
  constructor(
    private readonly s: string,
    readonly modules: ApExprModules = {},
  ) {}

  private fail(message: string): never {
    throw new ExprError(message);
  }

  /** `%{NAME}` or `%{func:arg}`, the `%{` already read. */
  private variable(): Word {
    const m = /^[a-zA-Z][a-zA-Z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) {
      const c = this.s[this.i];
      this.fail(c === undefined ? 'Unterminated string or variable' : `Invalid character in variable name '${c}'`);
    }
    const name = m[0];
    this.i += name.length;
    const c = this.s[this.i];
    if (c === '}') {
      this.i++;
      if (VARIABLES.has(name.toUpperCase())) return { kind: 'var', name: name.toUpperCase() };
      // Core's lookup comes first; mod_ssl takes what starts with "SSL_".
      if (this.modules.ssl && name.toUpperCase().startsWith('SSL_')) return { kind: 'ssl', name: name.slice(4).toUpperCase() };
      this.fail(`Variable '${name}' does not exist`);
    }
    if (c === ':') {
      this.i++;
      const parts = this.stringParts(undefined);
      if (parts.length === 0) this.fail("syntax error, unexpected '}'");
      if (sslFunction(name, this.modules)) return { kind: 'func', name: 'SSL', arg: concat(parts) };
      if (!STRING_FUNCTIONS.has(name.toLowerCase())) this.fail(`Function '${name}' does not exist`);
      return { kind: 'func', name: name.toLowerCase(), arg: concat(parts) };
    }
    this.fail(c === undefined ? 'Unterminated string or variable' : `Invalid character in variable name '${c}'`);
  }

  /**
   * A whole string expression (the scanner's `str` state from the start, as
   * AP_EXPR_FLAG_STRING_RESULT begins it): text, escapes, variables and `$N` up to the end,
   * where quotes and `}` are plain text.
   */
  stringExpression(): Word {
    return concat(this.stringParts(undefined, true));
  }

  /**
   * The inside of a quoted string (`delim`) or of a `%{func:…}` argument (delim undefined,
   * ends at `}`), or a string expression (`toEnd`): text, escapes, variables and `$N`.
   */
  private stringParts(delim: string | undefined, toEnd = false): Word[] {
    const parts: Word[] = [];
    let text = '';
    const flush = (): void => {
      if (text !== '') parts.push({ kind: 'string', value: text });
      text = '';
    };
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined && toEnd) {
        flush();
        return parts;
      }
      if (c === undefined) this.fail('Unterminated string or variable');
      if (c === '\n') this.fail('Unterminated string or variable');
      if (delim !== undefined && c === delim) {
        this.i++;
        flush();
        return parts;
      }
      if (delim === undefined && !toEnd && c === '}') {
        this.i++;
        flush();
        return parts;
      }
      if (c === '\\') {
        const rest = this.s.slice(this.i + 1);
        const oct = /^[0-7]{1,3}/.exec(rest);
        if (oct) {
          const v = Number.parseInt(oct[0], 8);
          if (v > 0xff) this.fail('Escape sequence out of bound');
          text += String.fromCharCode(v);
          this.i += 1 + oct[0].length;
          continue;
        }
        if (/^[0-9]/.test(rest)) this.fail('Bad escape sequence');
        const e = rest[0];
        if (e === undefined) this.fail('Unterminated string or variable');
        text += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'f' ? '\f' : e;
        this.i += 2;
        continue;
      }
      if (c === '$' && /[0-9]/.test(this.s[this.i + 1] ?? '')) {
        flush();
        parts.push({ kind: 'backref', n: Number(this.s[this.i + 1]) });
        this.i += 2;
        continue;
      }
      if (c === '%' && this.s[this.i + 1] === '{') {
        flush();
        this.i += 2;
        parts.push(this.variable());
        continue;
      }
      text += c;
      this.i++;
    }
  }

  next(): Token {
    const s = this.s;
    while (this.i < s.length && ' \t\n'.includes(s[this.i]!)) this.i++;
    if (this.i >= s.length) return { t: 'end' };
    const rest = s.slice(this.i);
    const c = s[this.i]!;
    if (c === '"' || c === "'") {
      this.i++;
      return { t: 'str', parts: this.stringParts(c) };
    }
    if (rest.startsWith('%{')) {
      this.i += 2;
      return { t: 'var', w: this.variable() };
    }
    if (c === '$' && /[0-9]/.test(rest[1] ?? '')) {
      this.i += 2;
      return { t: 'backref', n: Number(rest[1]) };
    }
    // Regular expressions: /…/ or m<delim>…<delim>, then an optional i.
    let delim: string | undefined;
    if (c === '/') delim = '/';
    else if (c === 'm' && rest.length > 1 && REGEX_DELIMITERS.includes(rest[1]!)) {
      // flex takes the longest match: an identifier like m_x wins over "m_" as a regex start.
      const id = /^[a-zA-Z][a-zA-Z0-9_]*/.exec(rest)![0];
      if (id.length <= 2) delim = rest[1];
    }
    if (delim !== undefined) {
      const start = this.i + (c === '/' ? 1 : 2);
      const end = s.indexOf(delim, start);
      if (end < 0) this.fail('Unterminated regular expression');
      this.i = end + 1;
      const icase = s[this.i] === 'i';
      if (icase) this.i++;
      return { t: 'regex', v: s.slice(start, end), icase };
    }
    for (const op of ['==', '=~', '!=', '!~', '<=', '>=', '&&', '||']) {
      if (rest.startsWith(op)) {
        this.i += 2;
        return { t: 'op', v: op };
      }
    }
    if (c === '=') {
      this.i++;
      return { t: 'op', v: '==' };
    }
    if (c === '<' || c === '>' || c === '!' || c === '.') {
      this.i++;
      return { t: 'op', v: c };
    }
    if (c === '-') {
      const dash = /^-[a-zA-Z_][a-zA-Z_0-9]*/.exec(rest);
      if (dash) {
        this.i += dash[0].length;
        if (DASH_OPS[dash[0]] !== undefined) return { t: 'op', v: DASH_OPS[dash[0]]! };
        return dash[0].length === 2 ? { t: 'unary', v: dash[0].slice(1) } : { t: 'binary', v: dash[0].slice(1) };
      }
      const num = /^-[0-9]+/.exec(rest);
      if (num) {
        this.i += num[0].length;
        return { t: 'digit', v: num[0] };
      }
      this.fail(`Parse error near '-'`);
    }
    const num = /^[0-9]+/.exec(rest);
    if (num) {
      this.i += num[0].length;
      return { t: 'digit', v: num[0] };
    }
    const id = /^[a-zA-Z][a-zA-Z0-9_]*/.exec(rest);
    if (id) {
      this.i += id[0].length;
      const w = id[0];
      if (w === 'true' || w === 'false') return { t: w };
      if (KEYWORD_OPS[w] !== undefined) return { t: 'op', v: KEYWORD_OPS[w]! };
      return { t: 'id', v: w };
    }
    if ('(){},:'.includes(c)) {
      this.i++;
      return { t: 'punct', v: c };
    }
    this.fail(`Parse error near '${c}'`);
  }
}

function concat(parts: Word[]): Word {
  if (parts.length === 0) return { kind: 'string', value: '' };
  return parts.length === 1 ? parts[0]! : { kind: 'concat', parts };
}

// -------------------------------------------------------------------------- the parser ---

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=', '-eq', '-ne', '-lt', '-le', '-gt', '-ge']);

class Parser {
  private tok: Token;
  constructor(private readonly sc: Scanner) {
    this.tok = sc.next();
  }

  private fail(): never {
    // bison's message names the token it did not expect; the host's 500 is what counts.
    throw new ExprError(`syntax error, unexpected ${describeToken(this.tok)}`);
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.sc.next();
    return t;
  }

  private isOp(v: string): boolean {
    return this.tok.t === 'op' && this.tok.v === v;
  }

  private isPunct(v: string): boolean {
    return this.tok.t === 'punct' && this.tok.v === v;
  }

  parse(): Expr {
    const e = this.condition();
    if (this.tok.t !== 'end') this.fail();
    return e;
  }

  /**
   * `cond` of util_expr_parse.y: `!` binds tightest, then `&&`, then `||`, both to the right
   * (%right). Read with explicit stacks of operands and operators, not recursion: Apache's
   * bison parser takes thousands of nested parentheses (4,000 measured) that would exhaust
   * our call stack.
   */
  private condition(): Expr {
    type Pending = '!' | '&&' | '||' | '(';
    const operators: Pending[] = [];
    const operands: Expr[] = [];
    const precedence = (op: Pending): number => (op === '||' ? 1 : op === '&&' ? 2 : 0);
    const reduce = (): void => {
      const op = operators.pop()!;
      const b = operands.pop()!;
      if (op === '!') operands.push({ kind: 'not', e: b });
      else {
        const a = operands.pop()!;
        operands.push(op === '&&' ? { kind: 'and', a, b } : { kind: 'or', a, b });
      }
    };
    const reduceNots = (): void => {
      while (operators[operators.length - 1] === '!') reduce();
    };
    let open = 0;
    for (;;) {
      // An operand: any number of `!` and `(`, then a comparison (or true/false …).
      if (this.isOp('!')) {
        this.advance();
        operators.push('!');
        continue;
      }
      if (this.isPunct('(')) {
        this.advance();
        operators.push('(');
        open++;
        continue;
      }
      operands.push(this.primary());
      reduceNots();
      // Then `)` closing groups, or a binary operator, or the end of this condition.
      while (open > 0 && this.isPunct(')')) {
        this.advance();
        while (operators[operators.length - 1] !== '(') reduce();
        operators.pop();
        open--;
        reduceNots();
      }
      const op: Pending | undefined = this.isOp('&&') ? '&&' : this.isOp('||') ? '||' : undefined;
      if (op === undefined) break;
      this.advance();
      // Right associative: only a stronger operator already read is completed first.
      while (operators.length > 0 && precedence(operators[operators.length - 1]!) > precedence(op)) reduce();
      operators.push(op);
    }
    if (open > 0) this.fail();
    while (operators.length > 0) reduce();
    return operands[0]!;
  }

  private primary(): Expr {
    const t = this.tok;
    if (t.t === 'true' || t.t === 'false') {
      this.advance();
      return { kind: t.t };
    }
    if (t.t === 'unary') {
      this.advance();
      if (!UNARY_OPS.has(t.v)) throw new ExprError(`Unary operator '${t.v}' does not exist`);
      return { kind: 'unary', op: t.v, a: this.word() };
    }
    const a = this.word();
    const op = this.tok;
    if (op.t === 'op' && COMPARE_OPS.has(op.v)) {
      this.advance();
      return { kind: 'compare', op: op.v as CompareOp, a, b: this.word() };
    }
    if (op.t === 'op' && op.v === 'in') {
      this.advance();
      return { kind: 'in', a, list: this.wordList() };
    }
    if (op.t === 'op' && (op.v === '=~' || op.v === '!~')) {
      this.advance();
      const r = this.tok;
      if (r.t !== 'regex') this.fail();
      this.advance();
      const compiled = compileApacheRegex(r.v, r.icase);
      if (!compiled.ok || !compiled.regex) throw new ExprError('Failed to compile regular expression');
      return { kind: 'regex', negate: op.v === '!~', a, re: compiled.regex };
    }
    if (op.t === 'binary') {
      this.advance();
      if (!BINARY_OPS.has(op.v.toLowerCase())) throw new ExprError(`Binary operator '${op.v}' does not exist`);
      return { kind: 'binary', op: op.v.toLowerCase(), a, b: this.word() };
    }
    this.fail();
  }

  private wordList(): Word[] {
    if (this.tok.t === 'id') {
      // A list-returning function: the core has none.
      throw new ExprError(`List-returning function '${this.tok.v}' does not exist`);
    }
    if (!this.isPunct('{')) this.fail();
    this.advance();
    const words = [this.word()];
    while (this.isPunct(',')) {
      this.advance();
      words.push(this.word());
    }
    if (!this.isPunct('}')) this.fail();
    this.advance();
    return words;
  }

  // %right T_OP_CONCAT
  private word(): Word {
    const a = this.wordAtom();
    if (this.isOp('.')) {
      this.advance();
      const b = this.word();
      return { kind: 'concat', parts: [a, b] };
    }
    return a;
  }

  private wordAtom(): Word {
    const t = this.tok;
    switch (t.t) {
      case 'digit':
        this.advance();
        return { kind: 'digit', value: t.v };
      case 'var':
        this.advance();
        return t.w;
      case 'backref':
        this.advance();
        return { kind: 'backref', n: t.n };
      case 'str':
        this.advance();
        return concat(t.parts);
      case 'id': {
        this.advance();
        if (!this.isPunct('(')) this.fail();
        this.advance();
        const arg = this.word();
        if (!this.isPunct(')')) this.fail();
        this.advance();
        if (sslFunction(t.v, this.sc.modules)) return { kind: 'func', name: 'SSL', arg };
        if (!STRING_FUNCTIONS.has(t.v.toLowerCase())) throw new ExprError(`Function '${t.v}' does not exist`);
        return { kind: 'func', name: t.v.toLowerCase(), arg };
      }
      default:
        this.fail();
    }
  }
}

function describeToken(t: Token): string {
  switch (t.t) {
    case 'end':
      return '$end';
    case 'op':
    case 'punct':
      return `'${t.v}'`;
    case 'id':
      return `T_ID '${t.v}'`;
    default:
      return t.t;
  }
}

/** Parses a boolean expression; the error is Apache's reason (after "Cannot parse condition clause: "). */
export function parseApExpr(text: string, modules?: ApExprModules): { ok: true; expr: Expr } | { ok: false; error: string } {
  try {
    return { ok: true, expr: new Parser(new Scanner(text, modules)).parse() };
  } catch (err) {
    if (err instanceof ExprError) return { ok: false, error: err.message };
    // Thousands of nested parentheses outrun this recursive parser: an error in bison's words
    // for a stack it cannot grow. Apache's limit is deeper, so such a file may pass there.
    if (err instanceof RangeError) return { ok: false, error: 'memory exhausted' };
    throw err;
  }
}

/**
 * Parses a string expression (ap_expr_parse_cmd with AP_EXPR_FLAG_STRING_RESULT, as for a
 * `Header … "expr=…"` value); the error is Apache's reason.
 */
export function parseApExprString(text: string, modules?: ApExprModules): { ok: true; word: Word } | { ok: false; error: string } {
  try {
    return { ok: true, word: new Scanner(text, modules).stringExpression() };
  } catch (err) {
    if (err instanceof ExprError) return { ok: false, error: err.message };
    throw err;
  }
}

// ----------------------------------------------------------------------- the evaluator ---

/** What a request holds, as ap_expr reads it. */
export interface ExprFacts {
  /** A variable (upper-case name); '' when unset. */
  variable(name: string): string;
  /** A request header ('' when absent). */
  header(name: string): string;
  /** The request's environment (SetEnv and the like); undefined when unset. */
  env(name: string): string | undefined;
  /** The server's own environment. */
  osenv(name: string): string | undefined;
  /** A file test: d e f s L h x (and F/U/A taken as the file's existence). */
  fileTest(op: string, path: string): boolean;
  /** A small file's contents and size (`file()`, `filesize()`); undefined when unreadable. */
  readFile(path: string): string | undefined;
  /** A response header so far (`resp()`), where there is a response (mod_headers). */
  responseHeader?(name: string): string | undefined;
  /**
   * mod_ssl's answers: `variable`, its `%{SSL_name}` (ssl_var_lookup_ssl: the connection's TLS
   * facts, "" over plain HTTP); `function`, its `SSL(name)` (ssl_var_lookup: also HTTPS,
   * request variables and the versions, over plain HTTP too).
   */
  ssl?(name: string, how: 'variable' | 'function'): string;
  remoteAddr: string;
  /** r->request_time, microseconds since the epoch (mod_headers' `%t` and `%D` read it). */
  requestTimeUs?: number;
}

interface EvalState {
  facts: ExprFacts;
  /** `$0`..`$9` of the last regex match. */
  captures: (string | undefined)[];
  /** Request headers the evaluation read (ap_expr adds them to Vary; Host never). */
  vary: string[];
}

/** The request header behind each HTTP_* variable (req_header_header_names). */
const HEADER_OF_VARIABLE: Record<string, string> = {
  HTTP_USER_AGENT: 'User-Agent',
  HTTP_PROXY_CONNECTION: 'Proxy-Connection',
  HTTP_REFERER: 'Referer',
  HTTP_COOKIE: 'Cookie',
  HTTP_FORWARDED: 'Forwarded',
  HTTP_HOST: 'Host',
  HTTP_ACCEPT: 'Accept',
};

function readHeader(name: string, st: EvalState, vary: boolean): string {
  if (vary && name.toLowerCase() !== 'host') st.vary.push(name);
  return st.facts.header(name);
}

function wordValue(w: Word, st: EvalState): string {
  switch (w.kind) {
    case 'string':
    case 'digit':
      return w.value;
    case 'var': {
      const header = HEADER_OF_VARIABLE[w.name];
      return header !== undefined ? readHeader(header, st, true) : st.facts.variable(w.name);
    }
    case 'ssl':
      return st.facts.ssl?.(w.name, 'variable') ?? '';
    case 'backref':
      return st.captures[w.n] ?? '';
    case 'concat':
      return w.parts.map((p) => wordValue(p, st)).join('');
    case 'func':
      return callFunction(w.name, wordValue(w.arg, st), st);
  }
}

function callFunction(name: string, arg: string, st: EvalState): string {
  const f = st.facts;
  switch (name) {
    case 'req':
    case 'http':
      return readHeader(arg, st, true);
    case 'req_novary':
      return readHeader(arg, st, false);
    case 'reqenv':
      return f.env(arg) ?? '';
    case 'osenv':
      return f.osenv(arg) ?? '';
    case 'env':
      // mod's env: the request's notes, then its environment, then the server's.
      return f.env(arg) ?? f.osenv(arg) ?? '';
    case 'tolower':
      return asciiLower(arg);
    case 'toupper':
      return asciiUpper(arg);
    case 'escape':
      return escapePath(arg);
    case 'unescape':
      return unescapeKeepSlashes(arg) ?? '';
    case 'base64':
      return Buffer.from(arg, 'latin1').toString('base64');
    case 'unbase64':
      return Buffer.from(arg, 'base64').toString('latin1');
    case 'sha1':
    case 'md5':
      return createHash(name).update(arg, 'latin1').digest('hex');
    case 'file':
      return f.readFile(arg) ?? '';
    case 'filesize':
      return String(f.readFile(arg)?.length ?? 0);
    case 'resp':
      return f.responseHeader?.(arg) ?? '';
    case 'SSL':
      return f.ssl?.(arg, 'function') ?? '';
    default:
      // note is empty here; ldap is not emulated.
      return '';
  }
}

/**
 * unescape_func's `ap_unescape_url_keep2f(s, 0)`: each `%XX` becomes its byte (one character per
 * byte: `%C3%A9` is two), `%2F` stays as written; a malformed escape or `%00` fails, and the
 * function's value is then empty (the `env-bytes` conformance case).
 */
function unescapeKeepSlashes(s: string): string | undefined {
  if (!s.includes('%')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    const code = Number.parseInt(hex, 16);
    if (code === 0) return undefined;
    out += code === 0x2f ? s.slice(i, i + 3) : String.fromCharCode(code);
    i += 2;
  }
  return out;
}

/** ap_escape_uri: what is not safe in a path becomes %XX. */
function escapePath(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'latin1')) {
    const ch = String.fromCharCode(b);
    out += /[A-Za-z0-9$\-_.+!*'(),:@&=/~]/.test(ch) ? ch : `%${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function integer(s: string): number {
  const n = Number.parseInt(s, 10);
  return Number.isNaN(n) ? 0 : n;
}

function compare(op: CompareOp, a: string, b: string): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '-eq':
      return integer(a) === integer(b);
    case '-ne':
      return integer(a) !== integer(b);
    case '-lt':
      return integer(a) < integer(b);
    case '-le':
      return integer(a) <= integer(b);
    case '-gt':
      return integer(a) > integer(b);
    case '-ge':
      return integer(a) >= integer(b);
  }
}

/** Compiled apr_fnmatch tests by flags and pattern: a literal pattern is compiled once, not per request. */
const fnmatchTests = new Map<string, (subject: string) => boolean>();
const MAX_FNMATCH_TESTS = 512;

/** apr_fnmatch: no flags (-strmatch), APR_FNM_CASE_BLIND (-strcmatch) or APR_FNM_PATHNAME (-fnmatch). */
function fnmatch(pattern: string, subject: string, icase: boolean, pathname = false): boolean {
  const key = `${icase ? 'i' : '-'}${pathname ? 'p' : '-'}${pattern}`;
  let test = fnmatchTests.get(key);
  if (!test) {
    if (fnmatchTests.size >= MAX_FNMATCH_TESTS) fnmatchTests.clear();
    test = compileFnmatch(pattern, { caseBlind: icase, pathname });
    fnmatchTests.set(key, test);
  }
  return test(subject);
}

function ipMatch(addr: string, spec: string): boolean {
  const [net, bitsText] = spec.split('/');
  const toInt = (ip: string): number | undefined => {
    const p = ip.split('.');
    if (p.length < 1 || p.length > 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
    while (p.length < 4) p.push('0');
    return p.reduce((acc, x) => acc * 256 + Number(x), 0);
  };
  const a = toInt(addr);
  const n = toInt(net ?? '');
  if (a === undefined || n === undefined) return addr === net;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) >>> 0 === (n & mask) >>> 0;
}

/**
 * Evaluates `!`, `&&` and `||` with an explicit stack (left to right, short-circuit, as
 * `ap_expr_eval_cond`): a line may hold thousands of them nested, deeper than our call stack.
 */
function evaluate(root: Expr, st: EvalState): boolean {
  type Pending = { op: 'and' | 'or'; b: Expr; negate: boolean; right: boolean };
  const stack: Pending[] = [];
  let e = root;
  let negate = false;
  for (;;) {
    while (e.kind === 'not' || e.kind === 'and' || e.kind === 'or') {
      if (e.kind === 'not') {
        negate = !negate;
        e = e.e;
      } else {
        stack.push({ op: e.kind, b: e.b, negate, right: false });
        negate = false;
        e = e.a;
      }
    }
    let v = evaluateLeaf(e, st) !== negate;
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return v;
      if (!top.right && (top.op === 'and' ? v : !v)) {
        // The left side did not decide it: the right side does.
        top.right = true;
        e = top.b;
        negate = false;
        break;
      }
      stack.pop();
      v = v !== top.negate;
    }
  }
}

function evaluateLeaf(e: Expr, st: EvalState): boolean {
  switch (e.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
    case 'and':
    case 'or':
      return evaluate(e, st);
    case 'compare':
      return compare(e.op, wordValue(e.a, st), wordValue(e.b, st));
    case 'in': {
      const v = wordValue(e.a, st);
      return e.list.some((w) => wordValue(w, st) === v);
    }
    case 'regex': {
      const m = e.re.exec(wordValue(e.a, st));
      if (m) st.captures = m;
      return e.negate ? !m : Boolean(m);
    }
    case 'unary': {
      const v = wordValue(e.a, st);
      switch (e.op) {
        case 'n':
          return v !== '';
        case 'z':
          return v === '';
        case 'T':
          return !['', '0', 'off', 'false', 'no'].includes(v.toLowerCase());
        case 'R':
          return ipMatch(st.facts.remoteAddr, v);
        default:
          return st.facts.fileTest(e.op, v);
      }
    }
    case 'binary': {
      const a = wordValue(e.a, st);
      const b = wordValue(e.b, st);
      if (e.op === 'ipmatch') return ipMatch(a, b);
      if (e.op === 'strmatch') return fnmatch(b, a, false);
      if (e.op === 'fnmatch') return fnmatch(b, a, false, true);
      return fnmatch(b, a, true);
    }
  }
}

/**
 * Evaluates a parsed condition for one request; the request headers it read (in order, as
 * ap_expr adds them to the response's Vary) go into `vary` when given.
 */
export function evaluateApExpr(e: Expr, facts: ExprFacts, vary?: string[]): boolean {
  const r = evaluateApExprFully(e, facts);
  vary?.push(...r.vary);
  return r.result;
}

/**
 * A string expression's value (ap_expr_str_exec). Unlike a condition's, the request headers
 * it reads are not added to Vary: ap_expr_exec_ctx merges them only for a boolean result.
 */
export function evaluateApExprString(w: Word, facts: ExprFacts): string {
  return wordValue(w, { facts, captures: [], vary: [] });
}

/** The result with the last regex match's groups (`ap_expr_exec_re`, for mod_rewrite's %N) and the headers read. */
export function evaluateApExprFully(e: Expr, facts: ExprFacts): { result: boolean; captures: (string | undefined)[]; vary: string[] } {
  const st: EvalState = { facts, captures: [], vary: [] };
  const result = evaluate(e, st);
  return { result, captures: st.captures, vary: st.vary };
}
