/**
 * The server's `RewriteMap`s at run time: text maps read through a cache that lasts until the
 * file's mtime changes (as mod_rewrite's), `int:` functions, and `prg:` programs started once
 * with the server and asked one line per lookup.
 */
import { closeSync, createReadStream, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RewriteMapLookup } from '../engine/resolve.js';
import { internalMap, lookupTextMap, pickRandomPart, type RewriteMapSpec } from '../grammar/rewrite-map.js';
import { textAsBytes } from '../grammar/byte-strings.js';
import { fastSpawn, reapLater } from './fast-spawn.js';

type Log = (level: 'error' | 'warn' | 'info', message: string) => void;

/**
 * How long a lookup waits for a map program's line. mod_rewrite waits for ever, holding a
 * global lock, so one stuck program stalls every request that uses it; htsandbox gives up,
 * logs it and treats the map as failed (docs/differences.md).
 */
const PROGRAM_ANSWER_MS = 5000;

interface MapProgram {
  pid: number;
  stdinFd: number;
  stdoutFd: number;
  broken: boolean;
}

export class RewriteMapStore implements RewriteMapLookup {
  private readonly specs = new Map<string, RewriteMapSpec>();
  private readonly textCache = new Map<string, { mtimeMs: number; values: Map<string, string | undefined> }>();
  private readonly programs = new Map<string, MapProgram>();
  private readonly warned = new Set<string>();

  constructor(
    specs: readonly RewriteMapSpec[],
    private readonly log: Log,
  ) {
    for (const s of specs) this.specs.set(s.name, s);
  }

  /** Apache refuses to start when a map's file is missing; so do we. */
  static missingFile(spec: RewriteMapSpec): string | undefined {
    const file = spec.type === 'txt' || spec.type === 'rnd' ? spec.file : spec.type === 'prg' ? spec.argv[0] : undefined;
    if (file === undefined) return undefined;
    try {
      statSync(file);
      return undefined;
    } catch {
      return `RewriteMap: file for map ${spec.name} not found:${file}`;
    }
  }

  /** Starts every `prg:` map, as mod_rewrite does at start-up. */
  startPrograms(): void {
    for (const spec of this.specs.values()) {
      if (spec.type !== 'prg') continue;
      if (!fastSpawn) {
        this.log('error', `mod_rewrite: could not start RewriteMap program ${spec.argv[0]}: htsandbox's native helper is not built (run npm install)`);
        continue;
      }
      try {
        // The server's own environment is text (Node decoded it as UTF-8): a helper that writes
        // byte strings (envBytes) gets its UTF-8 bytes back as one.
        const env = Object.entries(process.env).map(([k, v]) => `${k}=${fastSpawn!.envBytes ? textAsBytes(v ?? '') : (v ?? '')}`);
        const [pid, stdinFd, stdoutFd, stderrFd] = fastSpawn.spawn(spec.argv[0]!, spec.argv, env, dirname(spec.argv[0]!));
        // What the program says on stderr goes to the error log, as Apache's does.
        createReadStream('', { fd: stderrFd })
          .on('data', (chunk) => {
            for (const line of chunk.toString().split('\n')) if (line) this.log('error', `RewriteMap ${spec.name}: ${line}`);
          })
          .on('error', () => undefined);
        this.programs.set(spec.name, { pid, stdinFd, stdoutFd, broken: false });
      } catch (err) {
        this.log('error', `AH00654: mod_rewrite: could not start RewriteMap program ${spec.argv[0]}: ${(err as Error).message}`);
      }
    }
  }

  lookup(name: string, key: string): string | undefined {
    const spec = this.specs.get(name);
    if (!spec) return undefined;
    switch (spec.type) {
      case 'txt':
      case 'rnd': {
        const value = this.textValue(spec.file, key);
        if (value === undefined || spec.type === 'txt') return value;
        return pickRandomPart(value, (n) => Math.floor(Math.random() * n));
      }
      case 'int':
        return internalMap(spec.func, key);
      case 'prg':
        return this.askProgram(name, key);
      default:
        if (!this.warned.has(name)) {
          this.warned.add(name);
          this.log('warn', `RewriteMap ${name}: ${spec.type} maps are not emulated; every lookup gives the default`);
        }
        return undefined;
    }
  }

  private textValue(file: string, key: string): string | undefined {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      this.log('error', `AH00661: mod_rewrite: can't access text RewriteMap file ${file}`);
      return undefined;
    }
    let cache = this.textCache.get(file);
    if (!cache || cache.mtimeMs !== mtimeMs) {
      cache = { mtimeMs, values: new Map() };
      this.textCache.set(file, cache);
    }
    if (cache.values.has(key)) return cache.values.get(key);
    let value: string | undefined;
    try {
      value = lookupTextMap(readFileSync(file, 'latin1'), key);
    } catch {
      this.log('error', `AH00655: mod_rewrite: can't open text RewriteMap file ${file}`);
      return undefined;
    }
    cache.values.set(key, value);
    return value;
  }

  /** `lookup_map_program`: writes `key\n`, reads one line; `NULL` means no value. */
  private askProgram(name: string, key: string): string | undefined {
    const prog = this.programs.get(name);
    // A newline in the key would leave the program one answer out of step (mod_rewrite refuses it too).
    if (!prog || prog.broken || key.includes('\n') || !fastSpawn) return undefined;
    try {
      writeSync(prog.stdinFd, Buffer.from(`${key}\n`, 'latin1'));
      const parts: Buffer[] = [];
      const buf = Buffer.alloc(1);
      for (;;) {
        const ready = fastSpawn.pollIn(prog.stdoutFd, PROGRAM_ANSWER_MS);
        if (ready <= 0) throw new Error(ready === 0 ? `no answer within ${PROGRAM_ANSWER_MS / 1000} s` : `poll failed (${-ready})`);
        // One byte at a time, as mod_rewrite reads: nothing past the newline may be consumed.
        if (readSync(prog.stdoutFd, buf, 0, 1, null) === 0) throw new Error('the program exited');
        if (buf[0] === 0x0a) break;
        parts.push(Buffer.from(buf));
      }
      const line = Buffer.concat(parts).toString('latin1');
      return line.toUpperCase() === 'NULL' ? undefined : line;
    } catch (err) {
      prog.broken = true;
      this.log('error', `RewriteMap ${name} (${prog.pid}): ${(err as Error).message}; its lookups fail from now on, as a dead map program's do on the host`);
      return undefined;
    }
  }

  /** Ends every map program (closing its stdin first, then its process group). */
  shutdown(): void {
    for (const prog of this.programs.values()) {
      for (const fd of [prog.stdinFd, prog.stdoutFd]) {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
      }
      try {
        process.kill(-prog.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      reapLater(prog.pid, () => undefined);
    }
    this.programs.clear();
  }
}
