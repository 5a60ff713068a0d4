/**
 * Builds the syntax tree of an Apache configuration file the way `ap_build_config`
 * (server/config.c) does: one logical line at a time, sections nested with a stack,
 * conditional sections (`<IfModule>` …) evaluated while reading. Pure: no file system;
 * `Include` is resolved through a callback the adapter supplies.
 *
 * Apache stops at the first error; we collect every one (so `check` can show them all)
 * and record which one Apache would have reported first.
 */
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import type { ErrorCode } from '../vocabulary/error-catalog.js';
import { catalogEntry } from '../vocabulary/error-catalog.js';
import type { HostFacts } from './conditions.js';
import { evaluateCondition, isConditionalSection } from './conditional-sections.js';
import { HTACCESS_MAX_LINE, SERVER_CONFIG_MAX_LINE, positionOf, readLogicalLinesSteps, type LogicalLine } from './line-reader.js';
import { canonicalDirectiveName } from './directive-registry.js';
import type { ArgWord, ConfigNode, SectionNode } from './syntax-tree.js';
import { getWordConf } from './words.js';

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

function diag(code: ErrorCode, file: string, line: number, column: number, message: string, hint?: string): Diagnostic {
  const entry = catalogEntry(code);
  const d: Diagnostic = { code, severity: entry.severity, file, line, column, message };
  const h = hint ?? entry.hint;
  if (h !== undefined) d.hint = h;
  return d;
}

