/**
 * A raw-socket HTTP client for tests of what node:http cannot send: malformed or oversized
 * request lines, half-closed connections, pipelined garbage, any method or request-target.
 */
import { connect } from 'node:net';

export interface RawExchangeOptions {
  /** Send FIN after the last chunk (the client half-closes, as `printf … | nc -N`). */
  halfClose?: boolean;
  /** Give up when nothing arrives for this long (ms); the exchange then ends as `idle`. */
  idleMs?: number;
  /** Pause between chunks (ms). */
  gapMs?: number;
}

export interface RawExchange {
  /** Everything the server sent, latin1. */
  text: string;
  /** How the exchange ended: the server closed, reset, or went silent. */
  end: 'closed' | 'reset' | 'idle';
}

/** Sends `chunks` on one connection and collects every byte the server sends back. */
export function rawExchange(port: number, chunks: (string | Buffer)[], opts: RawExchangeOptions = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (end: RawExchange['end']): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(got).toString('latin1'), end });
    };
    const idle = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => finish('idle'), opts.idleMs ?? 3000);
    };
    socket.on('data', (c: Buffer) => {
      got.push(c);
      idle();
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('reset'));
    socket.on('connect', async () => {
      idle();
      for (const [i, c] of chunks.entries()) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        if (socket.destroyed) return;
        socket.write(c);
      }
      if (opts.halfClose) socket.end();
    });
  });
}

/** The status lines of every response in a raw exchange, in order. */
export function statusLines(text: string): string[] {
  return [...text.matchAll(/^HTTP\/\d\.\d \d{3}[^\r\n]*/gm)].map((m) => m[0]);
}
