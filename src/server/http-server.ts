/** The HTTP front: parses the request line, asks the resolver, responds; logs as Apache would. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { LogEvent, RequestFacts } from '../engine/resolve.js';
import { resolveRequest } from '../engine/resolve.js';
import { respond } from './responder.js';
import { endFailedResponse, inRequestScope, type RequestScope } from './request-guard.js';
import { accessLogTime } from '../grammar/apache-time.js';
import type { SiteContext } from './site-context.js';

export interface HttpFrontOptions {
  site: SiteContext;
  logger: Logger;
  /** Where combined-format access lines go (undefined: nowhere). */
  accessLog?: (line: string) => void;
}


function remoteAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '0.0.0.0';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Creates the server (not yet listening). */
export function createHttpFront(opts: HttpFrontOptions): Server {
  const { site, logger } = opts;
  const server = createServer({ requireHostHeader: false }, (req: IncomingMessage, res: ServerResponse) => {
    const started = opts.accessLog ? new Date() : undefined;
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    const hostHeader = req.headers.host ?? `${site.serverName}`;
    const facts: RequestFacts = {
      method: req.method ?? 'GET',
      rawPath,
      query: q === -1 ? undefined : target.slice(q + 1),
      remoteAddr: remoteAddress(req),
      origin: `http://${hostHeader}`,
      headers: req.headers,
      rawTarget: target,
    };
    const log = (event: LogEvent, f: RequestFacts): void => {
      const line = `[${event.module}:${event.level}] [client ${f.remoteAddr}] ${event.message}`;
      const fields = { module: event.module, apache: line, url: target };
      const level = event.level === 'alert' || event.level === 'crit' ? 'error' : event.level === 'warn' ? 'warn' : event.level === 'info' ? 'debug' : 'error';
      logger[level](fields, event.message);
      if (event.explain) logger[level === 'debug' ? 'debug' : 'warn']({ module: 'htsandbox', url: target }, event.explain);
    };
    site.stats.requests++;
    res.setHeader('Server', 'Apache (htsandbox)');
    // The request's scope: an exception escaping its handling later (in a stream callback) ends
    // this response only (request-guard.ts; the serve command's process handlers find it).
    const scope: RequestScope = {
      res,
      method: facts.method,
      url: target,
      serverAdmin: site.serverAdmin,
      report: (err, outcome) =>
        logger.error({ module: 'htsandbox', err, url: target }, `internal error while handling ${facts.method} ${target} (${outcome}); the server goes on. This is a bug in htsandbox: please report it with this log line.`),
    };
    inRequestScope(scope, () => {
      try {
        site.fs.sync();
        const decision = resolveRequest(site, facts);
        respond(site, req, res, facts, decision, log);
      } catch (err) {
        scope.recovered = true;
        scope.report(err, endFailedResponse(scope));
      }
    });
    if (opts.accessLog) {
      const write = opts.accessLog;
      res.on('finish', () => {
        const len = res.getHeader('content-length');
        write(
          `${facts.remoteAddr} - - [${accessLogTime(started!)}] "${req.method} ${target} HTTP/${req.httpVersion}" ${res.statusCode} ${len ?? '-'} "${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}"`,
        );
      });
    }
  });
  // Track connections so shutdown can end idle keep-alive ones.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy(err);
  });
  return server;
}
