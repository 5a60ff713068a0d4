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

/** Depth-first walk over active nodes, with the chain of enclosing sections. */
export function* walkActive(
  nodes: readonly ConfigNode[],
  parents: readonly SectionNode[] = [],
): Generator<{ node: ConfigNode; parents: readonly SectionNode[] }> {
  for (const node of nodes) {
    yield { node, parents };
    if (node.kind === 'directive' && node.included) {
      yield* walkActive(node.included, parents);
    } else if (node.kind === 'section' && node.active) {
      yield* walkActive(node.children, [...parents, node]);
    }
  }
}
