/**
 * A match limit for the patterns only a backtracking engine can run (backreferences,
 * lookaround: the JavaScript fallback of src/grammar/regex.ts). PCRE2 under Apache's
 * `ap_regexec` stops at its match limit and the caller sees no match; V8 cannot be stopped inside
 * one `RegExp.exec`. So those matches run on a worker thread while the server waits on a shared
 * word with a deadline (`Atomics.wait`); at the deadline the worker is terminated (V8 interrupts
 * the match), the answer is "no match", a log line names the pattern, and a fresh worker is
 * started for the next one. The server is held up for at most the limit, once per hostile match.
 */
import { Worker } from 'node:worker_threads';
import { bytesBack, setBacktrackingExec, type BacktrackingMatch } from '../grammar/regex.js';

/** Wall-clock bound of one match; PCRE2's default match limit (10,000,000) is of this order. */
export const REGEX_MATCH_LIMIT_MS = 100;
/** Longest request + answer that fits the shared buffer (request lines and headers are far shorter). */
const BUFFER_BYTES = 1 << 20;
/** How long the first match may wait for a worker to start. */
const START_MS = 5000;

// Control words: [state, byte length of the payload].
const IDLE = 0;
const REQUEST = 1;
const ANSWER = 2;
const STARTING = 3;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData, 0, 2);
const data = new Uint8Array(workerData, 8);
const enc = new TextEncoder();
const dec = new TextDecoder();
const cache = new Map();
Atomics.store(ctl, 0, ${IDLE});
Atomics.notify(ctl, 0);
for (;;) {
  Atomics.wait(ctl, 0, ${IDLE});
  if (Atomics.load(ctl, 0) !== ${REQUEST}) continue;
  const { source, flags, subject } = JSON.parse(dec.decode(data.slice(0, ctl[1])));
  const key = flags + '/' + source;
  let re = cache.get(key);
  if (re === undefined) {
    if (cache.size >= 4096) cache.clear();
    re = new RegExp(source, flags);
    cache.set(key, re);
  }
  let m = null;
  try {
    m = re.exec(subject);
  } catch {
    // V8 out of backtrack stack: PCRE2 would fail too (ap_regexec: no match).
  }
  const out = enc.encode(JSON.stringify(m === null ? null : { index: m.index, match: Array.from(m, (x) => (x === undefined ? null : x)), groups: m.groups ?? null }));
  if (out.length > data.length) {
    ctl[1] = 0;
  } else {
    data.set(out);
    ctl[1] = out.length;
  }
  Atomics.store(ctl, 0, ${ANSWER});
  Atomics.notify(ctl, 0);
}
`;

export interface MatchLimitEvent {
  /** The JavaScript pattern, its high bytes where the pattern names them (regex.ts moves them apart). */
  source: string;
  subjectLength: number;
  reason: 'limit' | 'too long' | 'worker failed';
}

let shared: SharedArrayBuffer | undefined;
let worker: Worker | undefined;
let onLimit: (e: MatchLimitEvent) => void = () => {};
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function startWorker(): Int32Array {
  // A new buffer for each worker: one given up on may still write its late answer into the old.
  shared = new SharedArrayBuffer(8 + BUFFER_BYTES);
  const ctl = new Int32Array(shared, 0, 2);
  Atomics.store(ctl, 0, STARTING);
  const w = new Worker(WORKER_SOURCE, { eval: true, workerData: shared });
  w.unref();
  w.on('error', () => {
    if (worker === w) worker = undefined;
  });
  w.on('exit', () => {
    if (worker === w) worker = undefined;
  });
  worker = w;
  return ctl;
}

function stopWorker(): void {
  const w = worker;
  worker = undefined;
  // terminate() interrupts a running match; the thread ends on its own (asynchronously).
  if (w) void w.terminate();
}

function boundedExec(source: string, flags: string, subject: string): BacktrackingMatch | null {
  const ctl = worker && shared ? new Int32Array(shared, 0, 2) : startWorker();
  if (Atomics.load(ctl, 0) === STARTING && Atomics.wait(ctl, 0, STARTING, START_MS) === 'timed-out') {
    stopWorker();
    onLimit({ source: bytesBack(source), subjectLength: subject.length, reason: 'worker failed' });
    return null;
  }
  const data = new Uint8Array(shared!, 8);
  const request = encoder.encode(JSON.stringify({ source, flags, subject }));
  if (request.length > data.length) {
    onLimit({ source: bytesBack(source), subjectLength: subject.length, reason: 'too long' });
    return null;
  }
  data.set(request);
  ctl[1] = request.length;
  Atomics.store(ctl, 0, REQUEST);
  Atomics.notify(ctl, 0);
  const deadline = performance.now() + REGEX_MATCH_LIMIT_MS;
  while (Atomics.load(ctl, 0) === REQUEST) {
    const left = deadline - performance.now();
    if (left <= 0 || Atomics.wait(ctl, 0, REQUEST, left) === 'timed-out') break;
  }
  if (Atomics.load(ctl, 0) !== ANSWER) {
    stopWorker();
    onLimit({ source: bytesBack(source), subjectLength: subject.length, reason: 'limit' });
    return null;
  }
  if (ctl[1] === 0) {
    Atomics.store(ctl, 0, IDLE);
    onLimit({ source: bytesBack(source), subjectLength: subject.length, reason: 'too long' });
    return null;
  }
  const answer = JSON.parse(decoder.decode(data.slice(0, ctl[1]))) as { index: number; match: (string | null)[]; groups: Record<string, string | null> | null } | null;
  Atomics.store(ctl, 0, IDLE);
  if (answer === null) return null;
  const groups = answer.groups ? Object.fromEntries(Object.entries(answer.groups).map(([k, v]) => [k, v ?? undefined])) : undefined;
  return { index: answer.index, match: answer.match.map((x) => x ?? undefined), groups };
}

/**
 * Runs every backtracking match from now on under the limit; `report` is told of each match
 * given up (the server logs it). Idempotent: a later call only replaces `report`.
 */
export function installRegexMatchLimit(report: (e: MatchLimitEvent) => void): void {
  onLimit = report;
  setBacktrackingExec(boundedExec);
}
