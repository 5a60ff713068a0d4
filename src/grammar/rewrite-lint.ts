/**
 * `check`'s advice on per-directory mod_rewrite rules the host accepts but that cannot do what
 * they look like they do (warnings; Apache says nothing about them). Pure: the nodes of one
 * `.htaccess` file and the RewriteEngine state its directory inherits.
 */
import type { Diagnostic } from '../vocabulary/diagnostic.js';
import { catalogEntry, type ErrorCode } from '../vocabulary/error-catalog.js';
import { compileApacheRegex } from './regex.js';
import type { ConfigNode, DirectiveNode, SectionNode } from './syntax-tree.js';
import { rewriteArgLine, rewriteFlagField } from './rewrite-args.js';
import { splitWords } from './words.js';

/** Sections whose contents apply to the whole directory (they only decide whether lines count). */
const CONDITIONALS = new Set(['<ifmodule', '<ifdefine', '<iffile', '<ifdirective', '<ifsection', '<ifversion']);

/** Subjects a per-directory pattern that matches everything matches (the directory itself is ''). */
const PROBES = ['', 'x', 'index.php', 'a/b/c.html', '.htaccess', 'a b%?'];

export interface RewriteLintResult {
  diagnostics: Diagnostic[];
  /** RewriteEngine as this directory leaves it to its subdirectories (`state_set` merge). */
  engine: boolean | undefined;
}

interface RuleFacts {
  node: DirectiveNode;
  pattern: string;
  negate: boolean;
  flags: Map<string, string>;
  conditions: number;
}

function diagnostic(code: ErrorCode, node: ConfigNode, message: string, hint?: string): Diagnostic {
  const entry = catalogEntry(code);
  const h = hint ?? entry.hint;
  return { code, severity: entry.severity, file: node.file, line: node.line, column: node.column, message, ...(h !== undefined ? { hint: h } : {}) };
}

/**
 * Sections whose lines core gives a path that is no directory (cmd->path): `<If>`, `<ElseIf>`,
 * `<Else>` ("*If") and `<Files>`, `<FilesMatch>` (their pattern). mod_rewrite's per-dir prefix
 * there is that path and a '/'.
 */
const PREFIX_SECTIONS = new Set(['<if', '<elseif', '<else', '<files', '<filesmatch']);

/**
 * The directives that apply to the directory as a whole, in file order, those nested in other
 * sections, and, for those, the innermost `<If>`- or `<Files>`-like section holding them (no recursion).
 */
function directoryLevelDirectives(nodes: readonly ConfigNode[]): { level: DirectiveNode[]; nested: DirectiveNode[]; prefixSection: Map<DirectiveNode, SectionNode> } {
  const level: DirectiveNode[] = [];
  const nested: DirectiveNode[] = [];
  const prefixSection = new Map<DirectiveNode, SectionNode>();
  const stack: { list: readonly ConfigNode[]; at: number; levelWide: boolean; section: SectionNode | undefined }[] = [{ list: nodes, at: 0, levelWide: true, section: undefined }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.at >= top.list.length) {
      stack.pop();
      continue;
    }
    const node = top.list[top.at++]!;
    if (node.kind === 'directive') {
      (top.levelWide ? level : nested).push(node);
      if (top.section) prefixSection.set(node, top.section);
    } else if (node.active) {
      stack.push({ list: node.children, at: 0, levelWide: top.levelWide && CONDITIONALS.has(node.key), section: PREFIX_SECTIONS.has(node.key) ? node : top.section });
    }
  }
  return { level, nested, prefixSection };
}

/** How a section is named in a message, and the per-dir prefix its rules get. */
function sectionPrefix(section: SectionNode): { name: string; prefix: string } {
  if (section.key === '<files' || section.key === '<filesmatch') {
    const words = splitWords(section.rawArgs.slice(0, Math.max(0, section.rawArgs.lastIndexOf('>')))).map((w) => w.value);
    const pattern = section.key === '<files' && words[0] === '~' ? (words[1] ?? '') : (words[0] ?? '');
    return { name: section.key === '<files' ? '<Files>' : '<FilesMatch>', prefix: `${pattern}/` };
  }
  return { name: section.key === '<if' ? '<If>' : section.key === '<elseif' ? '<ElseIf>' : '<Else>', prefix: '*If/' };
}

