/**
 * The module layer: the registry is made of the modules' command tables, `check` and `serve`
 * read a directive through the same compile, and a module's slice merges as Apache's
 * merge_dir_config does.
 */
import { describe, expect, it } from 'vitest';
import { allDirectives, lookupDirective } from '../../src/grammar/directive-registry.js';
import { MODULES } from '../../src/modules/index.js';
import { applyLevel, EMPTY_DIR_CONFIG, fileETagValue } from '../../src/engine/dir-config.js';
import { parseConfig } from '../../src/grammar/parser.js';
import { hostFacts } from '../../src/grammar/host-config.js';
import { validateNodes } from '../../src/grammar/validate.js';
import { applyHeaderLines, applyRequestHeaderLines, editHeaderValue, FieldTable, parseHeaderFormat } from '../../src/modules/headers.js';
import { HostProcessCrash } from '../../src/vocabulary/host-process-crash.js';
import { coreModule } from '../../src/modules/core.js';
import { apPregsub } from '../../src/grammar/regex.js';
import { accessCompatAllows, accessCompatSatisfy } from '../../src/engine/access.js';
import { filterModule } from '../../src/modules/filter.js';
import { htsandboxModule } from '../../src/modules/htsandbox.js';
import { startMergeChain } from '../../src/modules/autoindex.js';
import { AI } from '../../src/grammar/autoindex-options.js';
import * as parsedOnlyModules from '../../src/modules/parsed-only.js';
import { OPT_EXECCGI, OPT_INC_WITH_EXEC, OPT_INCLUDES, OPT_INDEXES, OPT_MULTI, OPT_SYM_LINKS } from '../../src/grammar/options.js';

const loaded: ReadonlySet<string> = new Set(['core', 'headers', 'mime', 'env', 'setenvif', 'expires']);
const host = hostFacts(loaded);

function htaccess(text: string) {
  return parseConfig(text, { file: '/site/.htaccess', kind: 'htaccess', host }).nodes;
}

describe('the directive registry', () => {
  it('lists every directive of every module, defined once, with its compile', () => {
    for (const module of MODULES) {
      for (const d of module.directives) {
        const spec = lookupDirective(d.name.toLowerCase());
        expect(spec?.modules, d.name).toEqual([module.name, ...(d.alsoDefinedBy ?? [])]);
        expect(spec?.compile, d.name).toBe(d.compile);
        expect(spec?.emulated, d.name).toBe(d.parsedOnly !== true);
      }
    }
    // Every directive has one home: the registry is exactly the modules' tables.
    expect(allDirectives().length).toBe(MODULES.reduce((n, m) => n + m.directives.length, 0));
  });
});

describe('mod_headers through the module', () => {
  const ctx = {
    kind: 'htaccess' as const,
    hasModule: (m: string) => loaded.has(m),
    override: 0x1f,
    overrideOpts: 0xffff,
    overrideList: new Set<string>(),
  };

  it('check reports what the compile refuses, in Apache words, and serve leaves that line out', () => {
    const nodes = htaccess('Header set X-A one\nHeader frobnicate X-B two\nRequestHeader echo X-C\nHeader always add X-D two\n');
    const messages = validateNodes(nodes, ctx as Parameters<typeof validateNodes>[1]).map((d) => d.message);
    expect(messages).toContain("first argument must be 'add', 'set', 'setifempty', 'append', 'merge', 'unset', 'echo', 'note', 'edit', or 'edit*'.");
    expect(messages).toContain('Header echo only valid on Header directives');
    const cfg = applyLevel(EMPTY_DIR_CONFIG, nodes, (m) => loaded.has(m));
    expect(cfg.headers.map((h) => [h.action, h.name, h.always])).toEqual([
      ['set', 'X-A', false],
      ['add', 'X-D', true],
    ]);
    expect(cfg.requestHeaders).toEqual([]);
  });

  it('merges a child level after its parent (merge_headers_config)', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('Header set X-P p\nRequestHeader set X-Q q\n'), () => true);
    const child = applyLevel(parent, htaccess('Header set X-C c\n'), () => true);
    expect(child.headers.map((h) => h.name)).toEqual(['X-P', 'X-C']);
    expect(child.requestHeaders).toBe(parent.requestHeaders);
  });

  it('checks the format tags of an edit in its substitution, not in its pattern', () => {
    const messages = validateNodes(htaccess('Header edit X-A "%x" y\nHeader edit X-B a "%x"\n'), ctx as Parameters<typeof validateNodes>[1]).map((d) => d.message);
    expect(messages).toEqual(['Unrecognized header format %x']);
  });
});

describe('mod_headers format strings (parse_format_string, process_tags)', () => {
  it('splits text and tags as parse_misc_string and parse_format_tag do', () => {
    expect(parseHeaderFormat('a\\tb\\\\c\\qd')).toEqual({ parts: ['a\tb\\c\\qd'] });
    expect(parseHeaderFormat('100%% x %')).toEqual({ parts: ['100', '%', ' x ', '%'] });
    expect(parseHeaderFormat('%{A}e-%D%{x}t')).toEqual({ parts: [{ tag: 'e', arg: 'A' }, '-', { tag: 'D', arg: '' }, { tag: 't', arg: 'x' }] });
    expect(parseHeaderFormat('\\%{A}e')).toEqual({ parts: ['\\', { tag: 'e', arg: 'A' }] });
    expect(parseHeaderFormat('%q')).toEqual({ error: 'Unrecognized header format %q' });
    expect(parseHeaderFormat('%{REQUEST_URI}')).toEqual({ error: 'Unrecognized header format %' });
  });

  it('expands variables without case, "(null)" when unset, and reads time only through facts', () => {
    const ops = applyLevel(EMPTY_DIR_CONFIG, htaccess('Header set X-A "%{my}e|%{NO}e|%t"\nHeader set X-B "x" env=MY\n'), () => true).headers;
    const table = new FieldTable();
    const facts = () => ({
      variable: () => '',
      header: () => '',
      env: () => undefined,
      osenv: () => undefined,
      fileTest: () => false,
      readFile: () => undefined,
      remoteAddr: '',
      requestTimeUs: 42,
    });
    applyHeaderLines(table, {}, ops, 'onsuccess', new Map([['MY', 'v\r\nw']]), facts);
    expect(table.get('x-a')).toEqual(['v  w|(null)|t=42']);
    expect(table.get('x-b')).toEqual(['x']);
  });
});

