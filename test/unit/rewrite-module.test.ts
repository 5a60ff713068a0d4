/**
 * mod_rewrite's module (src/modules/rewrite.ts): one compile per line gives `check` Apache's
 * verdict (cmd_rewritecond, cmd_rewriterule, cmd_rewriteoptions, cmd_rewritebase,
 * cmd_rewritemap) and gives `serve` the compiled rule; the level merge is config_perdir_merge.
 */
import { describe, expect, it } from 'vitest';
import { applyLevel, EMPTY_DIR_CONFIG } from '../../src/engine/dir-config.js';
import { lookupDirective } from '../../src/grammar/directive-registry.js';
import { hostFacts } from '../../src/grammar/host-config.js';
import { parseConfig } from '../../src/grammar/parser.js';
import { validateNodes } from '../../src/grammar/validate.js';
import '../../src/modules/index.js';
import type { DirectiveInput } from '../../src/modules/module.js';
import { rewriteModule, type RewriteLine } from '../../src/modules/rewrite.js';

const loaded: ReadonlySet<string> = new Set(['core', 'rewrite', 'mime']);
const host = hostFacts(loaded);
const DIR = '/site/sub';

const nodesOf = (text: string, file = `${DIR}/.htaccess`) => parseConfig(text, { file, kind: 'htaccess', host }).nodes;
const level = (text: string, base = EMPTY_DIR_CONFIG, dir = DIR) => applyLevel(base, nodesOf(text, `${dir}/.htaccess`), (m) => loaded.has(m), 0xffff, dir);
const check = (text: string) =>
  validateNodes(nodesOf(text), { kind: 'htaccess', hasModule: (m: string) => loaded.has(m), override: 0x1f, overrideOpts: 0xffff, overrideList: new Set<string>() } as Parameters<
    typeof validateNodes
  >[1]);

function compile(name: string, rawArgs: string, kind: DirectiveInput['kind'] = 'htaccess') {
  const d = rewriteModule.directives.find((x) => x.name === name)!;
  return d.compile({ words: rawArgs.split(/\s+/).filter(Boolean), rawArgs, kind, overrideOpts: 0xffff, hasModule: (m) => loaded.has(m) });
}

