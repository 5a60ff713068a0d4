/**
 * The last-resort guard: an exception that escapes a request's handling — synchronously or later,
 * in a stream, socket, child-process or FastCGI callback — is traced back to its response and
 * ends that response alone (a 500 if nothing went out yet, otherwise the connection is cut),
 * while the server goes on. The causes are fixed where they start; this only makes a missed one
 * cost one request instead of the whole server.
 *
 * How a later exception finds its request, at no cost per async resource (an AsyncLocalStorage
 * scope cost about 6 µs per FastCGI request on Node 20: its init hook runs for every async
 * resource and every promise; docs/performance.md, session 8):
 * - while a request's own code runs, it is the running request (adapters/request-owner.ts):
 *   around its handler (`inRequestScope`), each callback bound to it (`bindToRequest`,
 *   `bindAllToRequest`: a kept FastCGI connection or the process pool calls them from another
 *   request's turn) and its body spool's completion;
 * - an exception leaving such code is remembered with its request, however far it then travels;
 * - what fires later on a request's behalf carries it: the response (tied when its handling
 *   starts), its connection (Node's `_httpMessage` is the response being written on it), a child
 *   process and its pipes, a FastCGI connection while it reads for the request. The
 *   uncaught-exception handler asks Node which resource's callback threw
 *   (`executionAsyncResource()`, still valid in that handler) and follows it to the request.
 */