/** A substitution that is a path relative to the per-dir prefix (not '-', '/…', a URL or an expansion that may give one). */
const relativeSubstitution = (s: string): boolean => s !== '-' && !/^(?:\/|[$%]|[A-Za-z][A-Za-z0-9+.-]*:)/.test(s);

function ruleFacts(node: DirectiveNode, conditions: number): RuleFacts | undefined {
  const line = rewriteArgLine(node.rawArgs);
  if (!line) return undefined;
  const flags = new Map<string, string>();
  if (line.a3 !== undefined) {
    const parsed = rewriteFlagField(line.a3);
    if ('error' in parsed) return undefined;
    for (const [k, v] of parsed.pairs) flags.set(k.toLowerCase(), v);
  }
  const negate = line.a1.startsWith('!');
  return { node, pattern: negate ? line.a1.slice(1) : line.a1, negate, flags, conditions };
}

const has = (f: Map<string, string>, ...names: string[]): boolean => names.some((n) => f.has(n));

/** [R] with a redirect status ([R=4xx] is a status rule, which ends the round by itself). */
function redirects(f: Map<string, string>): boolean {
  const r = f.get('r') ?? f.get('redirect');
  if (r === undefined) return false;
  const v = r.toLowerCase();
  if (v === '' || v === 'temp' || v === 'permanent' || v === 'seeother') return true;
  const status = Number.parseInt(v, 10);
  return status >= 300 && status < 400;
}

/** Flags after which apply_rewrite_list runs no further rule of this round. */
function endsRound(f: Map<string, string>): boolean {
  if (has(f, 'l', 'last', 'end', 'f', 'forbidden', 'g', 'gone')) return true;
  const r = f.get('r') ?? f.get('redirect');
  return r !== undefined && /^\d/.test(r) && !redirects(f);
}

