// wrk runs and what they say. wrk 4.1 corrects latency for coordinated omission (a stalled
// request adds synthetic samples), so a few long stalls raise p99 far above what most requests
// took; req/s is the figure to compare, p99 says whether a server stalls.
import { spawn } from 'node:child_process';

function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(String(v));
  if (!m) return null;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

export function parseWrk(text) {
  const r = { rps: null, p50: null, p99: null, requests: null, errors: 0, non2xx: 0 };
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(text);
  if (rps) r.rps = Number(rps[1]);
  for (const [key, pct] of [
    ['p50', '50'],
    ['p99', '99'],
  ]) {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+(?:us|ms|s|m))\\s*$`, 'm').exec(text);
    if (m) r[key] = toMs(m[1]);
  }
  const req = /(\d+) requests in/.exec(text);
  if (req) r.requests = Number(req[1]);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (se) r.errors = se.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) r.non2xx = Number(non2xx[1]);
  return r;
}

let current = null;

/** `wrk -t1 -cC -dDs --latency` against 127.0.0.1:port/path. */
export function runWrk(port, path, { connections, seconds }) {
  return new Promise((resolve) => {
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', `http://127.0.0.1:${port}${path}`];
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', (e) => {
      out += String(e);
    });
    child.on('close', () => {
      current = null;
      resolve({ ...parseWrk(out), raw: out });
    });
  });
}

/** Ends a wrk run in progress (Ctrl-C). */
export function stopWrk() {
  if (current?.pid) {
    try {
      process.kill(current.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
