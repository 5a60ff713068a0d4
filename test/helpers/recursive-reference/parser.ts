/**
 * TEST REFERENCE, not used by htsandbox: the recursive parser (src/grammar/parser.ts) as it was
 * before its recursion became explicit stacks (issue 14). The fuzz tests check that both
 * give the same tree and diagnostics wherever this one does not run out of stack.
 */
/**
 * Builds the syntax tree of an Apache configuration file the way `ap_build_config`
 * (server/config.c) does: one logical line at a time, sections nested with a stack,
 * conditional sections (`<IfModule>` …) evaluated while reading. Pure: no file system;
 * `Include` is resolved through a callback the adapter supplies.
 *
 * Apache stops at the first error; we collect every one (so `check` can show them all)
 * and record which one Apache would have reported first.
 */
import type { Diagnostic } from '../../../src/vocabulary/diagnostic.js';
import type { ErrorCode } from '../../../src/vocabulary/error-catalog.js';
import { catalogEntry } from '../../../src/vocabulary/error-catalog.js';
import type { HostFacts } from '../../../src/grammar/conditions.js';
import { evaluateCondition, isConditionalSection } from '../../../src/grammar/conditional-sections.js';
import {
  HTACCESS_MAX_LINE,
  SERVER_CONFIG_MAX_LINE,
  positionOf,
  readLogicalLines,
  type LogicalLine,
} from '../../../src/grammar/line-reader.js';
import { canonicalDirectiveName } from '../../../src/grammar/directive-registry.js';
import type { ArgWord, ConfigNode, SectionNode } from '../../../src/grammar/syntax-tree.js';
import { getWordConf } from '../../../src/grammar/words.js';

/** Where the file is read: `.htaccess` files get the short line limit and no Include. */
export type ConfigFileKind = 'htaccess' | 'server';

/** The text of an included file, or why it could not be had. */
export type IncludeResult = { files: { file: string; text: string }[] } | { error: string };

export interface ParseOptions {
  file: string;
  kind: ConfigFileKind;
  host: HostFacts;
  /** Resolves `Include`/`IncludeOptional` in server config (adapter-supplied). */
  include?: (pattern: string, optional: boolean, from: { file: string; line: number }) => IncludeResult;
  /** Defines added by `Define` while reading (shared across included files). */
  defines?: Map<string, string>;
  /** Called for each `LoadModule` in server config, so later `<IfModule>` lines see it. */
  onLoadModule?: (symbol: string) => void;
}

export interface ParseResult {
  nodes: ConfigNode[];
  /** Build-phase diagnostics, in file order. */
  diagnostics: Diagnostic[];
}

function diag(
  code: ErrorCode,
  file: string,
  line: number,
  column: number,
  message: string,
  hint?: string,
): Diagnostic {
  const entry = catalogEntry(code);
  const d: Diagnostic = { code, severity: entry.severity, file, line, column, message };
  const h = hint ?? entry.hint;
  if (h !== undefined) d.hint = h;
  return d;
}

/** Replaces `${NAME}` as `ap_resolve_env` does; unknown names stay literal. */
function resolveEnv(
  text: string,
  defines: Map<string, string>,
  host: HostFacts,
  onUndefined: (name: string) => void,
): string {
  if (text.indexOf('${') === -1) return text;
  return text.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
    const v = defines.get(name) ?? host.defineValue(name);
    if (v !== undefined) return v;
    if (!name.includes(':')) onUndefined(name);
    return whole;
  });
}

class Builder {
  private readonly diagnostics: Diagnostic[] = [];
  private index = 0;
  private readonly defines: Map<string, string>;

  constructor(
    private readonly lines: LogicalLine[],
    private readonly opts: ParseOptions,
  ) {
    this.defines = opts.defines ?? new Map();
  }

  result(): ParseResult {
    const nodes = this.buildSequence(null);
    return { nodes, diagnostics: this.diagnostics };
  }

  private error(code: ErrorCode, line: LogicalLine, offset: number, message: string, hint?: string): void {
    const p = positionOf(line, offset);
    this.diagnostics.push(diag(code, this.opts.file, p.line, p.column, message, hint));
  }

