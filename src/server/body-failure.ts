/**
 * A request body that fails while its request is being answered: bad chunked framing, or a
 * client that half-closes before sending all of its Content-Length. Node's parser reports it on
 * the connection (`clientError`), not on the request, and often before the handler has even
 * started. On Apache the handler reading the body gets the error and answers with it instead
 * (mod_cgid's cgid_handler returns ap_map_http_request_error's 400, or 413 for a chunk size
 * that overflows), so the failure is recorded on the request here for the handler to take.
 */
import type { IncomingMessage } from 'node:http';

export interface BodyFailure {
  /** The client closed before its Content-Length, or sent chunks that cannot be read. */
  kind: 'cut-short' | 'bad-chunk';
  /** What mod_cgid answers: 400, or 413 for a chunk size too big to read. */
  status: 400 | 413;
  /** What went wrong, for the log line. */
  reason: string;
}

interface FailureState {
  failure?: BodyFailure;
  /** A handler answered with the failure: the connection only has to close after it. */
  answered: boolean;
  /** The running handler's way to stop and answer; true if it did. */
  take?: (failure: BodyFailure) => boolean;
}

/**
 * The state lives on the request object, not in a WeakMap keyed by it: measured on Node 20, the
 * young-generation collections kept such an entry's value alive, and the state holds the
 * handler's closures, so every CGI request's objects were copied and promoted (5.5 KB per
 * request against 1.4 KB; GC 19 µs per request against 6; docs/performance.md, session 9).
 */
const STATE = Symbol('htsandbox.bodyFailure');
type WithState = IncomingMessage & { [STATE]?: FailureState };

function stateOf(req: IncomingMessage): FailureState {
  return ((req as WithState)[STATE] ??= { answered: false });
}

/** The connection's parser failed in `req`'s body: the running handler may answer with it. */
export function reportBodyFailure(req: IncomingMessage, failure: BodyFailure): void {
  const s = stateOf(req);
  if (s.failure) return;
  s.failure = failure;
  if (s.take?.(failure)) s.answered = true;
}

/**
 * For a handler about to read the body: the failure already met (the handler then answers it
 * and calls `answeredBodyFailure`), or undefined and `take` is called if one comes later.
 */
export function watchBodyFailure(req: IncomingMessage, take: (failure: BodyFailure) => boolean): BodyFailure | undefined {
  const s = stateOf(req);
  if (s.failure) return s.failure;
  s.take = take;
  return undefined;
}

/** The handler answered with the failure met before it started. */
export function answeredBodyFailure(req: IncomingMessage): void {
  stateOf(req).answered = true;
}

/** Whether the request's answer was its body's failure (nothing more is to be written). */
export function bodyFailureAnswered(req: IncomingMessage): boolean {
  return (req as WithState)[STATE]?.answered === true;
}