describe('mod_headers edit (process_regexp)', () => {
  const line = (text: string) => applyLevel(EMPTY_DIR_CONFIG, htaccess(text), () => true).headers[0]!;

  it('edits the rest after a match as a string of its own, as Apache recurses', () => {
    expect(editHeaderValue(line('Header edit* X "^a" "b"'), 'aaa')).toBe('bbb');
    expect(editHeaderValue(line('Header edit X "^a" "b"'), 'aaa')).toBe('baa');
    expect(editHeaderValue(line('Header edit X "(x)?(y)" "[$1|$2|$0]"'), 'ay')).toBe('a[|y|y]');
  });

  it('throws where Apache recurses without end on an empty match at the start (its child crashes)', () => {
    expect(() => editHeaderValue(line('Header edit* X "z*" "-"'), 'abc')).toThrow(HostProcessCrash);
    expect(() => editHeaderValue(line('Header edit* X "b|$" "-"'), 'abc')).toThrow(HostProcessCrash);
    expect(() => editHeaderValue(line('Header edit* X "$" "!"'), '')).toThrow(HostProcessCrash);
    expect(editHeaderValue(line('Header edit* X "^$" "-"'), 'abc')).toBe('abc');
    expect(editHeaderValue(line('Header edit* X "b*c" "-"'), 'abcbc')).toBe('a--');
    expect(editHeaderValue(line('Header edit X "z*" "-"'), 'abc')).toBe('-abc');
  });

  it('edits every value of a request header before a script sees it, and moves it last', () => {
    const ops = applyLevel(EMPTY_DIR_CONFIG, htaccess('RequestHeader edit* X-A "o" "0"\n'), () => true).requestHeaders;
    expect(
      applyRequestHeaderLines(
        [
          ['X-A', 'foo'],
          ['Host', 'h'],
        ],
        ops,
        new Map(),
      ),
    ).toEqual([
      ['Host', 'h'],
      ['X-A', 'f00'],
    ]);
  });
});

describe('mod_expires through the module', () => {
  it('merges as merge_expires_dir_configs: active and default replaced, by-type laid over', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('ExpiresActive On\nExpiresByType text/plain A60\nExpiresByType Image/PNG "access plus 1 day"\n'), () => true);
    const child = applyLevel(parent, htaccess('ExpiresByType text/plain M5\nExpiresDefault "modification plus 2 minutes"\n'), () => true);
    expect(child.expires.active).toBe(true);
    expect([...child.expires.byType]).toEqual([
      ['text/plain', { base: 'M', seconds: 5 }],
      ['image/png', { base: 'A', seconds: 86400 }],
    ]);
    expect(child.expires.default).toEqual({ base: 'M', seconds: 120 });
    expect(parent.expires.byType.get('text/plain')).toEqual({ base: 'A', seconds: 60 });
    const off = applyLevel(child, htaccess('ExpiresActive Off\n'), () => true);
    expect(off.expires.active).toBe(false);
    expect(off.expires.byType).toBe(child.expires.byType);
  });
});

describe('mod_env and mod_setenvif through their modules', () => {
  it('lays a level’s SetEnv/UnsetEnv over the parent’s in order (merge_env_dir_configs)', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('SetEnv A 1\nSetEnv B\n'), () => true);
    const child = applyLevel(parent, htaccess('SetEnv C 3\nUnsetEnv C A\nUnsetEnv B\nSetEnv B 2\nPassEnv PATH\n'), () => true);
    expect([...child.setEnv]).toEqual([
      ['A', undefined],
      ['B', '2'],
      ['C', undefined],
    ]);
    expect([...parent.setEnv]).toEqual([
      ['A', '1'],
      ['B', ''],
    ]);
  });

  it('appends the level’s rules; a refused line is left out', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('BrowserMatchNoCase ^curl IS_CURL !OTHER\n'), () => true);
    const child = applyLevel(parent, htaccess('SetEnvIf Request_URI "\\.png$" PNG=yes\nSetEnvIf X-Only-Two "("\n'), () => true);
    expect(child.setEnvIf.map((r) => ('attribute' in r ? [r.attribute, r.regex.source, r.assignments] : []))).toEqual([
      [
        'User-Agent',
        '^curl',
        [
          ['IS_CURL', '1'],
          ['OTHER', '!'],
        ],
      ],
      ['Request_URI', '\\.png$', [['PNG', 'yes']]],
    ]);
    const first = child.setEnvIf[0]!;
    expect('regex' in first && first.regex.test('CURL/8')).toBe(true);
  });

  it('keeps a SetEnvIfExpr with its variables, and refuses one that does not parse', () => {
    const cfg = applyLevel(EMPTY_DIR_CONFIG, htaccess('SetEnvIfExpr "%{REQUEST_URI} =~ /x(.)/" X=$1 !Y Z=\nSetEnvIfExpr "%{REQUEST_URI} =~" W\n'), () => true);
    expect(cfg.setEnvIf.map((r) => ['expr' in r, r.assignments])).toEqual([
      [
        true,
        [
          ['X', '$1'],
          ['Y', '!'],
          ['Z', '1'],
        ],
      ],
    ]);
  });
});