  private argWords(line: LogicalLine, text: string, from: number, stripBracket: boolean): ArgWord[] {
    let body = text.slice(from);
    if (stripBracket) {
      const gt = body.lastIndexOf('>');
      if (gt !== -1) body = body.slice(0, gt);
    }
    const out: ArgWord[] = [];
    let pos = 0;
    for (;;) {
      const w = getWordConf(body, pos);
      if (w.value === '' && !w.quoted && w.next >= body.length) break;
      const p = positionOf(line, from + w.start);
      out.push({ value: w.value, line: p.line, column: p.column, quoted: w.quoted });
      if (w.next <= pos) break;
      pos = w.next;
      if (pos >= body.length) break;
    }
    return out;
  }

  /**
   * Reads nodes until `</endTag>` closes the enclosing conditional section (or EOF).
   * `endTag` null means the top level of the file.
   */
  private buildSequence(endTag: string | null): ConfigNode[] {
    const top: ConfigNode[] = [];
    const stack: SectionNode[] = [];
    const push = (node: ConfigNode): void => {
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else top.push(node);
    };
    while (this.index < this.lines.length) {
      const line = this.lines[this.index++]!;
      const raw = line.text;
      if (raw === '' || raw.startsWith('#')) continue;
      // `ap_build_cont_config` ends a true conditional section at its exact close line.
      if (endTag !== null && stack.length === 0 && raw.toLowerCase() === `</${endTag.toLowerCase()}>`) {
        return top;
      }
      const text = resolveEnv(raw, this.defines, this.opts.host, (name) =>
        this.error('HT206', line, 0, `Config variable \${${name}} is not defined`),
      );
      const nameWord = getWordConf(text, 0);
      let token = nameWord.value;
      let argsFrom = nameWord.next;
      const pos = positionOf(line, nameWord.start);
      if (token.startsWith('</')) {
        this.closeSection(token, text.slice(argsFrom), line, stack);
        continue;
      }
      if (token.endsWith('>')) token = token.slice(0, -1);
      let rawArgs = text.slice(argsFrom);
      const isSection = token.startsWith('<');
      if (isSection && rawArgs === '') rawArgs = '>';
      const bare = isSection ? token.slice(1) : token;
      const key = (isSection ? '<' : '') + bare.toLowerCase();
      const canonical = canonicalDirectiveName(key);
      const name = canonical !== undefined ? (isSection ? canonical.slice(1) : canonical) : bare;
      const base = {
        name,
        key,
        rawArgs,
        file: this.opts.file,
        line: pos.line,
        column: pos.column,
      };
      if (isSection) {
        const section: SectionNode = {
          ...base,
          kind: 'section',
          args: this.argWords(line, text, argsFrom, true),
          children: [],
          active: true,
        };
        push(section);
        if (isConditionalSection(key)) {
          const verdict = evaluateCondition(key, name, rawArgs, this.opts.host, this.defines);
          if (verdict.error !== undefined) {
            this.error('HT105', line, nameWord.start, verdict.error);
          }
          if (verdict.value) {
            section.children = this.buildSequence(name);
            section.closeLine = this.lines[this.index - 1]?.line;
          } else {
            section.active = false;
            this.soak(name, section);
          }
        } else {
          stack.push(section);
        }
        continue;
      }
      const node: ConfigNode = {
        ...base,
        kind: 'directive',
        args: this.argWords(line, text, argsFrom, false),
      };
      push(node);
      if (this.opts.kind === 'server') this.executeOnRead(node, line);
    }
    if (endTag === null && stack.length > 0) {
      // Apache joins one "was not closed" line per open section, innermost first.
      const message = [...stack]
        .reverse()
        .map((s) => `${this.opts.file}:${s.line}: <${s.name}> was not closed.`)
        .join('\n');
      const innermost = stack[stack.length - 1]!;
      this.diagnostics.push(diag('HT103', this.opts.file, innermost.line, innermost.column, message));
    }
    return top;
  }

