/**
 * FileETag as core.c keeps it (set_etag_bits, merge_core_dir_configs) and the ETag
 * http_etag.c's ap_make_etag makes from it: inode, size, mtime in hex, in that order.
 */
import { describe, expect, it } from 'vitest';
import { analyzeHtaccess } from '../src/grammar/htaccess-analysis.js';
import type { HostFacts } from '../src/grammar/conditions.js';
import { DEFAULT_OVERRIDE_OPTS } from '../src/grammar/validate.js';
import { applyLevel, EMPTY_DIR_CONFIG, fileETagValue, type DirConfig } from '../src/engine/dir-config.js';

const MODULES = new Set(['core', 'headers']);
const FACTS: HostFacts = {
  hasModule: () => true,
  isDefined: () => false,
  defineValue: () => undefined,
  fileExists: () => false,
  hasDirective: () => true,
  version: '2.4.71',
};
const POLICY = { mask: 0x1f, opts: DEFAULT_OVERRIDE_OPTS, list: new Set<string>() };
const FILE = { size: 0x5e, mtimeUs: 0x38d7ea4c68000n, ino: 0x1234 };

/** Applies each text as one directory level, parent first. */
function levels(...texts: string[]): DirConfig {
  let cfg = EMPTY_DIR_CONFIG;
  for (const [i, text] of texts.entries()) {
    const a = analyzeHtaccess(text, `/site/${i}/.htaccess`, FACTS, MODULES, POLICY);
    expect(a.fatal).toBeFalsy();
    cfg = applyLevel(cfg, a.nodes, (m) => MODULES.has(m), DEFAULT_OVERRIDE_OPTS, `/site/${i}`);
  }
  return cfg;
}

describe('FileETag', () => {
  it('defaults to MTime Size', () => {
    expect(fileETagValue(levels(''), FILE)).toBe('"5e-38d7ea4c68000"');
  });
  it('None makes no ETag, and a child level inherits that', () => {
    expect(fileETagValue(levels('FileETag None'), FILE)).toBeUndefined();
    expect(fileETagValue(levels('FileETag None', ''), FILE)).toBeUndefined();
  });
  it('absolute keywords pick the parts, in inode-size-mtime order', () => {
    expect(fileETagValue(levels('FileETag All'), FILE)).toBe('"1234-5e-38d7ea4c68000"');
    expect(fileETagValue(levels('FileETag MTime INode'), FILE)).toBe('"1234-38d7ea4c68000"');
    expect(fileETagValue(levels('FileETag Size'), FILE)).toBe('"5e"');
  });
  it('+/- adjust what the parent set; an absolute setting replaces it', () => {
    expect(fileETagValue(levels('FileETag All', 'FileETag -INode'), FILE)).toBe('"5e-38d7ea4c68000"');
    expect(fileETagValue(levels('FileETag Size', 'FileETag +MTime'), FILE)).toBe('"5e-38d7ea4c68000"');
    expect(fileETagValue(levels('FileETag None', 'FileETag Size'), FILE)).toBe('"5e"');
    expect(fileETagValue(levels('FileETag All', 'FileETag None'), FILE)).toBeUndefined();
  });
});