describe('mod_rewrite through its module', () => {
  it('is the registry entry for its six directives, all emulated', () => {
    for (const name of ['RewriteEngine', 'RewriteOptions', 'RewriteBase', 'RewriteCond', 'RewriteRule', 'RewriteMap']) {
      const spec = lookupDirective(name.toLowerCase());
      expect(spec?.modules, name).toEqual(['rewrite']);
      expect(spec?.emulated, name).toBe(true);
      expect(spec?.compile, name).toBe(rewriteModule.directives.find((d) => d.name === name)!.compile);
    }
  });

  it("compiles a rule's pattern, flags and substitution once, for check and serve alike", () => {
    const r = compile('RewriteRule', '^a/(.*)$ b.php?x=$1 [NC,QSA,L]');
    expect(r.findings).toEqual([]);
    const line = r.value as RewriteLine;
    expect(line.kind).toBe('rule');
    const rule = line.kind === 'rule' ? line.rule! : undefined;
    expect(rule?.regex.test('A/q')).toBe(true);
    expect(rule?.flags).toMatchObject({ qsa: true, last: true });
    // The merged rule is the compiled one, with its line and conditions.
    const cfg = level('RewriteEngine On\nRewriteCond %{HTTP_HOST} ^x$ [NC]\nRewriteRule ^a/(.*)$ b.php?x=$1 [NC,QSA,L]\n');
    expect(cfg.rewrite?.rules[0]).toMatchObject({ pattern: '^a/(.*)$', source: { file: `${DIR}/.htaccess`, line: 3 }, conds: [{ input: '%{HTTP_HOST}', nocase: true }] });
  });

  it("gives Apache's refusals to check, and serve leaves those lines out", () => {
    const messages = check('RewriteEngine On\nRewriteRule ^a b [XYZ]\nRewriteCond %{X} y [OR,FOO]\nRewriteOptions Bogus\nRewriteRule ^(a b\nRewriteCond expr "1 -eq"\n').map(
      (d) => d.message,
    );
    expect(messages).toEqual([
      "RewriteRule: unknown flag 'XYZ'",
      "RewriteCond: unknown flag 'FOO'",
      "RewriteOptions: unknown option 'Bogus'",
      "RewriteRule: cannot compile regular expression '^(a'",
      expect.stringMatching(/^RewriteCond: cannot compile expression "1 -eq": /),
    ]);
    expect(compile('RewriteRule', '^(a b').value).toBeUndefined();
    expect(compile('RewriteRule', 'single').findings[0]?.message).toBe("RewriteRule: bad argument line 'single'");
    expect(compile('RewriteRule', '^(a) b [R=299]').findings[0]?.message).toBe("RewriteRule: invalid HTTP response code '299' for flag 'R'");
    expect(compile('RewriteBase', 'rel').findings[0]?.message).toBe('RewriteBase: argument is not a valid URL');
    expect(compile('RewriteBase', '/x', 'server').findings[0]?.message).toBe('RewriteBase: only valid in per-directory config files');
  });

  it("refuses an unknown int: map as cmd_rewritemap does (apache2 -t agrees), and leaves the map to the host's reading", () => {
    expect(compile('RewriteMap', 'm int:nosuch', 'server').findings.map((f) => f.message)).toEqual(['RewriteMap: internal map not found:nosuch']);
    expect(compile('RewriteMap', 'm int:tolower', 'server')).toEqual({ findings: [], value: undefined });
    // `apache2 -t` takes an empty prg: command; only starting the server fails on it.
    expect(compile('RewriteMap', 'm prg:', 'server').findings).toEqual([]);
  });

  it('reads a pattern of one character as a regex: only two or more can name a test (cmd_rewritecond)', () => {
    const eq = compile('RewriteCond', '%{QUERY_STRING} =').value as RewriteLine;
    expect(eq.kind === 'cond' && eq.cond?.kind).toBe('regex');
    const empty = compile('RewriteCond', '%{QUERY_STRING} =""').value as RewriteLine;
    expect(empty.kind === 'cond' && empty.cond).toMatchObject({ kind: 'eq', pattern: '' });
    const ne = compile('RewriteCond', '%{X} -ne5').value as RewriteLine;
    expect(ne.kind === 'cond' && ne.cond).toMatchObject({ kind: 'ieq', pattern: '5', negate: true });
    const link = compile('RewriteCond', '%{X} !-L').value as RewriteLine;
    expect(link.kind === 'cond' && link.cond).toMatchObject({ kind: 'l', negate: true });
  });

  it('takes NC by its key alone, whatever value follows (cmd_rewriterule_setflag)', () => {
    const line = compile('RewriteRule', '^abc$ x [NC=1]').value as RewriteLine;
    expect(line.kind === 'rule' && line.rule?.regex.test('ABC')).toBe(true);
  });

  it('warns of a pattern htsandbox cannot run and leaves the rule and its conditions out', () => {
    const r = compile('RewriteRule', '^a++b x');
    expect(r.findings.map((f) => f.code)).toEqual(['HT201']);
    const cfg = level('RewriteEngine On\nRewriteCond %{HTTP_HOST} ^h$\nRewriteRule ^a++b x\nRewriteRule ^c d\n');
    expect(cfg.rewrite?.rules.map((x) => [x.pattern, x.conds.length])).toEqual([['^c', 0]]);
  });

  it('merges as config_perdir_merge: own rules, Inherit after, InheritBefore before, MergeBase', () => {
    const parent = level('RewriteEngine On\nRewriteBase /p/\nRewriteRule ^p1 x\n', EMPTY_DIR_CONFIG, '/site');
    expect(parent.rewrite).toMatchObject({ engine: true, base: '/p/', dir: '/site/' });
    const own = level('RewriteRule ^c1 y\n', parent);
    expect(own.rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1']);
    expect(own.rewrite).toMatchObject({ engine: true, base: undefined, dir: `${DIR}/` });
    expect(level('RewriteOptions Inherit\nRewriteRule ^c1 y\n', parent).rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1', '^p1']);
    expect(level('RewriteOptions InheritBefore\nRewriteRule ^c1 y\n', parent).rewrite?.rules.map((r) => r.pattern)).toEqual(['^p1', '^c1']);
    expect(level('RewriteOptions MergeBase\n', parent).rewrite?.base).toBe('/p/');
    // A level without rewrite lines keeps its parent's configuration as it is.
    expect(level('AddType text/plain .x\n', parent).rewrite).toBe(parent.rewrite);
  });

  it('takes the options of the nearest level that set them: Inherit reaches below, InheritDown is the parent asking', () => {
    const inherit = level('RewriteEngine On\nRewriteOptions Inherit\nRewriteRule ^p1 x\n', EMPTY_DIR_CONFIG, '/site');
    const child = level('RewriteRule ^c1 y\n', inherit);
    expect([...child.rewrite!.options]).toEqual(['inherit']);
    expect(child.rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1', '^p1']);
    // A level's own RewriteOptions replace the inherited ones.
    expect(level('RewriteOptions AllowNoSlash\nRewriteRule ^c1 y\n', inherit).rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1']);
    const down = level('RewriteEngine On\nRewriteOptions InheritDownBefore\nRewriteRule ^p1 x\n', EMPTY_DIR_CONFIG, '/site');
    expect(level('RewriteRule ^c1 y\n', down).rewrite?.rules.map((r) => r.pattern)).toEqual(['^p1', '^c1']);
    expect(level('RewriteOptions IgnoreInherit\nRewriteRule ^c1 y\n', down).rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1']);
    // IgnoreInherit only refuses the parent's InheritDown: the level's own Inherit still holds.
    expect(level('RewriteOptions Inherit IgnoreInherit\nRewriteRule ^c1 y\n', down).rewrite?.rules.map((r) => r.pattern)).toEqual(['^c1', '^p1']);
  });

  it('gives the lines of an <If> the per-dir prefix "*If/" (ifsection sets cmd->path to "*If")', () => {
    const outside = level('RewriteEngine On\nRewriteBase /b/\nRewriteRule ^a x\n');
    const inIf = applyLevel(outside, nodesOf('RewriteRule b$ y\n'), (m) => loaded.has(m), 0xffff, '*If');
    expect(inIf.rewrite).toMatchObject({ engine: true, base: undefined, dir: '*If/' });
    expect(inIf.rewrite?.rules.map((r) => r.pattern)).toEqual(['b$']);
  });

  it('gives the lines of a <Files> its pattern as per-dir prefix (filesection sets cmd->path to it)', () => {
    const outside = level('RewriteEngine On\nRewriteRule ^a x\n<Files "x.txt">\nRewriteRule x$ /y\n</Files>\n');
    const files = outside.files[0]!;
    expect(files.path).toBe('x.txt');
    expect(applyLevel(outside, files.nodes, (m) => loaded.has(m), 0xffff, files.path).rewrite).toMatchObject({ engine: true, dir: 'x.txt/' });
  });

  it("leaves the server's own lines alone: only a directory's level has a per-dir prefix", () => {
    const server = applyLevel(EMPTY_DIR_CONFIG, nodesOf('RewriteEngine On\nRewriteRule ^a b\n'), (m) => loaded.has(m));
    expect(server.rewrite).toBeUndefined();
  });
});
