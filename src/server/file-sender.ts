/**
 * Sends a large static file's bytes: reads of FILE_CHUNK_BYTES into a buffer the response keeps
 * for its whole length, each written before the next read. A read stream (64 KiB reads, a new
 * Buffer each) made a 10 MiB answer 160 reads, writes and garbage buffers; Apache maps the file
 * in 4 MiB windows and writes them (EnableSendfile is off on the host). Buffers go back to a
 * small pool when a response ends, so steady traffic allocates nothing and the memory held is
 * one chunk per response being sent.
 */
import { close, read } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** How much of the file is read and written at a time. */
export const FILE_CHUNK_BYTES = 512 * 1024;
/** Free buffers kept for the next responses (more are collected as garbage). */
const POOL_MAX = 8;
const pool: Buffer[] = [];

/**
 * Writes `size` bytes of the open file `fd` from `start` to `res` and ends it; closes `fd` in
 * every case. A file that became shorter than `size` meanwhile ends the connection (the length
 * already promised cannot be kept), as does a read error; a client that leaves stops it.
 */
export function sendFileBytes(fd: number, res: ServerResponse, start: number, size: number): void {
  let buf: Buffer | undefined = pool.pop() ?? Buffer.allocUnsafe(FILE_CHUNK_BYTES);
  let position = start;
  let left = size;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    close(fd, () => undefined);
    // Reused only once no write holds it (finish is called from a write's callback, or when
    // the response is gone and nothing more is written from it).
    if (buf && !writing && pool.length < POOL_MAX) pool.push(buf);
    buf = undefined;
  };
  let writing = false;
  res.once('close', () => {
    if (!done) {
      if (writing) buf = undefined; // the socket may still hold it: leave it to the collector
      finish();
    }
  });
  const next = (): void => {
    if (done || !buf) return;
    if (left === 0) {
      res.end();
      finish();
      return;
    }
    read(fd, buf, 0, Math.min(buf.length, left), position, (err, n) => {
      if (done || !buf) return;
      if (err || n === 0) {
        // A read error, or the file is shorter than the length sent: the answer cannot be whole.
        finish();
        res.destroy();
        return;
      }
      position += n;
      left -= n;
      writing = true;
      res.write(n === buf.length ? buf : buf.subarray(0, n), (writeErr) => {
        writing = false;
        if (writeErr) {
          finish();
          return;
        }
        next();
      });
    });
  };
  next();
}