/** Lints the rewrite rules of one `.htaccess` file. */
export function lintRewrite(nodes: readonly ConfigNode[], inheritedEngine: boolean | undefined): RewriteLintResult {
  const diagnostics: Diagnostic[] = [];
  const { level, nested, prefixSection } = directoryLevelDirectives(nodes);
  let engine: boolean | undefined;
  const rules: RuleFacts[] = [];
  let pendingConditions = 0;
  for (const node of level) {
    if (node.key === 'rewriteengine') engine = (node.args[0]?.value ?? '').toLowerCase() === 'on';
    else if (node.key === 'rewritecond') pendingConditions++;
    else if (node.key === 'rewriterule') {
      const facts = ruleFacts(node, pendingConditions);
      pendingConditions = 0;
      if (facts) rules.push(facts);
    }
  }
  const effective = engine ?? inheritedEngine;

  // A per-directory pattern is matched against the path below this directory: no leading '/'
  // (an optional one, "^/?", is the usual way to write rules for both contexts).
  // Inside an <If> or <Files> the pattern sees the whole file system path instead (HT224 below).
  for (const node of [...level, ...nested]) {
    if (node.key !== 'rewriterule' || prefixSection.has(node)) continue;
    const facts = ruleFacts(node, 0);
    if (!facts || facts.negate || !/^\^(?:\/|\\\/)(?![?*]|\{0)/.test(facts.pattern)) continue;
    diagnostics.push(
      diagnostic(
        'HT220',
        node,
        `RewriteRule pattern '${facts.pattern}' never matches here: in .htaccess the pattern is matched against the path below this directory, which has no leading slash`,
        `Drop the leading slash (e.g. '^${facts.pattern.replace(/^\^\\?\//, '')}'), or test %{REQUEST_URI} (which has it) in a RewriteCond.`,
      ),
    );
  }

  // Inside an <If>, mod_rewrite's per-dir prefix is "*If/" (core's ifsection sets cmd->path to
  // "*If"), inside a <Files> its pattern and '/' (filesection): nothing is stripped from the
  // file system path the pattern sees, and a relative substitution is put under that prefix,
  // which hook_fixup answers with 400 (and [R] sends the browser to /*If/… unless a
  // RewriteBase of the section replaces the prefix). The file's RewriteBase reaches the
  // section only under RewriteOptions MergeBase.
  const mergedBase = level.some((n) => n.key === 'rewritebase') && level.some((n) => n.key === 'rewriteoptions' && n.args.some((a) => a.value.toLowerCase() === 'mergebase'));
  for (const node of nested) {
    const section = prefixSection.get(node);
    if (node.key !== 'rewriterule' || !section) continue;
    const facts = ruleFacts(node, 0);
    const line = rewriteArgLine(node.rawArgs);
    if (!facts || !line) continue;
    const { name, prefix } = sectionPrefix(section);
    if (!facts.negate && /^\^(?:[A-Za-z0-9_~-]|\\\.|\$)/.test(facts.pattern)) {
      diagnostics.push(
        diagnostic(
          'HT224',
          node,
          `RewriteRule pattern '${facts.pattern}' never matches inside ${name}: there the pattern is matched against the whole file system path, which starts with '/', not against the path below this directory`,
          `Drop the ^ anchor (e.g. '${facts.pattern.slice(1)}'), or move the rule out of the ${name} and put its condition in a RewriteCond${name.startsWith('<F') ? ' (RewriteCond %{REQUEST_FILENAME} …)' : ' (RewriteCond expr "…")'}.`,
        ),
      );
      continue;
    }
    if (!relativeSubstitution(line.a2)) continue;
    const redirect = redirects(facts.flags);
    if (redirect && (mergedBase || section.children.some((c) => c.kind === 'directive' && c.key === 'rewritebase'))) continue;
    diagnostics.push(
      diagnostic(
        'HT224',
        node,
        redirect
          ? `RewriteRule inside ${name} redirects to /${prefix}${line.a2}: a relative substitution there is put under the section's prefix "${prefix}", not this directory`
          : `RewriteRule inside ${name} answers 400 Bad Request: a relative substitution there is put under the section's prefix "${prefix}", which is no path`,
        `Write the substitution from the site's root (e.g. '/dir/${line.a2}')${redirect ? `, or add a RewriteBase inside the ${name}` : ''}.`,
      ),
    );
  }

  if (rules.length > 0 && effective !== true) {
    const first = rules[0]!.node;
    diagnostics.push(
      diagnostic(
        'HT221',
        first,
        engine === false
          ? `RewriteRule has no effect: RewriteEngine is Off for this directory`
          : `RewriteRule has no effect: RewriteEngine On is set neither in this file nor in a parent directory's .htaccess`,
        engine === false ? 'Remove "RewriteEngine Off" (the last RewriteEngine line of the file counts), or the rules.' : 'Add "RewriteEngine On" to this file.',
      ),
    );
  }

  // [R] without [L]: the rules after it run on the redirect's full URL (fully_qualify_uri).
  for (let i = 0; i < rules.length - 1; i++) {
    const f = rules[i]!.flags;
    if (!redirects(f) || endsRound(f) || has(f, 'c', 'chain')) continue;
    diagnostics.push(
      diagnostic(
        'HT222',
        rules[i]!.node,
        `RewriteRule with [R] but without [L]: the rules after it still run, on the redirect's full URL (http://host/...), and can change it or turn it into an internal redirect`,
        'Add L to its flags: [R=301,L].',
      ),
    );
  }

  // Rules after one that always matches and always stops the round are never reached.
  let reachableBySkip = false;
  for (let i = 0; i < rules.length - 1; i++) {
    const rule = rules[i]!;
    if (has(rule.flags, 's', 'skip')) reachableBySkip = true;
    const chained = i > 0 && has(rules[i - 1]!.flags, 'c', 'chain');
    if (reachableBySkip || chained || rule.conditions > 0 || rule.negate || has(rule.flags, 'c', 'chain', 'n', 'next') || !endsRound(rule.flags)) continue;
    const regex = compileApacheRegex(rule.pattern, has(rule.flags, 'nc', 'nocase'));
    if (!regex.ok || !regex.regex || !PROBES.every((p) => regex.regex!.exec(p) !== null)) continue;
    const next = rules[i + 1]!.node;
    diagnostics.push(
      diagnostic(
        'HT223',
        next,
        `RewriteRule is never reached: the rule on line ${rule.node.line} matches every path, has no RewriteCond and ends the rules with its flags`,
        `Move this rule above line ${rule.node.line}, or give that rule a RewriteCond so that it does not catch everything.`,
      ),
    );
    break;
  }

  return { diagnostics, engine: effective };
}
