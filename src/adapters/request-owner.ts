/**
 * Which request the running code works for, and the tag that ties an object calling back later
 * (a child's pipe, a FastCGI connection, a timer) to it. Kept here, below the server, so adapters
 * can tag what they create on a request's behalf and call back into a request as it; the
 * server's last-resort guard (server/request-guard.ts) follows these after an uncaught exception.
 * A plain pointer and a property: nothing per async resource, unlike an AsyncLocalStorage scope
 * on Node 20 (docs/performance.md, session 8).
 */

/** The property holding the request (the guard's scope object) an object fires for. */
export const REQUEST_OWNER = Symbol('htsandbox.requestOwner');

export type OwnedObject = { [REQUEST_OWNER]?: object };

let running: object | undefined;
/** Exceptions that left code run for a request, with that request (objects only). */
const thrownFor = new WeakMap<object, object>();
/** The last other value thrown out of code run for a request, with the request. */
let lastThrownValue: { value: unknown; owner: object } | undefined;

/** The request whose code is running now, if any. */
export function runningRequest(): object | undefined {
  return running;
}

/** Ties `obj` to the running request (nothing when none runs); returns `obj`. */
export function tagWithRunningRequest<T extends object>(obj: T): T {
  if (running) (obj as OwnedObject)[REQUEST_OWNER] = running;
  return obj;
}

/**
 * Runs `fn` as code of request `owner` (undefined: as whatever runs now). An exception leaving
 * it goes on to the caller as before, remembered with the request, so the guard can end that
 * request's response however far the exception then travels.
 */
export function runForRequest<A extends unknown[], R>(owner: object | undefined, fn: (...args: A) => R, ...args: A): R {
  if (!owner) return fn(...args);
  const outer = running;
  running = owner;
  try {
    return fn(...args);
  } catch (err) {
    noteThrown(err, owner);
    throw err;
  } finally {
    running = outer;
  }
}

/**
 * runForRequest for a callback of at most three arguments, passed as they are: no rest array
 * and no spread call (a bound FastCGI callback runs several times per request).
 */
export function callForRequest(owner: object, fn: (a: unknown, b: unknown, c: unknown) => unknown, a: unknown, b: unknown, c: unknown): unknown {
  const outer = running;
  running = owner;
  try {
    return fn(a, b, c);
  } catch (err) {
    noteThrown(err, owner);
    throw err;
  } finally {
    running = outer;
  }
}

/** Remembers that `err` left code run for `owner`. */
function noteThrown(err: unknown, owner: object): void {
  if ((typeof err === 'object' && err !== null) || typeof err === 'function') thrownFor.set(err, owner);
  else lastThrownValue = { value: err, owner };
}

/** The request an exception was thrown for, when it left code run by runForRequest. */
export function requestThrowing(err: unknown): object | undefined {
  if ((typeof err === 'object' && err !== null) || typeof err === 'function') return thrownFor.get(err);
  return lastThrownValue && Object.is(lastThrownValue.value, err) ? lastThrownValue.owner : undefined;
}
