/**
 * Scripts get the bytes of their variables, as Apache passes them (the `env-bytes` conformance
 * case): byte strings (one UTF-16 unit per byte) go out one byte per unit on every way a
 * process is started: the native helper's spawn, and Node's own spawn through /bin/sh
 * (launchWithBytes) where the helper is not built or predates `envBytes`. The same goes for
 * the program's path and its directory (the `nonascii-names` case).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { asciiLower, textAsBytes } from '../../src/grammar/byte-strings.js';
import { osPath, utf8Text } from '../../src/adapters/byte-paths.js';
import { fastSpawn, launchWithBytes, reapLater } from '../../src/adapters/fast-spawn.js';

/** `env`'s output of a process started with `launch`, through Node's spawn, as bytes. */
function environmentSeen(env: Record<string, string>): Buffer {
  const launch = launchWithBytes({ program: '/usr/bin/env', args: [], env, cwd: '/tmp' }, false);
  const run = spawnSync(launch.program, launch.args, { env: launch.env, cwd: launch.cwd });
  expect(run.status).toBe(0);
  return run.stdout;
}

const line = (name: string, latin1: string): Buffer => Buffer.from(`${name}=${latin1}\n`, 'latin1');

describe('textAsBytes', () => {
  it('gives text the bytes of its UTF-8 form, and leaves ASCII as it is', () => {
    const ascii = '/srv/site';
    expect(textAsBytes(ascii)).toBe(ascii);
    expect(textAsBytes('/home/josé')).toBe('/home/jos\u00c3\u00a9');
    expect(textAsBytes('€')).toBe('\u00e2\u0082\u00ac');
  });
});

describe('paths as bytes', () => {
  it('gives Node a non-ASCII byte string as its bytes, and ASCII or text as it is', () => {
    expect(osPath('/srv/a.txt')).toBe('/srv/a.txt');
    expect(osPath('/srv/\u00e9')).toEqual(Buffer.from([0x2f, 0x73, 0x72, 0x76, 0x2f, 0xe9]));
    expect(osPath('/srv/€')).toBe('/srv/€');
  });

  it('finds the text of UTF-8 bytes, and none for bytes that are not UTF-8', () => {
    expect(utf8Text('/a')).toBe('/a');
    expect(utf8Text('/\u00c3\u00a9')).toBe('/é');
    expect(utf8Text('/\u00e9')).toBeUndefined();
    expect(utf8Text('/\u00ef\u00bf\u00bd')).toBe('/\ufffd');
  });

  it('folds A-Z only (ap_str_tolower)', () => {
    expect(asciiLower('TXT')).toBe('txt');
    expect(asciiLower('\u00c9X')).toBe('\u00c9x');
  });
});

describe('launchWithBytes (Node spawn)', () => {
  it('leaves a launch without bytes above 0x7f alone', () => {
    const launch = { program: '/bin/true', args: ['a'], env: { A: 'plain', PATH: '/bin' }, cwd: '/tmp' };
    expect(launchWithBytes(launch, false)).toBe(launch);
  });

  it('leaves values to a spawn that writes bytes (envBytes)', () => {
    const launch = { program: '/bin/true', args: [], env: { V: 'caf\u00e9' }, cwd: '/tmp' };
    expect(launchWithBytes(launch, true)).toBe(launch);
  });

  it('passes each byte of a value, whatever the shell would make of it', () => {
    const tricky = 'caf\u00e9 %s %% \\n \' " $(echo no) `no` \u00ff\n\n';
    const out = environmentSeen({ A: 'plain', V: tricky, W: '\u00c3\u00a9' });
    expect(out.includes(line('V', tricky))).toBe(true);
    expect(out.includes(line('W', '\u00c3\u00a9'))).toBe(true);
    expect(out.includes(line('A', 'plain'))).toBe(true);
  });

  it("adds nothing of the shell's own (no PWD unless given)", () => {
    const out = environmentSeen({ A: 'plain', V: 'caf\u00e9' });
    expect(out.toString('latin1').split('\n').sort()).toEqual(['', 'A=plain', 'V=caf\u00e9']);
  });

  it('keeps a PWD that was given as it was', () => {
    const out = environmentSeen({ PWD: '/given', V: '\u00e9' });
    expect(out.toString('latin1')).toContain('PWD=/given\n');
  });

  it('leaves text above 0xFF to Node (UTF-8)', () => {
    const out = environmentSeen({ T: '€' });
    expect(out.toString('utf8')).toContain('T=€\n');
  });
});

describe('launchWithBytes: paths', () => {
  const e = '\u00c3\u00a9'; // e acute in UTF-8: two bytes
  const E = '\u00e9'; // the same in Latin-1: one byte, not UTF-8
  /** A script under a directory named by byte string `dir`, named `name`, printing $0 and its directory. */
  function scriptIn(root: string, dir: string, name: string): { path: string; dir: string } {
    const d = `${root}/${dir}`;
    mkdirSync(Buffer.from(d, 'latin1'));
    const path = `${d}/${name}`;
    writeFileSync(Buffer.from(path, 'latin1'), '#!/bin/sh\nprintf "%s|%s|%s" "$0" "$(pwd)" "$1"\n');
    chmodSync(Buffer.from(path, 'latin1'), 0o755);
    return { path, dir: d };
  }
  function run(launch: ReturnType<typeof launchWithBytes>): string {
    const out = spawnSync(launch.program, launch.args, { env: launch.env, cwd: launch.cwd });
    expect(out.status).toBe(0);
    return out.stdout.toString('latin1');
  }

  it('hands UTF-8 bytes over as the text they encode, without a shell', () => {
    const root = mkdtempSync(`${tmpdir()}/bytes-`);
    try {
      const s = scriptIn(root, `d${e}`, `${e}.cgi`);
      const launch = launchWithBytes({ program: s.path, args: [`a${e}`], env: {}, cwd: s.dir }, true);
      expect(launch.program).toBe(`${root}/d\u00e9/\u00e9.cgi`);
      expect(run(launch)).toBe(`${s.path}|${s.dir}|a${e}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('execs a path that is not UTF-8 from its bytes, in a directory that is not either', () => {
    const root = mkdtempSync(`${tmpdir()}/bytes-`);
    try {
      const s = scriptIn(root, `d${E}%s\n$x'`, `${E}.cgi`);
      const launch = launchWithBytes({ program: s.path, args: [`a${E}`], env: { V: E }, cwd: s.dir }, true);
      expect(launch.program).toBe('/bin/sh');
      expect(run(launch)).toBe(`${s.path}|${s.dir}|a${E}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.runIf(fastSpawn?.envBytes)('the native helper', () => {
  it('writes byte strings one byte per unit, and text above 0xFF as UTF-8', async () => {
    const [pid, stdin, stdout, stderr] = fastSpawn!.spawn('/usr/bin/env', ['/usr/bin/env'], ['V=caf\u00e9', 'W=caf\u00c3\u00a9', 'T=€'], '/tmp');
    fastSpawn!.closeFd(stdin);
    await new Promise<void>((done) => reapLater(pid, () => done()));
    const buf = Buffer.alloc(4096);
    const n = readSync(stdout, buf, 0, buf.length, null);
    fastSpawn!.closeFd(stdout);
    fastSpawn!.closeFd(stderr);
    expect(buf.subarray(0, n)).toEqual(Buffer.concat([line('V', 'caf\u00e9'), line('W', 'caf\u00c3\u00a9'), Buffer.from('T=€\n', 'utf8')]));
  });
});
