/**
 * The last-resort guard: each request's handling runs in an async scope, so an exception that
 * escapes it — synchronously or later, in a stream or socket callback — can be traced back to
 * its response and end that response alone (a 500 if nothing went out yet, otherwise the
 * connection is cut), while the server goes on. The causes are fixed where they start; this
 * only makes a missed one cost one request instead of the whole server.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
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

const requestScope = new AsyncLocalStorage<RequestScope>();

/** Runs a request's handling in its scope (everything it starts, callbacks included, inherits it). */
export function inRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return requestScope.run(scope, fn);
}

/**
 * Binds a callback to the current request's scope. For callbacks that a shared object (a kept
 * FastCGI connection, the process pool) calls later from another request's context. The scope
 * is re-entered with run() on each call: AsyncResource.bind made a FastCGI request cost 50 %
 * more CPU.
 */
// biome-ignore lint/suspicious/noExplicitAny: it wraps a callback of any arguments and gives its type back
export function bindToRequest<F extends (...args: any[]) => unknown>(fn: F): F {
  const scope = requestScope.getStore();
  if (!scope) return fn;
  return ((...args: Parameters<F>) => requestScope.run(scope, fn, ...args)) as F;
}

/**
 * Binds every function of a callback table (a FastCGI exchange) to the current request. The
 * table itself is changed and returned: pass a fresh literal.
 */
export function bindAllToRequest<T extends object>(table: T): T {
  const scope = requestScope.getStore();
  if (!scope) return table;
  // Replaced in place (the tables are fresh literals): no copy and no entry arrays per request.
  const out = table as Record<string, unknown>;
  for (const k in out) {
    const v = out[k];
    if (typeof v === 'function') out[k] = bound(scope, v as (...a: unknown[]) => unknown);
  }
  return table;
}

function bound(scope: RequestScope, fn: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
  return (...args) => requestScope.run(scope, fn, ...args);
}

/**
 * Ends the response of the request an escaped exception came from. False when the exception
 * belongs to no request (the caller logs it as fatal); the server keeps serving either way.
 */
export function recoverRequestFrom(err: unknown): boolean {
  const scope = requestScope.getStore();
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
