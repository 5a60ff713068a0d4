/**
 * A request body as mod_fcgid keeps it before a process is taken (`add_request_body`): in memory
 * up to FcgidMaxRequestInMem, the rest in a temporary file. The file is unlinked as soon as it
 * is opened, so nothing is left on disk whatever happens to the server.
 */
import { close, closeSync, openSync, read, unlinkSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runForRequest, runningRequest } from './request-owner.js';

/** A body past FcgidMaxRequestInMem: an open, already unlinked file of `size` bytes. */
export interface SpooledBody {
  fd: number;
  size: number;
  /** Reads `length` bytes at `position` (a short read only at the end). */
  read(position: number, length: number, done: (err: Error | null, data: Buffer) => void): void;
  close(): void;
}

export type RequestBody = Buffer | SpooledBody;

export const isSpooled = (b: RequestBody): b is SpooledBody => !Buffer.isBuffer(b);

let counter = 0;

/** Collects a body; `push` returns false while a write to the file is pending (pause the source). */
export class RequestBodySpool {
  private chunks: Buffer[] = [];
  private size = 0;
  private fd: number | undefined;
  private pending = 0;
  private failed: Error | undefined;
  private drained: (() => void) | undefined;
  private discarded = false;
  /** The request it collects for: `finish` calls back as that request (request-owner.ts). */
  private readonly owner = runningRequest();

  constructor(
    private readonly maxInMemory: number,
    /** Where the file goes; os.tmpdir() (read only when a body is spooled: it reads the environment). */
    private readonly dir?: string,
  ) {}

  get bytes(): number {
    return this.size;
  }

  push(chunk: Buffer, resume: () => void): boolean {
    this.size += chunk.length;
    if (this.fd === undefined && this.size <= this.maxInMemory) {
      this.chunks.push(chunk);
      return true;
    }
    if (this.fd === undefined) {
      const path = join(this.dir ?? tmpdir(), `htsandbox-body-${process.pid}-${++counter}`);
      try {
        this.fd = openSync(path, 'wx+', 0o600);
        unlinkSync(path);
      } catch (err) {
        this.failed = err as Error;
        return true;
      }
      const held = Buffer.concat(this.chunks);
      this.chunks = [];
      this.writeOut(held, () => undefined);
    }
    this.writeOut(chunk, resume);
    return this.pending === 0;
  }

  // One write at a time at an explicit position: concurrent fs.write calls run on different
  // threads and could land out of order.
  private queue: Buffer[] = [];
  private position = 0;
  private writing = false;
  private resumeSource: () => void = () => undefined;

  private writeOut(data: Buffer, resume: () => void): void {
    if (this.failed || this.discarded || data.length === 0) return;
    this.resumeSource = resume;
    this.queue.push(data);
    this.pending++;
    if (!this.writing) this.writeNext();
  }

  private writeNext(): void {
    const data = this.queue[0];
    if (!data) {
      this.writing = false;
      return;
    }
    this.writing = true;
    write(this.fd!, data, 0, data.length, this.position, (err, written) => {
      if (!err && written < data.length) {
        this.position += written;
        this.queue[0] = data.subarray(written);
        this.writeNext();
        return;
      }
      this.queue.shift();
      this.pending--;
      if (err) this.failed ??= err;
      else this.position += written;
      if (this.failed || this.discarded) {
        this.pending = 0;
        this.queue = [];
        this.writing = false;
      } else this.writeNext();
      if (this.pending === 0) {
        // The fd is closed only once no write is in flight: a reused fd number must never be written.
        if (this.discarded) {
          this.closeFile();
          return;
        }
        this.resumeSource();
        const d = this.drained;
        this.drained = undefined;
        d?.();
      }
    });
  }

  /** The whole body, once every write has landed. */
  finish(done: (err: Error | null, body: RequestBody) => void): void {
    const complete = (): void => {
      if (this.failed) {
        this.discard();
        done(this.failed, Buffer.alloc(0));
        return;
      }
      if (this.fd === undefined) {
        done(null, this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size));
        return;
      }
      const fd = this.fd;
      this.fd = undefined;
      let open = true;
      done(null, {
        fd,
        size: this.size,
        read: (position, length, cb) => {
          const buf = Buffer.allocUnsafe(length);
          read(fd, buf, 0, length, position, (err, n) => cb(err, buf.subarray(0, n)));
        },
        // Once only: a second close could hit a reused fd number.
        close: () => {
          if (open) close(fd, () => undefined);
          open = false;
        },
      });
    };
    if (this.pending === 0) runForRequest(this.owner, complete);
    else this.drained = () => runForRequest(this.owner, complete);
  }

  /** Drops what was collected (a body over the limit, a client that went away). */
  discard(): void {
    this.chunks = [];
    this.discarded = true;
    if (this.pending === 0) this.closeFile();
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
    this.fd = undefined;
  }
}