describe('ap_pregsub (mod_setenvif values, mod_headers edit)', () => {
  it('puts groups in for $N, nothing for a group that did not match, and unescapes a backslash', () => {
    expect(apPregsub('a$1b$2c$9', ['xy', 'x', undefined])).toBe('axbc');
    expect(apPregsub('a\\b\\$1&', ['z', 'q'])).toBe('ab$1&');
    expect(apPregsub('plain', [])).toBe('plain');
  });
});

describe('mod_alias through its module', () => {
  it('puts a level’s redirects before the parent’s (merge_alias_dir_config) and drops refused ones', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('Redirect /old http://example.test/new\n'), () => true);
    const child = applyLevel(parent, htaccess('RedirectMatch 301 "^/a(.*)" /b$1\nRedirect 410 /gone\nRedirect bogus /x /y\n'), () => true);
    expect(child.redirects.map((r) => [r.status, r.match.kind, r.target])).toEqual([
      [301, 'regex', '/b$1'],
      [410, 'prefix', undefined],
      [302, 'prefix', 'http://example.test/new'],
    ]);
  });
});

describe('mod_mime through its module', () => {
  it('lays a level’s extensions over the parent’s; Remove… undoes the field, even one the level added', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('AddType Text/X-Foo .foo bar\nAddHandler cgi-script .foo\nAddCharset UTF-8 .foo\n'), () => true);
    const child = applyLevel(parent, htaccess('RemoveHandler .FOO\nAddEncoding x-gzip foo\nAddType text/plain .baz\nRemoveType baz\n'), () => true);
    expect(parent.extensions.get('foo')).toEqual({ type: 'text/x-foo', handler: 'cgi-script', charset: 'utf-8' });
    expect(child.extensions.get('foo')).toEqual({ type: 'text/x-foo', charset: 'utf-8', encoding: 'x-gzip' });
    expect(child.extensions.get('bar')).toEqual({ type: 'text/x-foo' });
    expect(child.extensions.get('baz')).toEqual({ type: '' });
  });
});

describe('mod_dir through its module', () => {
  it('keeps the inherited index and slash until a level sets its own', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('DirectorySlash Off\n'), () => true);
    expect(parent.directoryIndex).toEqual(['index.html']);
    const child = applyLevel(parent, htaccess('DirectoryIndex index.php "home page.html"\n'), () => true);
    expect([child.directoryIndex, child.directorySlash]).toEqual([['index.php', 'home page.html'], false]);
    expect(applyLevel(child, htaccess('DirectoryIndex disabled\nDirectorySlash On\n'), () => true)).toMatchObject({ directoryIndex: [], directorySlash: true });
  });
});

describe('the authentication modules through their tables', () => {
  it('each sets its own field of the record; the nearest level wins', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('AuthType Basic\nAuthName "Members only"\nAuthUserFile /etc/users\nAuthGroupFile /etc/groups\n'), () => true);
    const child = applyLevel(parent, htaccess('AuthName Staff\nAuthBasicAuthoritative Off\n'), () => true);
    expect(child.auth).toEqual({ type: 'Basic', name: 'Staff', userFile: '/etc/users', groupFile: '/etc/groups', basicAuthoritative: false });
    expect(parent.auth.basicAuthoritative).toBe(true);
  });

  it('lists AuthName under both modules that define it', () => {
    expect(lookupDirective('authname')?.modules).toEqual(['authn_core', 'auth_digest']);
  });
});