import { executionAsyncResource } from 'node:async_hooks';
import { ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { callForRequest, type OwnedObject, REQUEST_OWNER, requestThrowing, runningRequest } from '../adapters/request-owner.js';
import type { FcgiExchange } from '../adapters/fcgi-client.js';
import { cannedErrorPage } from '../grammar/error-pages.js';
import { HostProcessCrash } from '../vocabulary/host-process-crash.js';

export interface RequestScope {
  res: ServerResponse;
  method: string;
  /** The request-target, for the log line. */
  url: string;
  serverAdmin: string;
  /** Writes the loud log line (the error and what happened to the response). */
  report: (err: unknown, outcome: string) => void;
  /** Logs a request on which the host's process would have crashed (not a bug of htsandbox). */
  reportHostCrash?: (err: HostProcessCrash) => void;
  /** Set once the guard has ended the response: later errors of the same request are only logged. */
  recovered?: boolean;
}

/** An object tied to its request (response, socket, child process, timer: REQUEST_OWNER). */
type Tagged = OwnedObject & { [REQUEST_OWNER]?: RequestScope };
/** The request whose code is running now (set around its handler and its bound callbacks). */
const current = (): RequestScope | undefined => runningRequest() as RequestScope | undefined;

/**
 * Runs a request's handling with the request as current (its response is tied to it too).
 * `fn` gets `arg`, so a caller can pass a function made once instead of a closure per request.
 */
export function inRequestScope<T, A = undefined>(scope: RequestScope, fn: (arg: A) => T, arg?: A): T {
  (scope.res as Tagged)[REQUEST_OWNER] = scope;
  return callForRequest(scope, fn as (a: unknown) => unknown, arg, undefined, undefined) as T;
}

/**
 * Binds a callback to the current request. For callbacks that a shared object (a kept FastCGI
 * connection, the process pool) calls later from another request's turn. The callbacks take at
 * most three arguments (the bound function passes three, undefined where none was given).
 */
// biome-ignore lint/suspicious/noExplicitAny: it wraps a callback of any arguments and gives its type back
export function bindToRequest<F extends (...args: any[]) => unknown>(fn: F): F {
  const scope = current();
  if (!scope) return fn;
  return bound(scope, fn as (...a: unknown[]) => unknown) as F;
}

/**
 * Binds a FastCGI exchange's four callbacks to the current request, field by field: named
 * stores keep this monomorphic, where a loop over the table's keys made every load and store
 * a megamorphic keyed one (seen in profiles of FastCGI requests). Returns a new table.
 */
export function bindExchange(e: FcgiExchange): FcgiExchange {
  const scope = current();
  if (!scope) return e;
  return {
    stdout: bound(scope, e.stdout as AnyCallback),
    stderr: bound(scope, e.stderr as AnyCallback),
    end: bound(scope, e.end as AnyCallback),
    error: bound(scope, e.error as AnyCallback),
  } as FcgiExchange;
}

type AnyCallback = (...a: unknown[]) => unknown;

function bound(scope: RequestScope, fn: (...a: unknown[]) => unknown): (a?: unknown, b?: unknown, c?: unknown) => unknown {
  return (a, b, c) => callForRequest(scope, fn, a, b, c);
}

/** Node's ChildProcess#spawn (public since Node 0.x, left out of @types/node). */
type Spawnable = { spawn: (...args: unknown[]) => unknown; stdio: readonly (object | null)[] };
const childPrototype = ChildProcess.prototype as unknown as Spawnable;
const spawnChild = childPrototype.spawn;
childPrototype.spawn = function spawnTagged(this: Spawnable, ...args: unknown[]) {
  const started = spawnChild.apply(this, args);
  const scope = current();
  if (scope) {
    (this as Tagged)[REQUEST_OWNER] = scope;
    for (const s of this.stdio ?? []) if (s) (s as Tagged)[REQUEST_OWNER] = scope;
  }
  return started;
};

let ownerSymbol: symbol | undefined;
/** Node's internal `owner_symbol` (handle → the socket or child process owning it), found once. */
function ownerOf(handle: object): unknown {
  if (!ownerSymbol) ownerSymbol = Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol');
  return ownerSymbol ? (handle as Record<symbol, unknown>)[ownerSymbol] : undefined;
}

/**
 * The request a resource fires for: its tag; a response's; a connection's current response
 * (`_httpMessage`); a request's connection; a handle's owner; a write request's handle; a
 * nextTick's arguments (Node emits 'end', 'finish', 'close' that way). Only called after an
 * uncaught exception, so it may look around.
 */
function requestOfResource(resource: unknown, depth = 0): RequestScope | undefined {
  if (depth > 3 || resource === null || (typeof resource !== 'object' && typeof resource !== 'function')) return undefined;
  const r = resource as Record<string | symbol, unknown>;
  const tagged = (r as Tagged)[REQUEST_OWNER];
  if (tagged) return tagged;
  const next: unknown[] = [r._httpMessage, r.socket, r.handle, ownerOf(r)];
  if (Array.isArray(r.args)) next.push(...r.args);
  for (const n of next) {
    const found = requestOfResource(n, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The request an escaped exception came from, if any can be found. */
function requestOfError(err: unknown): RequestScope | undefined {
  const known = (requestThrowing(err) as RequestScope | undefined) ?? current();
  if (known) return known;
  try {
    return requestOfResource(executionAsyncResource());
  } catch {
    return undefined; // a getter that throws: the exception stays outside any request
  }
}

/**
 * Ends the response of the request an escaped exception came from. False when the exception
 * belongs to no request (the caller logs it as fatal); the server keeps serving either way.
 * Call it from the process's 'uncaughtException' handler, where Node still knows which
 * resource's callback threw.
 */
export function recoverRequestFrom(err: unknown): boolean {
  const scope = requestOfError(err);
  if (!scope) return false;
  if (scope.recovered) {
    scope.report(err, 'the response had already been ended by the guard');
    return true;
  }
  scope.recovered = true;
  if (err instanceof HostProcessCrash) endAsHostCrashes(scope, err);
  else scope.report(err, endFailedResponse(scope));
  return true;
}

/**
 * Where Apache's child would crash (HostProcessCrash): the connection closes without an
 * answer, as the host's client sees it, and the log says why and what to change.
 */
export function endAsHostCrashes(scope: Pick<RequestScope, 'res' | 'report' | 'reportHostCrash'>, err: HostProcessCrash): void {
  scope.res.destroy();
  if (scope.reportHostCrash) scope.reportHostCrash(err);
  else scope.report(err, 'the connection is closed without an answer, as on the host');
}

/** A 500 with Apache's page when nothing went out yet, else the connection is cut. Says which. */
export function endFailedResponse(scope: Pick<RequestScope, 'res' | 'method' | 'serverAdmin'>): string {
  const { res } = scope;
  if (res.writableEnded) {
    res.destroy();
    return 'the response had ended; its connection is closed';
  }
  if (res.headersSent) {
    res.destroy();
    return 'part of the response had gone out: the connection is cut';
  }
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    const page = Buffer.from(cannedErrorPage(500, { method: scope.method, serverAdmin: scope.serverAdmin, signature: '' }), 'latin1');
    res.statusMessage = 'Internal Server Error';
    res.writeHead(500, { 'Content-Type': 'text/html; charset=iso-8859-1', 'Content-Length': String(page.length), Connection: 'close' });
    res.end(scope.method === 'HEAD' ? undefined : page);
    return 'answered 500';
  } catch {
    res.destroy();
    return 'the 500 could not be sent: the connection is cut';
  }
}
