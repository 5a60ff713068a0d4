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
import { balancerClientKey, type PersistenceTable } from '../engine/lvs-persistence.js';
import { serveDashboard, type DashboardOptions } from './dashboard.js';
import type { RequestJournal, RequestRecord } from './request-journal.js';

export interface HttpFrontOptions {
  site: SiteContext;
  /** `--servers N`: the simulated real servers (server 1 is `site`) and the balancer's persistence. */
  backends?: { servers: SiteContext[]; persistence: PersistenceTable };
  logger: Logger;
  /** Where combined-format access lines go (undefined: nowhere). */
  accessLog?: (line: string) => void;
  /** Where requests are recorded for the dashboard (undefined: nowhere). */
  journal?: RequestJournal;
  /** The dashboard's path and who may see it (undefined: no dashboard). */
  dashboard?: DashboardOptions;
  /** Add `X-Htsandbox-Explain: <dashboard>/r/<id>` to every answer (off with --strict). */
  explainHeader?: boolean;
  /** Called once a request's answer has been sent (terminal request lines). */
  onRequestDone?: (rec: RequestRecord) => void;
}

/** What a request that logged nothing went wrong for, in plain words, by status. */
const PLAIN_REASONS: Record<number, string> = {
  400: 'The request itself is malformed (bad URL encoding, a bad header, or a path Apache refuses).',
  401: 'This directory asks for a login (Basic authentication) and no valid user and password came with the request.',
  403: 'The configuration forbids this path (a Require line, Options, or a file the host never serves).',
  404: 'No file or directory of that name exists under the site, and nothing (rewrite rule, script) answered for it.',
  405: 'This method is not allowed on this path.',
  413: 'The request body is larger than the configured limit.',
  500: 'The server could not answer: see the error log lines below for what the host logged.',
};


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
    if (opts.dashboard && opts.journal && serveDashboard(opts.backends?.servers ?? [site], opts.journal, opts.dashboard, req, res, rawPath, opts.backends?.persistence)) return;
    // The host's balancer sends the client to its server; each server has its own FastCGI processes.
    const server = opts.backends ? opts.backends.servers[opts.backends.persistence.route(balancerClientKey(facts.remoteAddr, req.headers['x-forwarded-for'] as string | undefined), Date.now())]! : site;
    const rec = opts.journal?.begin(req, target);
    if (rec) rec.server = server.server;
    if (rec && opts.explainHeader) res.setHeader('X-Htsandbox-Explain', `${opts.dashboard?.prefix ?? '/.htsandbox/'}r/${rec.id}`);
    const log = (event: LogEvent, f: RequestFacts): void => {
      const line = `[${event.module}:${event.level}] [client ${f.remoteAddr}] ${event.message}`;
      if (rec) {
        rec.log.push(line);
        if (event.explain) rec.reason ??= event.explain;
      }
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
        server.fs.sync();
        const decision = resolveRequest(server, facts);
        respond(server, req, res, facts, decision, log);
      } catch (err) {
        scope.recovered = true;
        scope.report(err, endFailedResponse(scope));
      }
    });
    if (rec) {
      const journal = opts.journal!;
      res.once('finish', () => {
        if (rec.reason === undefined && res.statusCode >= 400) {
          // Apache's own line says more than a generic sentence for a 500; for the rest, plain words.
          const plain = PLAIN_REASONS[res.statusCode];
          rec.reason = (res.statusCode === 500 || !plain) && rec.log.length ? rec.log[rec.log.length - 1] : plain;
        }
        journal.finish(rec, res.statusCode);
        opts.onRequestDone?.(rec);
      });
    }
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