describe('mod_access_compat through its module', () => {
  it('a level with any of its lines replaces the inherited state whole, Satisfy included; each line keeps its place', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('Order allow,deny\nAllow from 10.0.0.0/8 192.168.1\nSatisfy Any\n'), () => true);
    expect(parent.accessCompat).toEqual({
      order: 'allow,deny',
      orderSource: { file: '/site/.htaccess', line: 1 },
      allow: [
        {
          hosts: [
            { kind: 'ip', spec: '10.0.0.0/8' },
            { kind: 'ip', spec: '192.168.1' },
          ],
          source: { file: '/site/.htaccess', line: 2 },
        },
      ],
      deny: [],
      satisfy: { any: true, source: { file: '/site/.htaccess', line: 3 } },
    });
    // No merger in mod_access_compat: the child's Satisfy is back to "not specified" (All).
    const child = applyLevel(parent, htaccess('# nothing first\nDeny from env=BAD\n'), () => true);
    expect(child.accessCompat).toEqual({
      order: 'deny,allow',
      allow: [],
      deny: [{ hosts: [{ kind: 'env', name: 'BAD', negate: false }], source: { file: '/site/.htaccess', line: 2 } }],
    });
    // … and a level with only Satisfy drops the inherited Order, Allow and Deny.
    expect(applyLevel(child, htaccess('Satisfy any\n'), () => true).accessCompat).toEqual({
      order: 'deny,allow',
      allow: [],
      deny: [],
      satisfy: { any: true, source: { file: '/site/.htaccess', line: 1 } },
    });
    expect(applyLevel(child, htaccess('AddType text/plain .x\n'), () => true).accessCompat).toBe(child.accessCompat);
  });

  it('classifies each host word once, as allow_cmd does: env=!, env=, all, an address, else a name', () => {
    const cfg = applyLevel(EMPTY_DIR_CONFIG, htaccess('Allow from ENV=!Quiet env=Loud ALL 10.1 ::1 2001:db8::/32 localhost .example.org\n'), () => true);
    expect(cfg.accessCompat?.allow[0]?.hosts).toEqual([
      { kind: 'env', name: 'Quiet', negate: true },
      { kind: 'env', name: 'Loud', negate: false },
      { kind: 'all' },
      { kind: 'ip', spec: '10.1' },
      { kind: 'ip', spec: '::1' },
      { kind: 'ip', spec: '2001:db8::/32' },
      { kind: 'host', domain: 'localhost' },
      { kind: 'host', domain: '.example.org' },
    ]);
  });

  it('matches a host word against the double-reverse name, looked up once and kept as the client name', () => {
    const cfg = applyLevel(EMPTY_DIR_CONFIG, htaccess('Order allow,deny\nAllow from all\nDeny from example.org nope.test\n'), () => true);
    let reverse = 0;
    const hostNames = {
      nameOf: (addr: string) => {
        reverse++;
        return addr === '192.0.2.7' || addr === '192.0.2.8' ? 'WWW.Example.org' : undefined;
      },
      addressesOf: (name: string) => (name === 'www.example.org' ? ['192.0.2.7'] : []),
    };
    const ask = (remoteAddr: string) => {
      const clientName: { name?: string } = {};
      const allowed = accessCompatAllows(cfg.accessCompat!, { method: 'GET', remoteAddr, env: new Map(), hostNames, clientName });
      return [allowed, clientName.name];
    };
    expect(ask('192.0.2.7')).toEqual([false, 'www.example.org']);
    expect(reverse).toBe(1);
    // The name does not map back to the address: no name counts (REMOTE_DOUBLE_REV), though it is kept.
    expect(ask('192.0.2.8')).toEqual([true, 'www.example.org']);
    expect(ask('192.0.2.9')).toEqual([true, '']);
    // Without a resolver no name is known.
    expect(accessCompatAllows(cfg.accessCompat!, { method: 'GET', remoteAddr: '192.0.2.7', env: new Map() })).toBe(true);
  });

  it('keeps Satisfy per method: a <Limit> line sets its methods, a line outside sets them all', () => {
    const at = (text: string) => applyLevel(EMPTY_DIR_CONFIG, htaccess(text), () => true).accessCompat;
    const limited = at('Satisfy all\n<Limit POST PUT>\nSatisfy any\n</Limit>\n');
    expect([accessCompatSatisfy(limited, 'GET')?.any, accessCompatSatisfy(limited, 'POST')?.any, accessCompatSatisfy(limited, 'PUT')?.any]).toEqual([false, true, true]);
    const except = at('<LimitExcept GET>\nSatisfy any\n</LimitExcept>\n');
    expect([accessCompatSatisfy(except, 'GET'), accessCompatSatisfy(except, 'HEAD'), accessCompatSatisfy(except, 'POST')?.any]).toEqual([undefined, undefined, true]);
    expect(accessCompatSatisfy(at('<Limit GET>\nSatisfy any\n</Limit>\n'), 'HEAD')?.any).toBe(true);
    // A later line outside <Limit> sets every method again.
    expect(accessCompatSatisfy(at('<Limit POST>\nSatisfy any\n</Limit>\nSatisfy all\n'), 'POST')?.any).toBe(false);
  });

  it('a line its compile refuses is not applied, and check reports it', () => {
    expect(applyLevel(EMPTY_DIR_CONFIG, htaccess('Order sideways\nAllow 10.1\n'), () => true).accessCompat).toBeUndefined();
    expect(lookupDirective('order')?.modules).toEqual(['access_compat']);
    expect(
      lookupDirective('allow')?.compile?.({ words: ['from', '10.0.0.1/99'], rawArgs: 'from 10.0.0.1/99', kind: 'htaccess', overrideOpts: 0, hasModule: () => true }).findings
        .length,
    ).toBe(1);
  });
});

describe('mod_authz_core through its module', () => {
  it('compiles a level’s Require lines and groups into one rule tree, each Require with its place', () => {
    const text = 'Require ip 10.0.0.0/8\n<RequireAll>\n  Require valid-user\n  <Limit POST>\n    Require not user bob\n  </Limit>\n</RequireAll>\nRequire bogus-provider x\n';
    const cfg = applyLevel(EMPTY_DIR_CONFIG, htaccess(text), () => true);
    const at = (line: number) => ({ file: '/site/.htaccess', line });
    expect(cfg.authz).toEqual({
      kind: 'group',
      op: 'any',
      rules: [
        { kind: 'require', negate: false, provider: 'ip', args: ['10.0.0.0/8'], source: at(1) },
        {
          kind: 'group',
          op: 'all',
          rules: [
            { kind: 'require', negate: false, provider: 'valid-user', args: [], source: at(3) },
            { kind: 'require', negate: true, provider: 'user', args: ['bob'], methods: ['POST'], source: at(5) },
          ],
        },
      ],
    });
    // A level without Require lines keeps the parent's rules; one with them replaces them.
    expect(applyLevel(cfg, htaccess('AuthType Basic\n'), () => true).authz).toBe(cfg.authz);
    expect(applyLevel(cfg, htaccess('Require all granted\n'), () => true).authz).toEqual({
      kind: 'group',
      op: 'any',
      rules: [{ kind: 'require', negate: false, provider: 'all', args: ['granted'], source: at(1) }],
    });
  });

  it('lists authz_host and authz_user, which only add providers', () => {
    expect(MODULES.map((m) => m.name)).toEqual(expect.arrayContaining(['access_compat', 'authz_core', 'authz_host', 'authz_user']));
    expect(lookupDirective('<requireall')?.modules).toEqual(['authz_core']);
  });
});

