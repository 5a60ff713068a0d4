/** The syntax tree of an Apache configuration file (`.htaccess` or server config). */

/** One argument word with its position. */
export interface ArgWord {
  value: string;
  line: number;
  column: number;
  quoted: boolean;
}

interface NodeBase {
  /** Directive name as written, without `<` and `>` for sections (e.g. `Files`, `RewriteRule`). */
  name: string;
  /** Lower-cased name, the registry key. */
  key: string;
  /** Arguments split with Apache's tokenizer (sections: without the closing `>`). */
  args: ArgWord[];
  /** The argument text exactly as Apache hands it to RAW_ARGS handlers (sections: with `>`). */
  rawArgs: string;
  file: string;
  line: number;
  column: number;
}

/** A plain directive line. */
export interface DirectiveNode extends NodeBase {
  kind: 'directive';
  /** For `Include` in server config: the nodes of the included files, in order. */
  included?: ConfigNode[];
}

/** A `<Name …>` … `</Name>` section. */
export interface SectionNode extends NodeBase {
  kind: 'section';
  children: ConfigNode[];
  /**
   * For conditional sections (`<IfModule>`, `<IfDefine>`, …): whether the condition held.
   * Apache skips the body of a false one without validating it.
   */
  active: boolean;
  /** Line of the closing tag; undefined when the section was never closed. */
  closeLine?: number;
}

export type ConfigNode = DirectiveNode | SectionNode;

/**
 * Depth-first walk over active nodes, with the chain of enclosing sections (outermost first).
 * `parents` is one array kept up to date as the walk goes: read it at each step, do not keep
 * it. An explicit stack, not recursion, so a file nested thousands deep cannot exhaust ours.
 */
export function* walkActive(nodes: readonly ConfigNode[]): Generator<{ node: ConfigNode; parents: readonly SectionNode[] }> {
  const parents: SectionNode[] = [];
  // One entry per list being walked; `section` is the parent it belongs to (none for the
  // top level and for an Include's nodes, which keep their includer's parents).
  const stack: { nodes: readonly ConfigNode[]; i: number; section: SectionNode | undefined }[] = [{ nodes, i: 0, section: undefined }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.nodes.length) {
      stack.pop();
      if (top.section) parents.pop();
      continue;
    }
    const node = top.nodes[top.i++]!;
    yield { node, parents };
    if (node.kind === 'directive' && node.included) {
      stack.push({ nodes: node.included, i: 0, section: undefined });
    } else if (node.kind === 'section' && node.active) {
      parents.push(node);
      stack.push({ nodes: node.children, i: 0, section: node });
    }
  }
}
