/**
 * One FastCGI request on a fresh connection, the way mod_fcgid sends it (request id 1, PARAMS
 * in whole pairs, the empty PARAMS and STDIN terminators, END_REQUEST ends the response).
 */
import { connect } from 'node:net';
import {
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  encodeStream,
  RecordDecoder,
  RecordType,
  Role,
} from '../grammar/fastcgi-records.js';

export interface FcgiExchange {
  stdout(chunk: Buffer): void;
  stderr(text: string): void;
  /** END_REQUEST arrived. */
  end(): void;
  /** The exchange failed before END_REQUEST (mod_fcgid's wording). */
  error(message: string): void;
}

/** Sends one request; returns a function that aborts it (closing the connection). */
export function fcgiRequest(
  socketPath: string,
  params: Record<string, string>,
  body: Buffer | undefined,
  ioTimeoutMs: number,
  on: FcgiExchange,
  role: number = Role.RESPONDER,
): () => void {
  const records = encodeParams(1, params);
  if (!records) {
    queueMicrotask(() => on.error("mod_fcgid: can't init env request header"));
    return () => undefined;
  }
  const sock = connect(socketPath);
  let done = false;
  const finish = (): void => {
    done = true;
    sock.destroy();
  };
  sock.setTimeout(ioTimeoutMs, () => {
    if (done) return;
    finish();
    on.error(`mod_fcgid: read data timeout in ${Math.round(ioTimeoutMs / 1000)} seconds`);
  });
  const out: Buffer[] = [encodeBeginRequest(1, role, 0), ...records, encodeRecord(RecordType.PARAMS, 1)];
  if (role === Role.RESPONDER) {
    if (body && body.length) out.push(...encodeStream(RecordType.STDIN, 1, body));
    out.push(encodeRecord(RecordType.STDIN, 1));
  }
  sock.write(Buffer.concat(out));
  const decoder = new RecordDecoder();
  sock.on('data', (chunk: Buffer) => {
    if (done) return;
    const r = decoder.push(chunk);
    for (const rec of r.records) {
      if (rec.type === RecordType.STDOUT) {
        if (rec.content.length) on.stdout(rec.content);
      } else if (rec.type === RecordType.STDERR) {
        for (const line of rec.content.toString('latin1').split(/[\r\n]+/)) if (line) on.stderr(line);
      } else if (rec.type === RecordType.END_REQUEST) {
        finish();
        on.end();
        return;
      }
    }
    if (r.error) {
      finish();
      on.error(`mod_fcgid: ${r.error}`);
    }
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    if (done) return;
    finish();
    const errno = err.code === 'ECONNRESET' ? '(104)Connection reset by peer' : err.code === 'ECONNREFUSED' ? '(111)Connection refused' : `(${err.errno ?? 0})${err.message}`;
    on.error(`${errno}: mod_fcgid: error reading data from FastCGI server`);
  });
  sock.on('end', () => {
    if (done) return;
    finish();
    on.error('mod_fcgid: error reading data, FastCGI server closed connection');
  });
  return () => {
    if (!done) finish();
  };
}