describe('mod_autoindex through its module', () => {
  it('IndexIgnoreReset drops the inherited patterns only; the level’s own count wherever written', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('IndexIgnore *.bak\n'), () => true);
    const child = applyLevel(parent, htaccess('IndexIgnore *.one\nIndexIgnoreReset On\nIndexIgnore *.two .ht*\n'), () => true);
    expect(child.indexIgnore).toEqual(['*.one', '*.two', '.ht*']);
    expect(applyLevel(parent, htaccess('IndexIgnore *.one\n'), () => true).indexIgnore).toEqual(['*.one', '*.bak']);
    expect(applyLevel(parent, htaccess('IndexIgnoreReset On\nIndexIgnoreReset Off\n'), () => true).indexIgnore).toEqual(['*.bak']);
  });

  it('IndexOptions: +/- items are incremental, a plain keyword resets, None clears (add_opts, merge_autoindex_configs)', () => {
    const server = applyLevel(EMPTY_DIR_CONFIG, htaccess('IndexOptions FancyIndexing VersionSort HTMLTable NameWidth=*\n'), () => true);
    const walk = { ...server, ...startMergeChain(server) };
    const incremental = applyLevel(walk, htaccess('IndexOptions +SuppressSize\n'), () => true).autoindex;
    expect(incremental.opts & (AI.FANCY_INDEXING | AI.TABLE_INDEXING | AI.SUPPRESS_SIZE)).toBe(AI.FANCY_INDEXING | AI.TABLE_INDEXING | AI.SUPPRESS_SIZE);
    const reset = applyLevel(walk, htaccess('IndexOptions FancyIndexing\n'), () => true).autoindex;
    expect(reset.opts & (AI.TABLE_INDEXING | AI.VERSION_SORT)).toBe(0);
    expect(reset.nameAdjust).toBe('adjust');
    // A plain keyword after +X on one line drops the +X.
    const dropped = applyLevel(walk, htaccess('IndexOptions +SuppressSize SuppressIcon\n'), () => true).autoindex;
    expect(dropped.opts & (AI.SUPPRESS_SIZE | AI.FANCY_INDEXING)).toBe(0);
    expect(applyLevel(walk, htaccess('IndexOptions None\n'), () => true).autoindex.opts).toBe(AI.NO_OPTIONS);
  });

  it('levels merge among themselves before the server options: two incremental levels lose FancyIndexing', () => {
    const server = applyLevel(EMPTY_DIR_CONFIG, htaccess('IndexOptions FancyIndexing HTMLTable\n'), () => true);
    const walk = { ...server, ...startMergeChain(server) };
    const parent = applyLevel(walk, htaccess('IndexOptions +SuppressSize\n'), () => true);
    expect(parent.autoindex.opts & AI.TABLE_INDEXING).not.toBe(0);
    // A level without mod_autoindex lines has no configuration of the module: nothing merges.
    expect(applyLevel(parent, htaccess('Options +Indexes\n'), () => true).autoindex).toBe(parent.autoindex);
    const child = applyLevel(parent, htaccess('IndexOptions +SuppressIcon\n'), () => true).autoindex;
    expect(child.opts & (AI.FANCY_INDEXING | AI.TABLE_INDEXING)).toBe(0);
    expect(child.opts & (AI.SUPPRESS_ICON | AI.SUPPRESS_SIZE)).toBe(AI.SUPPRESS_ICON | AI.SUPPRESS_SIZE);
    const cancelled = applyLevel(
      applyLevel(walk, htaccess('IndexOptions +FoldersFirst\n'), () => true),
      htaccess('IndexOptions -FoldersFirst\n'),
      () => true,
    ).autoindex;
    expect(cancelled.opts & (AI.TABLE_INDEXING | AI.FOLDERS_FIRST)).toBe(AI.TABLE_INDEXING);
  });

  it('refuses IndexOptions and IndexOrderDefault lines as add_opts and set_default_order do', () => {
    const compile = (name: string, words: string[]) =>
      lookupDirective(name)?.compile?.({ words, rawArgs: words.join(' '), kind: 'htaccess', overrideOpts: 0, hasModule: () => true }).findings[0]?.message;
    expect(compile('indexoptions', ['Fancy'])).toBe('Invalid directory indexing option');
    expect(compile('indexoptions', ['None', 'HTMLTable'])).toBe("Cannot combine other IndexOptions keywords with 'None'");
    expect(compile('indexoptions', ['+None'])).toBe("Cannot combine '+' or '-' with 'None' keyword");
    expect(compile('indexoptions', ['NameWidth=3'])).toBe('NameWidth value must be greater than 5');
    expect(compile('indexoptions', ['+FancyIndexing', 'NameWidth=*'])).toBeUndefined();
    expect(compile('indexorderdefault', ['Up', 'Name'])).toBe("First keyword must be 'Ascending' or 'Descending'");
    expect(compile('directoryindexredirect', ['200'])).toBe('DirectoryIndexRedirect only accepts values between 300 and 399');
    expect(compile('directoryindexredirect', ['sometimes'])).toBe('DirectoryIndexRedirect ON|OFF|permanent|temp|seeother|3xx');
  });

  it('refuses FancyIndexing with its help text, as ap_set_deprecated does', () => {
    const spec = lookupDirective('fancyindexing');
    expect(spec?.modules).toEqual(['autoindex']);
    expect(spec?.compile?.({ words: ['on'], rawArgs: 'on', kind: 'htaccess', overrideOpts: 0, hasModule: () => true }).findings[0]?.message).toBe(
      'The FancyIndexing directive is no longer supported. Use IndexOptions FancyIndexing.',
    );
  });
});

