/** Apache's tokenizer and line reader, case by case. */
import { describe, expect, it } from 'vitest';
import { readLogicalLines } from '../src/grammar/line-reader.js';
import { getWordConf, splitWords } from '../src/grammar/words.js';
import { parseConfig } from '../src/grammar/parser.js';
import { NO_HOST_FACTS } from '../src/grammar/conditions.js';

const words = (s: string): string[] => splitWords(s).map((w) => w.value);

describe('ap_getword_conf', () => {
  it('quotes only at the start of a word', () => {
    expect(words('a"b c" d')).toEqual(['a"b', 'c"', 'd']);
    expect(words('"a b"c')).toEqual(['a b', 'c']);
  });
  it('unescapes \\\\ everywhere and \\<quote> only inside that quote', () => {
    expect(words('a\\\\.b')).toEqual(['a\\.b']);
    expect(words('"x \\" y"')).toEqual(['x " y']);
    expect(words("'x \\\" y'")).toEqual(['x \\" y']);
    expect(words('a\\b')).toEqual(['a\\b']);
  });
  it('an unterminated quote runs to the end', () => {
    expect(words('"abc def')).toEqual(['abc def']);
  });
  it('an empty quoted word is a word in the middle', () => {
    expect(getWordConf('"" x', 0)).toMatchObject({ value: '', quoted: true });
  });
});

describe('line reader', () => {
  it('joins continuations without adding a space, keeps the line numbers', () => {
    const { lines } = readLogicalLines('A b\\\n  c\nD\n');
    expect(lines.map((l) => [l.text, l.line, l.endLine])).toEqual([
      ['A b  c', 1, 2],
      ['D', 3, 3],
    ]);
  });
  it('a backslash followed by a space is no continuation; CRLF is trimmed', () => {
    const { lines } = readLogicalLines('A \\ \r\nB\r\n');
    expect(lines.map((l) => l.text)).toEqual(['A \\', 'B']);
  });
  it('a NUL byte ends the line', () => {
    expect(readLogicalLines('A\0 b\\\nC\n').lines.map((l) => l.text)).toEqual(['A', 'C']);
  });
});

describe('parser', () => {
  it('gives every argument its physical position across a continuation', () => {
    const r = parseConfig('DirectoryIndex a \\\n    b.html\n', { file: 'f', kind: 'htaccess', host: NO_HOST_FACTS });
    const d = r.nodes[0]!;
    expect(d.args.map((a) => [a.value, a.line, a.column])).toEqual([
      ['a', 1, 16],
      ['b.html', 2, 5],
    ]);
  });
  it('a trailing # is an argument, a leading # a comment', () => {
    const r = parseConfig('# c\nAddHandler cgi-script .cgi # x\n', { file: 'f', kind: 'htaccess', host: NO_HOST_FACTS });
    expect(r.nodes).toHaveLength(1);
    expect(r.nodes[0]!.args.map((a) => a.value)).toEqual(['cgi-script', '.cgi', '#', 'x']);
  });
  it('skips the body of a false <IfModule> without reading it', () => {
    const r = parseConfig('<IfModule mod_x.c>\n<Files a>\nFoo\n</Files>\n</IfModule>\n', { file: 'f', kind: 'htaccess', host: NO_HOST_FACTS });
    expect(r.diagnostics).toEqual([]);
    expect(r.nodes[0]).toMatchObject({ kind: 'section', active: false });
  });
});
