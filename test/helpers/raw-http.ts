/**
 * Raw HTTP over a socket, for requests Node's http client refuses to send (smuggling, malformed
 * request lines, bare LFs, control bytes) and for reading what a server really wrote back.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** Every byte the server sent. */
  data: Buffer;
  /** How the exchange ended: the server closed, reset, or had not finished when we gave up. */
  end: 'closed' | 'reset' | 'timeout';
}

export interface RawOptions {
  /** Shut our sending side down after the request (a client that half-closes). */
  halfClose?: boolean;
  /** Give up (and close) after this long. */
  timeoutMs?: number;
}

/** Sends `bytes` to 127.0.0.1:port and collects the answer until the server closes. */
export function sendRaw(port: number, bytes: Buffer, opts: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock = connect(port, '127.0.0.1');
    const finish = (end: RawAnswer['end']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), end });
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 5_000);
    sock.on('connect', () => {
      sock.write(bytes);
      if (opts.halfClose) sock.end();
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => finish('closed'));
    sock.on('close', () => finish('closed'));
    sock.on('error', () => finish('reset'));
  });
}

/**
 * The status lines of the responses in `data`, in order (interim 1xx included). Bodies are
 * skipped by Content-Length or chunked framing; bytes that do not start a response are reported
 * as `non-http (N bytes)` (an HTTP/0.9 answer), a head cut short as `truncated`.
 */
export function statusLines(data: Buffer): string[] {
  const s = data.toString('latin1');
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (!s.startsWith('HTTP/', i)) {
      out.push(`non-http (${s.length - i} bytes)`);
      break;
    }
    const headEnd = s.indexOf('\r\n\r\n', i);
    if (headEnd < 0) {
      out.push('truncated');
      break;
    }
    const [line, ...fields] = s.slice(i, headEnd).split('\r\n');
    out.push(line!);
    const code = Number(line!.split(' ')[1]);
    const field = (name: string): string | undefined =>
      fields
        .find((f) => f.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    let j = headEnd + 4;
    if ((code >= 100 && code < 200) || code === 204 || code === 304) {
      i = j;
      continue;
    }
    const te = field('transfer-encoding');
    const cl = field('content-length');
    if (te && /chunked/i.test(te)) {
      for (;;) {
        const eol = s.indexOf('\r\n', j);
        if (eol < 0) return out;
        const size = Number.parseInt(s.slice(j, eol), 16);
        if (!Number.isFinite(size)) return out;
        j = eol + 2 + size + 2;
        if (size === 0) {
          // trailers end with an empty line; with none, the CRLF after the 0 chunk was it
          const trailerEnd = s.indexOf('\r\n\r\n', eol);
          j = s.startsWith('\r\n', eol + 2) ? eol + 4 : trailerEnd < 0 ? s.length : trailerEnd + 4;
          break;
        }
      }
    } else if (cl !== undefined && /^\d+$/.test(cl)) {
      j += Number(cl);
    } else {
      j = s.length;
    }
    i = j;
  }
  return out;
}

/** The status codes of `statusLines` (or the whole entry when it is not a status line). */
export function statusCodes(lines: string[]): string[] {
  return lines.map((l) => (l.startsWith('HTTP/') ? (l.split(' ')[1] ?? l) : l));
}