describe("core's per-directory directives through its module", () => {
  it('the nearest level wins; ErrorDocument per status, `default` removes one', () => {
    const parent = applyLevel(
      EMPTY_DIR_CONFIG,
      htaccess(
        'SetHandler Proxy:unix:/run/a.sock|fcgi://x\nAddDefaultCharset On\nErrorDocument 404 /nf.html\nErrorDocument 403 "Go away"\nRLimitCPU 10 20\nLimitRequestBody 100\n',
      ),
      () => true,
    );
    expect(parent).toMatchObject({
      setHandler: 'Proxy:unix:/run/a.sock|fcgi://x',
      addDefaultCharset: 'iso-8859-1',
      limitRequestBody: 100,
      rlimits: { cpu: { soft: '10', hard: '20' } },
    });
    expect([...parent.errorDocuments]).toEqual([
      [404, { kind: 'local', value: '/nf.html' }],
      [403, { kind: 'message', value: 'Go away' }],
    ]);
    const child = applyLevel(
      parent,
      htaccess(
        'SetHandler None\nForceType Text/Plain\nErrorDocument 404 default\nErrorDocument 500 http://example.test/\nRLimitMEM 1000\nAcceptPathInfo Off\nServerSignature EMail\n',
      ),
      () => true,
    );
    expect(child).toMatchObject({ setHandler: 'none', forceType: 'text/plain', addDefaultCharset: 'iso-8859-1', acceptPathInfo: 'off', serverSignature: 'email' });
    expect(child.rlimits).toEqual({ cpu: { soft: '10', hard: '20' }, mem: { soft: '1000', hard: undefined } });
    expect([...child.errorDocuments]).toEqual([
      [403, { kind: 'message', value: 'Go away' }],
      [500, { kind: 'url', value: 'http://example.test/' }],
    ]);
  });

  it('FileETag: an absolute keyword replaces, +/- adjust the inherited bits', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('FileETag INode Size\n'), () => true);
    expect(fileETagValue(parent, { size: 255, mtimeUs: 16n, ino: 10 })).toBe('"a-ff"');
    const child = applyLevel(parent, htaccess('FileETag -INode +MTime\n'), () => true);
    expect(fileETagValue(child, { size: 255, mtimeUs: 16n, ino: 10 })).toBe('"ff-10"');
    expect(
      fileETagValue(
        applyLevel(child, htaccess('FileETag None\n'), () => true),
        { size: 1, mtimeUs: 1n, ino: 1 },
      ),
    ).toBeUndefined();
  });

  it('refuses what core.c refuses, with its wording', () => {
    const compile = (name: string, words: string[]) =>
      lookupDirective(name)
        ?.compile?.({ words, rawArgs: words.join(' '), kind: 'htaccess', overrideOpts: 0, hasModule: () => true })
        .findings.map((f) => f.message);
    expect(compile('errordocument', ['302', '/x'])).toEqual(['Unsupported HTTP response code 302']);
    expect(compile('fileetag', ['+All'])).toEqual(["FileETag keyword 'All' cannot be used with '+' or '-'"]);
    expect(compile('limitrequestbody', ['-5'])).toEqual(['LimitRequestBody requires a non-negative integer.']);
    expect(compile('acceptpathinfo', ['maybe'])).toEqual(['AcceptPathInfo must be set to on, off or default']);
    expect(lookupDirective('sethandler')?.modules).toEqual(['core']);
  });
});

describe('core Options and CGIPassAuth through the module', () => {
  const options = (cfg: { options: number }) => cfg.options;
  const level = (base: typeof EMPTY_DIR_CONFIG, text: string) => applyLevel(base, htaccess(text), () => true);

  it('an absolute line replaces, a relative one adjusts what is inherited', () => {
    const parent = level(EMPTY_DIR_CONFIG, 'Options Indexes ExecCGI\n');
    expect(options(parent)).toBe(OPT_INDEXES | OPT_EXECCGI);
    expect(options(level(parent, 'Options -ExecCGI +FollowSymLinks\n'))).toBe(OPT_INDEXES | OPT_SYM_LINKS);
    expect(options(level(parent, 'Options None\n'))).toBe(0);
  });

  it('keeps the +/- lists of a level for the relative lines below it (merge_core_dir_configs)', () => {
    // set_options leaves opts_add of the first line in place when the second is absolute; a
    // relative line in a lower level applies that list again.
    const parent = level(EMPTY_DIR_CONFIG, 'Options +Indexes\nOptions FollowSymLinks\n');
    expect(options(parent)).toBe(OPT_SYM_LINKS);
    expect(options(level(parent, 'Options +MultiViews\n'))).toBe(OPT_SYM_LINKS | OPT_INDEXES | OPT_MULTI);
    // A level's relative removal is kept for the levels below it.
    const noIndexes = level(level(EMPTY_DIR_CONFIG, 'Options All\n'), 'Options -Indexes\n');
    expect(options(level(noIndexes, 'Options +MultiViews\n')) & OPT_INDEXES).toBe(0);
  });

  it('IncludesNOEXEC below Includes takes exec away', () => {
    const parent = level(EMPTY_DIR_CONFIG, 'Options Includes\n');
    expect(options(parent) & OPT_INC_WITH_EXEC).toBe(OPT_INC_WITH_EXEC);
    expect(options(level(parent, 'Options +IncludesNOEXEC\n')) & (OPT_INCLUDES | OPT_INC_WITH_EXEC)).toBe(OPT_INCLUDES);
  });

  it('check refuses what set_options refuses, with AllowOverride Options=… as the limit', () => {
    const compile = (words: string, overrideOpts: number) =>
      lookupDirective('options')
        ?.compile?.({ words: words.split(' '), rawArgs: words, kind: 'htaccess', overrideOpts, hasModule: () => true })
        .findings.map((f) => [f.message, f.hint]);
    expect(compile('Indexes +ExecCGI', 0xffff)).toEqual([['Either all Options must start with + or -, or no Option may.', undefined]]);
    expect(compile('+ExecCGI', OPT_INDEXES)).toEqual([['Option ExecCGI not allowed here', undefined]]);
    expect(compile('Indexs', 0xffff)?.[0]?.[1]).toMatch(/Indexes/);
    expect(lookupDirective('options')?.modules).toEqual(['core']);
  });

  it('CGIPassAuth: the nearest level that sets it wins', () => {
    const on = level(EMPTY_DIR_CONFIG, 'CGIPassAuth On\n');
    expect([EMPTY_DIR_CONFIG.cgiPassAuth, on.cgiPassAuth, level(on, 'AuthName x\n').cgiPassAuth, level(on, 'CGIPassAuth off\n').cgiPassAuth]).toEqual([false, true, true, false]);
  });
});

