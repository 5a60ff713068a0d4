/** The HTTP front: parses the request line, asks the resolver, responds; logs as Apache would. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { LogEvent, RequestFacts } from '../engine/resolve.js';
import { resolveRequest } from '../engine/resolve.js';
import { respond } from './responder.js';
import { accessLogTime } from '../grammar/apache-time.js';
import { normalizeRequestPath } from '../grammar/url-path.js';
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

/** The most directories ahead of a walk whose access files `prepare` looks at. */
const MAX_PREPARED_DIRS = 64;

/**
 * The directories whose access files the walk of `rawPath` reads, from `/` down (the last
 * component may be a directory too). A guess is enough: a directory missed here is read
 * where the walk meets it.
 */
export function walkDirectories(documentRoot: string, rawPath: string): string[] {
  const norm = normalizeRequestPath(rawPath);
  if (!norm.ok || norm.uri.startsWith('/~')) return [];
  const parts = `${documentRoot}/${norm.uri}`.split('/').filter((p) => p !== '');
  const dirs = ['/'];
  let dir = '';
  for (const p of parts.slice(0, MAX_PREPARED_DIRS)) {
    dir += `/${p}`;
    dirs.push(dir);
  }
  return dirs;
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
    if (opts.accessLog) {
      const write = opts.accessLog;
      res.on('finish', () => {
        const len = res.getHeader('content-length');
        write(
          `${facts.remoteAddr} - - [${accessLogTime(started!)}] "${req.method} ${target} HTTP/${req.httpVersion}" ${res.statusCode} ${len ?? '-'} "${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}"`,
        );
      });
    }
    const answer = (): void => {
      try {
        const decision = resolveRequest(site, facts);
        respond(site, req, res, facts, decision, log);
      } catch (err) {
        logger.error({ err, url: target }, 'internal error while handling the request');
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/html; charset=iso-8859-1' });
        }
        res.end();
      }
    };
    let ahead: Promise<void> | undefined;
    try {
      site.fs.sync();
      // A huge .htaccess on the way is read first, in slices, so other clients go on being
      // answered meanwhile; the walk then finds it cached.
      ahead = site.fs.prepare(walkDirectories(site.documentRoot, rawPath));
    } catch (err) {
      logger.error({ err, url: target }, 'internal error while reading access files ahead of the request');
    }
    if (ahead) ahead.then(answer, answer);
    else answer();
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
