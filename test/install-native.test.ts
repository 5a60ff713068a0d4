/**
 * npm's install step never fails the install for the optional native helper: without a C
 * compiler (or with HTSANDBOX_SKIP_NATIVE=1) it builds nothing, exits 0 and says in one line
 * what htsandbox uses instead (README, "Install").
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/private-apache.js';

const script = join(PROJECT_ROOT, 'scripts', 'install-native.mjs');
/** A PATH with node and nothing else: no compiler, no Python, no make. */
const bareBin = mkdtempSync(join(tmpdir(), 'htsandbox-nocc-'));
symlinkSync(process.execPath, join(bareBin, 'node'));
afterAll(() => rmSync(bareBin, { recursive: true, force: true }));

function runInstallStep(env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('the install step for the native helper', () => {
  it('builds nothing and succeeds on a machine without a C compiler', () => {
    const r = runInstallStep({ PATH: bareBin });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^htsandbox: native helper not built \(no C compiler on PATH; install gcc to get it\); htsandbox uses Node's own spawn/);
  });

  it('builds nothing when HTSANDBOX_SKIP_NATIVE=1', () => {
    const r = runInstallStep({ PATH: process.env.PATH ?? '', HTSANDBOX_SKIP_NATIVE: '1' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/native helper not built \(HTSANDBOX_SKIP_NATIVE=1\)/);
  });
});