describe('mod_fcgid through its module', () => {
  it('wrappers by suffix over the inherited ones; each role keeps its program and flag apart', () => {
    const parent = applyLevel(
      EMPTY_DIR_CONFIG,
      htaccess('FcgidWrapper "/usr/bin/php-cgi -d x=1" .php\nFcgidAuthorizerAuthoritative Off\nFastCgiAccessChecker "/srv/check --fast"\n'),
      () => true,
    );
    expect([...parent.fcgidWrappers]).toEqual([['.php', { argv: ['/usr/bin/php-cgi', '-d', 'x=1'], virtual: false }]]);
    expect(parent.fcgidAuth).toEqual({ AUTHORIZER: { program: '', authoritative: false }, ACCESS_CHECKER: { program: '/srv/check', authoritative: true } });
    const child = applyLevel(parent, htaccess('FCGIWrapper /bin/run virtual\nFcgidAuthorizer /srv/authz\nFcgidAccessCheckerAuthoritative Off\n'), () => true);
    expect([...child.fcgidWrappers]).toEqual([
      ['.php', { argv: ['/usr/bin/php-cgi', '-d', 'x=1'], virtual: false }],
      ['ALL', { argv: ['/bin/run'], virtual: true }],
    ]);
    expect(child.fcgidAuth).toEqual({ AUTHORIZER: { program: '/srv/authz', authoritative: false }, ACCESS_CHECKER: { program: '/srv/check', authoritative: false } });
    expect(lookupDirective('fcgidmaxprocesses')?.modules).toEqual(['fcgid']);
    expect(lookupDirective('fcgidmaxprocesses')?.emulated).toBe(true);
    expect(lookupDirective('busytimeout')?.emulated).toBe(false);
  });
});