  private closeSection(token: string, rest: string, line: LogicalLine, stack: SectionNode[]): void {
    const parent = stack[stack.length - 1];
    if (!parent) {
      this.error('HT103', line, 0, `${token} without matching <${token.slice(2)} section`);
      return;
    }
    if (!token.endsWith('>') || rest !== '') {
      this.error('HT103', line, 0, `${token.endsWith('>') ? token.slice(0, -1) : token}> directive missing closing '>'`);
      stack.pop();
      parent.closeLine = line.line;
      return;
    }
    const closing = token.slice(2, -1);
    if (closing.toLowerCase() !== parent.name.toLowerCase()) {
      this.error('HT103', line, 0, `Expected </${parent.name}> but saw </${closing}>`);
    }
    stack.pop();
    parent.closeLine = line.line;
  }

  /** `ap_soak_end_container`: skips a false conditional's body, balancing only `<…>` lines. */
  private soak(name: string, section: SectionNode): boolean {
    while (this.index < this.lines.length) {
      const line = this.lines[this.index++]!;
      const w = getWordConf(line.text, 0);
      const token = w.value;
      if (!token.startsWith('<')) continue;
      if (token.startsWith('</')) {
        const closing = token.slice(2, -1);
        if (closing.toLowerCase() !== name.toLowerCase()) {
          this.error('HT103', line, 0, `Expected </${name}> but saw </${closing}>`);
        }
        section.closeLine = line.line;
        return true;
      }
      let inner = token.slice(1);
      if (w.next >= line.text.length && inner.endsWith('>')) inner = inner.slice(0, -1);
      if (!this.soak(inner, section)) return false;
    }
    const last = this.lines[this.lines.length - 1];
    this.diagnostics.push(
      diag('HT103', this.opts.file, last?.endLine ?? section.line, 1, `Expected </${name}> before end of configuration`),
    );
    return false;
  }

  /** Server-config directives Apache runs while reading: Define, UnDefine, Include. */
  private executeOnRead(node: ConfigNode, line: LogicalLine): void {
    const key = node.key;
    if (key === 'loadmodule') {
      const symbol = node.args[0]?.value;
      if (symbol) this.opts.onLoadModule?.(symbol);
    } else if (key === 'define') {
      const [n, v] = node.args;
      if (n) this.defines.set(n.value, v?.value ?? '');
    } else if (key === 'undefine') {
      const [n] = node.args;
      if (n) this.defines.delete(n.value);
    } else if ((key === 'include' || key === 'includeoptional') && this.opts.include) {
      const pattern = node.args[0]?.value;
      if (pattern === undefined) return;
      const got = this.opts.include(pattern, key === 'includeoptional', { file: node.file, line: node.line });
      if ('error' in got) {
        this.error('HT301', line, 0, got.error);
        return;
      }
      const included: ConfigNode[] = [];
      for (const f of got.files) {
        const sub = parseConfig(f.text, { ...this.opts, file: f.file, defines: this.defines });
        included.push(...sub.nodes);
        for (const d of sub.diagnostics) this.diagnostics.push(d);
      }
      if (node.kind === 'directive') node.included = included;
    }
  }
}

const END_OF_FILE_MESSAGE = /was not closed\.$|before end of configuration$/;

/** Parses one file's text (latin1: one char per byte). Never throws on user input. */
export function parseConfig(text: string, opts: ParseOptions): ParseResult {
  const max = opts.kind === 'htaccess' ? HTACCESS_MAX_LINE : SERVER_CONFIG_MAX_LINE;
  const { lines, tooLong } = readLogicalLines(text, max);
  const builder = new Builder(lines, opts);
  const result = builder.result();
  if (tooLong) {
    // Apache stops reading at that line, so it never reaches the end-of-file checks.
    result.diagnostics = result.diagnostics.filter((d) => !END_OF_FILE_MESSAGE.test(d.message));
    result.diagnostics.push(
      diag('HT104', opts.file, tooLong.line, 1, `Error reading ${opts.file} at line ${tooLong.line}: Line too long`),
    );
  }
  return result;
}