/** Replaces `${NAME}` as `ap_resolve_env` does; unknown names stay literal. */
function resolveEnv(text: string, defines: Map<string, string>, host: HostFacts, onUndefined: (name: string) => void): string {
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

  /** The build, pausing (yielding) every SLICE lines so a caller may let others run. */
  *steps(): Generator<void, ParseResult> {
    const nodes = yield* this.buildSequence();
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
   * Reads the whole file into nodes. A true conditional section is read as its own sequence
   * (`ap_build_cont_config`): it ends at its exact close line, and the sections opened inside
   * it have their own stack. Kept as an explicit stack of such sequences, not recursion, so
   * that thousands of nested `<IfModule>` cannot exhaust the call stack.
   */
  private *buildSequence(): Generator<void, ConfigNode[]> {
    interface Sequence {
      /** Close tag of the conditional section being read; null at the top of the file. */
      endTag: string | null;
      /** Lower-cased `</endTag>` line that ends it. */
      endLine: string;
      conditional: SectionNode | undefined;
      top: ConfigNode[];
      /** Non-conditional sections open inside this sequence. */
      stack: SectionNode[];
    }
    const root: Sequence = { endTag: null, endLine: '', conditional: undefined, top: [], stack: [] };
    const sequences: Sequence[] = [root];
    let seq = root;
    const push = (node: ConfigNode): void => {
      const parent = seq.stack[seq.stack.length - 1];
      if (parent) parent.children.push(node);
      else seq.top.push(node);
    };
    let sinceYield = 0;
    while (this.index < this.lines.length) {
      if (++sinceYield === PARSE_SLICE) {
        sinceYield = 0;
        yield;
      }
      const line = this.lines[this.index++]!;
      const raw = line.text;
      if (raw === '' || raw.startsWith('#')) continue;
      // `ap_build_cont_config` ends a true conditional section at its exact close line.
      if (seq.endTag !== null && seq.stack.length === 0 && raw.toLowerCase() === seq.endLine) {
        seq.conditional!.closeLine = line.line;
        sequences.pop();
        seq = sequences[sequences.length - 1]!;
        continue;
      }
      const text = resolveEnv(raw, this.defines, this.opts.host, (name) => this.error('HT206', line, 0, `Config variable \${${name}} is not defined`));
      const nameWord = getWordConf(text, 0);
      let token = nameWord.value;
      const argsFrom = nameWord.next;
      const pos = positionOf(line, nameWord.start);
      if (token.startsWith('</')) {
        this.closeSection(token, text.slice(argsFrom), line, seq.stack);
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
            if (sequences.length === CONDITIONAL_DEPTH_APACHE_SURVIVES + 1) {
              this.error(
                'HT111',
                line,
                nameWord.start,
                `<${name}> nested ${sequences.length} levels deep in true conditional sections: Apache's process runs out of stack reading this file and crashes (segmentation fault), so the client gets no answer`,
              );
            }
            seq = { endTag: name, endLine: `</${name.toLowerCase()}>`, conditional: section, top: section.children, stack: [] };
            sequences.push(seq);
          } else {
            section.active = false;
            this.soak(name, section);
          }
        } else {
          seq.stack.push(section);
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
    // End of file inside true conditional sections: each ends at the last line read.
    for (let i = sequences.length - 1; i > 0; i--) sequences[i]!.conditional!.closeLine = this.lines[this.index - 1]?.line;
    if (root.stack.length > 0) {
      // Apache joins one "was not closed" line per open section, innermost first.
      const message = [...root.stack]
        .reverse()
        .map((s) => `${this.opts.file}:${s.line}: <${s.name}> was not closed.`)
        .join('\n');
      const innermost = root.stack[root.stack.length - 1]!;
      this.diagnostics.push(diag('HT103', this.opts.file, innermost.line, innermost.column, message));
    }
    return root.top;
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

  /**
   * `ap_soak_end_container`: skips a false conditional's body, balancing only `<…>` lines.
   * The sections opened inside are a stack of names (Apache recurses; a deep file must not
   * exhaust ours).
   */
  private soak(name: string, section: SectionNode): boolean {
    const open: string[] = [name];
    while (this.index < this.lines.length) {
      const line = this.lines[this.index++]!;
      const w = getWordConf(line.text, 0);
      const token = w.value;
      if (!token.startsWith('<')) continue;
      if (token.startsWith('</')) {
        const expected = open.pop()!;
        const closing = token.slice(2, -1);
        if (closing.toLowerCase() !== expected.toLowerCase()) {
          this.error('HT103', line, 0, `Expected </${expected}> but saw </${closing}>`);
        }
        section.closeLine = line.line;
        if (open.length === 0) return true;
        continue;
      }
      let inner = token.slice(1);
      if (w.next >= line.text.length && inner.endsWith('>')) inner = inner.slice(0, -1);
      open.push(inner);
    }
    const last = this.lines[this.lines.length - 1];
    this.diagnostics.push(diag('HT103', this.opts.file, last?.endLine ?? section.line, 1, `Expected </${open[open.length - 1]!}> before end of configuration`));
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

/**
 * How many true conditional sections Apache reads nested before its stack runs out: each is
 * one more `ap_build_cont_config` recursion. Measured on Apache 2.4.71 (8 MiB stacks): the
 * child crashes from 8,475 nested `<IfModule>`, 8,500 `<IfDefine>`/`<IfDirective>` and
 * between 8,200 and 8,400 `<IfVersion>`; 8,200 of each work.
 */
export const CONDITIONAL_DEPTH_APACHE_SURVIVES = 8_200;

/** Lines read between two pauses of a sliced parse. */
const PARSE_SLICE = 128;

const END_OF_FILE_MESSAGE = /was not closed\.$|before end of configuration$/;

/** Parses one file's text (latin1: one char per byte). Never throws on user input. */
export function parseConfig(text: string, opts: ParseOptions): ParseResult {
  const steps = parseConfigSteps(text, opts);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * `parseConfig` in slices: each `next()` reads about PARSE_SLICE lines, so a caller can let
 * other work run between them while a huge file is read; the result is the same.
 */
export function* parseConfigSteps(text: string, opts: ParseOptions): Generator<void, ParseResult> {
  const max = opts.kind === 'htaccess' ? HTACCESS_MAX_LINE : SERVER_CONFIG_MAX_LINE;
  const { lines, tooLong } = yield* readLogicalLinesSteps(text, max);
  const builder = new Builder(lines, opts);
  const result = yield* builder.steps();
  if (tooLong) {
    // Apache stops reading at that line, so it never reaches the end-of-file checks.
    result.diagnostics = result.diagnostics.filter((d) => !END_OF_FILE_MESSAGE.test(d.message));
    result.diagnostics.push(diag('HT104', opts.file, tooLong.line, 1, `Error reading ${opts.file} at line ${tooLong.line}: Line too long`));
  }
  return result;
}