describe("core's sections through its module", () => {
  const compile = (name: string, rawArgs: string, kind: 'htaccess' | 'server' = 'htaccess') =>
    coreModule.directives.find((d) => d.name === name)!.compile({ words: [], rawArgs, kind, overrideOpts: 0xffff, hasModule: () => true });
  const matches = (name: string, rawArgs: string, basename: string) => (compile(name, rawArgs).value as { matches(b: string): boolean }).matches(basename);

  it('<Files> and <FilesMatch> compile to the test serve applies: a name, an apr_fnmatch wildcard, a regex', () => {
    expect([matches('<Files', 'wp-config.php>', 'wp-config.php'), matches('<Files', 'wp-config.php>', 'wp-config.phps')]).toEqual([true, false]);
    expect([matches('<Files', '"*.bak">', '.x.bak'), matches('<Files', '"*.bak">', 'a/b.bak'), matches('<Files', '*.[ch]>', 'x.h')]).toEqual([true, false, true]);
    expect([matches('<Files', '~ "\\.(gif|png)$">', 'a.png'), matches('<FilesMatch', '"^\\.ht">', '.htpasswd'), matches('<FilesMatch', '"^\\.ht">', 'a.ht')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('refuses what filesection refuses; "Multiple arguments" comes after the body', () => {
    expect(compile('<Files', 'a.txt').findings).toEqual([{ code: 'HT103', message: "<Files> directive missing closing '>'" }]);
    expect(compile('<FilesMatch', '"(">').findings.map((f) => f.message)).toEqual(['Regex could not be compiled']);
    expect(compile('<Files', 'a b>')).toMatchObject({ findings: [{ code: 'HT102', message: 'Multiple <Files> arguments not (yet) supported.', afterBody: true }] });
    const ctx = { kind: 'htaccess' as const, hasModule: (m: string) => loaded.has(m), override: 0x1f, overrideOpts: 0xffff, overrideList: new Set<string>() };
    const messages = validateNodes(htaccess('<Files a b>\nNoSuchThing\n</Files>\n'), ctx).map((d) => d.message);
    expect(messages[0]).toMatch(/^Invalid command 'NoSuchThing'/);
    expect(messages[1]).toBe('Multiple <Files> arguments not (yet) supported.');
  });

  it('<If> parses its condition as ap_expr; <Else> takes none; <Limit> knows httpd methods', () => {
    expect(compile('<If', '"%{REQUEST_URI} =~ m#^/a#">').value).toMatchObject({ kind: 'if', condition: expect.anything() });
    expect(compile('<If', '"%{NOPE">').findings[0]?.code).toBe('HT110');
    expect(compile('<Else', 'x>').findings.map((f) => f.message)).toEqual(['<Else> does not take an argument']);
    expect(compile('<Limit', 'GET POST>').findings).toEqual([]);
    expect(compile('<Limit', 'TRACE>').findings.map((f) => f.message)).toEqual(['TRACE cannot be controlled by <Limit>, see TraceEnable']);
    expect(compile('<LimitExcept', 'FROB>').findings.map((f) => f.message)).toEqual(["Could not register method 'FROB' for <LimitExcept from .htaccess configuration"]);
    expect(compile('<LimitExcept', 'FROB>', 'server').findings).toEqual([]);
  });

  it('appends a level’s sections after the inherited ones (sec_file, sec_if), each with its body', () => {
    const parent = applyLevel(EMPTY_DIR_CONFIG, htaccess('<Files *.txt>\nForceType text/x-a\n</Files>\n<If "true">\nHeader set X 1\n</If>\n'), () => true);
    const child = applyLevel(parent, htaccess('<FilesMatch "\\.txt$">\nForceType text/x-b\n</FilesMatch>\n<Else>\n</Else>\n'), () => true);
    expect(child.files.map((f) => f.matches('a.txt'))).toEqual([true, true]);
    expect(child.files[0]).toBe(parent.files[0]);
    expect(applyLevel(child, child.files[1]!.nodes, () => true).forceType).toBe('text/x-b');
    expect(child.ifs.map((i) => [i.kind, i.nodes.length])).toEqual([
      ['if', 1],
      ['else', 0],
    ]);
  });

  it('core defines its sections and server rows itself', () => {
    expect(lookupDirective('<files')?.compile).toBe(coreModule.directives.find((d) => d.name === '<Files')!.compile);
    expect(lookupDirective('documentroot')?.emulated).toBe(true);
    expect(lookupDirective('enablemmap')?.emulated).toBe(false);
  });
});

describe('the modules htsandbox does not apply per directory', () => {
  it('parsed-only modules accept their directives and apply none; server-wide ones are read with the host configuration', () => {
    for (const module of Object.values(parsedOnlyModules)) {
      expect(MODULES).toContain(module);
      for (const d of module.directives) expect([d.name, lookupDirective(d.name.toLowerCase())?.emulated]).toEqual([d.name, false]);
    }
    expect(['loadmodule', '<ifversion', 'user', 'keepalivetimeout', 'requestreadtimeout', 'balancermember'].map((k) => lookupDirective(k)?.emulated)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(lookupDirective('php_value')?.modules).toEqual(['php']);
  });

  it('mod_filter checks a provider as filter_provider and add_type_filter do', () => {
    const compile = (name: string, words: string[], loadedModules: string[]) =>
      filterModule.directives
        .find((d) => d.name === name)!
        .compile({ words, rawArgs: words.join(' '), kind: 'htaccess', overrideOpts: 0xffff, hasModule: (m) => loadedModules.includes(m) })
        .findings.map((f) => f.message);
    expect(compile('AddOutputFilterByType', ['DEFLATE', 'text/html'], [])).toEqual(['Unknown filter provider DEFLATE']);
    expect(compile('AddOutputFilterByType', ['DEFLATE;INCLUDES', 'text/html'], ['deflate', 'include'])).toEqual([]);
    expect(compile('FilterProvider', ['f', 'nosuch', 'true'], ['deflate'])).toEqual(['Unknown filter provider nosuch']);
  });

  it('HtsandboxFcgidMultiplex: the nearest level that sets it wins', () => {
    const on = applyLevel(EMPTY_DIR_CONFIG, htaccess('HtsandboxFcgidMultiplex On\n'), () => true);
    expect([EMPTY_DIR_CONFIG.fcgidMultiplex, on.fcgidMultiplex, applyLevel(on, htaccess('HtsandboxFcgidMultiplex off\n'), () => true).fcgidMultiplex]).toEqual([
      false,
      true,
      false,
    ]);
    expect(lookupDirective('htsandboxfcgidmultiplex')?.compile).toBe(htsandboxModule.directives[1]!.compile);
  });
});

describe('lines inside <Limit> (ap_limit_section)', () => {
  it('apply to the level; access_compat limits its Allow/Deny lines to the methods', () => {
    const cfg = applyLevel(
      EMPTY_DIR_CONFIG,
      htaccess('<Limit GET POST>\nAuthType Basic\nAuthName inside\n</Limit>\n<LimitExcept GET>\nDeny from all\n</LimitExcept>\nDeny from 10.0.0.1\n'),
      () => true,
    );
    expect(cfg.auth).toMatchObject({ type: 'Basic', name: 'inside' });
    expect(cfg.accessCompat?.deny.map((l) => [l.hosts, l.methods])).toEqual([
      [[{ kind: 'all' }], ['!GET']],
      [[{ kind: 'ip', spec: '10.0.0.1' }], undefined],
    ]);
    const allows = (method: string, remoteAddr = '127.0.0.1') => accessCompatAllows(cfg.accessCompat!, { method, remoteAddr, env: new Map() });
    expect([allows('GET'), allows('HEAD'), allows('POST'), allows('GET', '10.0.0.1')]).toEqual([true, true, false, false]);
  });

  it('an Order inside <Limit> sets the order of its methods only, until an Order outside', () => {
    const level = (text: string) => applyLevel(EMPTY_DIR_CONFIG, htaccess(text), () => true).accessCompat!;
    const allows = (c: ReturnType<typeof level>, method: string) => accessCompatAllows(c, { method, remoteAddr: '127.0.0.1', env: new Map() });
    const limited = level('<Limit POST>\nOrder allow,deny\n</Limit>\nAllow from 10.0.0.0/8\n');
    expect([allows(limited, 'GET'), allows(limited, 'POST')]).toEqual([true, false]);
    const overridden = level('<Limit POST>\nOrder allow,deny\n</Limit>\nOrder deny,allow\nAllow from 10.0.0.0/8\n');
    expect([allows(overridden, 'GET'), allows(overridden, 'POST')]).toEqual([true, true]);
  });
});
