/**
 * The teaching dashboard at a reserved path (`/.htsandbox/` by default): a live page (Server-
 * Sent Events, no framework, works offline) of FastCGI processes, recent requests with the
 * reason for every error, process events and CGI spawn counts; a JSON API with the same data
 * (`api/status`); one page per request (`r/<id>`). Only loopback clients see it unless the
 * server was started with `--dashboard-public`; for anyone else the path is the site's as usual.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SiteContext } from './site-context.js';
import { recordHeaders, type RequestJournal, type RequestRecord } from './request-journal.js';
import { escapeHtml } from '../grammar/error-pages.js';
import type { PersistenceTable } from '../engine/lvs-persistence.js';
import { formatStory, tellStory, type Story } from '../adapters/request-story.js';

/** A request's story as the configuration reads now (paths shown from the site's root). */
function storyOf(servers: readonly SiteContext[], rec: RequestRecord): Story | undefined {
  const site = servers[Math.max(0, rec.server - 1)] ?? servers[0]!;
  const root = site.documentRoot.replace(/\/$/, '');
  const told = tellStory(site, { method: rec.method, url: rec.url, headers: Object.entries(recordHeaders(rec)).map(([k, v]) => `${k}: ${v}`) }, site.suexec, (p) =>
    p.startsWith(`${root}/`) ? p.slice(root.length) : p,
  );
  return 'error' in told ? undefined : told;
}

export interface DashboardOptions {
  /** URL path prefix, with a trailing slash (`/.htsandbox/`). */
  prefix: string;
  /** Serve it to clients that are not on loopback too. */
  public: boolean;
}

/** Is the address one of this machine's loopback addresses? */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.');
}

/** The JSON the API serves: processes, requests, events, counters. */
export function dashboardStatus(servers: readonly SiteContext[], journal: RequestJournal, persistence?: PersistenceTable) {
  const now = Date.now();
  const site = servers[0]!;
  const processes = servers
    .flatMap((s) => s.fcgiPool.status().map((p) => ({ ...p, server: s.server })))
    .sort((a, b) => a.label.localeCompare(b.label) || a.server - b.server || a.pid - b.pid)
    .map((p) => ({
      app: p.label,
      command: p.cmdline,
      pid: p.pid,
      state: p.state,
      requests: p.requests,
      ageSeconds: Math.round((now - p.startedAt) / 1000),
      idleSeconds: p.state === 'idle' ? Math.round((now - p.lastActiveAt) / 1000) : 0,
      oldCode: p.stale,
      server: p.server,
    }));
  return {
    server: {
      startedAt: new Date(site.stats.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - site.stats.startedAt) / 1000),
      requests: site.stats.requests,
      cgiSpawns: journal.cgiSpawns,
      recordingFcgi: journal.recordingFcgi,
      servers: servers.length,
      ...(persistence ? { clientsPerServer: persistence.clientsPerServer(now), persistenceSeconds: persistence.persistenceMs / 1000 } : {}),
    },
    processes,
    requests: journal.recent(100).map(publicRecord),
    events: journal.processEvents(100),
  };
}

/** A request as the API shows it (no internal fields). */
function publicRecord(r: RequestRecord) {
  return {
    id: r.id,
    time: new Date(r.time).toISOString(),
    method: r.method,
    url: r.url,
    status: r.status,
    handler: r.handler,
    server: r.server,
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
    ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

function sendHtml(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

/** Answers a dashboard request; false when the request is not for the dashboard (or not allowed to see it). */
export function serveDashboard(
  servers: readonly SiteContext[],
  journal: RequestJournal,
  opts: DashboardOptions,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  persistence?: PersistenceTable,
): boolean {
  if (!path.startsWith(opts.prefix) && path !== opts.prefix.slice(0, -1)) return false;
  if (!opts.public && !isLoopback(req.socket.remoteAddress)) return false;
  req.resume();
  const head = req.method === 'HEAD';
  const rest0 = path.length < opts.prefix.length ? '' : path.slice(opts.prefix.length);
  // The one thing the dashboard changes: whether FastCGI records are kept per request.
  if (rest0 === 'api/fcgi-records' && req.method === 'POST') {
    const on = /(?:^|&)on=(1|true|on)(?:&|$)/.test((req.url ?? '').split('?')[1] ?? '');
    journal.setRecordingFcgi(on);
    sendJson(res, 200, { recordingFcgi: journal.recordingFcgi }, false);
    return true;
  }
  if (req.method !== 'GET' && !head) {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' });
    res.end();
    return true;
  }
  const rest = path.length < opts.prefix.length ? '' : path.slice(opts.prefix.length);
  if (path === opts.prefix.slice(0, -1)) {
    res.writeHead(301, { Location: opts.prefix, 'Content-Length': '0' });
    res.end();
    return true;
  }
  if (rest === '') {
    sendHtml(res, 200, dashboardPage(opts.prefix), head);
    return true;
  }
  if (rest === 'api/status') {
    sendJson(res, 200, dashboardStatus(servers, journal, persistence), head);
    return true;
  }
  if (rest === 'api/events') {
    streamEvents(() => dashboardStatus(servers, journal, persistence), journal, req, res);
    return true;
  }
  const one = /^(?:api\/requests|r)\/(\d+)$/.exec(rest);
  if (one) {
    const rec = journal.get(Number(one[1]));
    if (rest.startsWith('api/')) {
      if (rec) {
        const story = storyOf(servers, rec);
        sendJson(
          res,
          200,
          { ...publicRecord(rec), log: rec.log, headers: recordHeaders(rec), ...(rec.fcgiRecords ? { fcgiRecords: rec.fcgiRecords } : {}), ...(story ? { story } : {}) },
          head,
        );
      } else sendJson(res, 404, { error: `no request ${one[1]} (the dashboard keeps the last 300)` }, head);
    } else sendHtml(res, rec ? 200 : 404, requestPage(opts.prefix, rec, Number(one[1]), rec ? storyOf(servers, rec) : undefined), head);
    return true;
  }
  sendJson(res, 404, { error: `no such dashboard page: ${rest}` }, head);
  return true;
}

/** Server-Sent Events: the whole status on connect and after each change (at most 4 per second). */
function streamEvents(snapshot: () => unknown, journal: RequestJournal, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
  const send = (): void => {
    res.write(`event: status\ndata: ${JSON.stringify(snapshot())}\n\n`);
  };
  let pending: NodeJS.Timeout | undefined;
  const stop = journal.listen((what) => {
    if (what === 'shutdown') {
      end();
      res.end();
      return;
    }
    pending ??= setTimeout(() => {
      pending = undefined;
      send();
    }, 250);
  });
  // Ages and idle times move without events; a comment line also keeps proxies from closing it.
  const tick = setInterval(send, 2000);
  const end = (): void => {
    stop();
    clearInterval(tick);
    if (pending) clearTimeout(pending);
  };
  req.socket.once('close', end);
  res.once('close', end);
  send();
}

function requestPage(prefix: string, rec: RequestRecord | undefined, id: number, story: Story | undefined): string {
  const body = rec
    ? `<h1>${escapeHtml(rec.method)} ${escapeHtml(rec.url)} → ${rec.status || 'in flight'}</h1>
<p>Answered by <b>${escapeHtml(rec.handler || '?')}</b>${rec.pid ? ` (process ${rec.pid})` : ''} on server ${rec.server}${rec.durationMs !== undefined ? ` in ${rec.durationMs} ms` : ''}.</p>
${rec.reason ? `<h2>Why</h2><p class="reason">${escapeHtml(rec.reason)}</p>` : ''}
${story ? `<h2>The request's story (as the configuration reads now)</h2><pre>${escapeHtml(formatStory(story))}</pre>` : ''}
${rec.log.length ? `<h2>Error log (the host's wording)</h2><pre>${escapeHtml(rec.log.join('\n'))}</pre>` : ''}
<h2>Request headers</h2><pre>${escapeHtml(
        Object.entries(recordHeaders(rec))
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n'),
      )}</pre>
${rec.fcgiRecords ? `<h2>FastCGI records (&lt;- sent to the application, -&gt; received)</h2><pre>${escapeHtml(rec.fcgiRecords.join('\n'))}</pre>` : ''}`
    : `<h1>Request ${id}</h1><p>Not kept any more: the dashboard keeps the last 300 requests.</p>`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>htsandbox: request ${id}</title><style>${CSS}</style></head><body>${body}<p><a href="${escapeHtml(prefix)}">← dashboard</a></p></body></html>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse;width:100%}td,th{padding:.2em .5em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f6f6f6}.s2{color:#176e2c}.s3{color:#1c5fa8}.s4{color:#a86a00}.s5{color:#b3261e;font-weight:bold}
.old{background:#fff3cd}.reason{background:#fdecea;padding:.5em;border-left:3px solid #b3261e}pre{background:#f6f6f6;padding:.5em;overflow:auto}
.muted{color:#777}code{background:#f3f3f3}`;

function dashboardPage(prefix: string): string {
  const p = JSON.stringify(prefix);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>htsandbox dashboard</title><style>${CSS}</style></head>
<body>
<h1>htsandbox dashboard</h1>
<p class="muted" id="summary">connecting…</p>
<h2>FastCGI processes</h2>
<p><label><input type="checkbox" id="recordFcgi"> keep the FastCGI records of each request (shown on the request's page; slows the server)</label></p>
<table id="procs"><thead><tr><th>application</th><th>pid</th><th>state</th><th>requests</th><th>age (s)</th><th>idle (s)</th><th>code</th><th>server</th></tr></thead><tbody></tbody></table>
<h2>Recent requests</h2>
<table id="reqs"><thead><tr><th>time</th><th>request</th><th>status</th><th>handler</th><th>server</th><th>process</th><th>ms</th><th>why</th></tr></thead><tbody></tbody></table>
<h2>Process events</h2>
<table id="events"><thead><tr><th>time</th><th>event</th><th>what happened</th></tr></thead><tbody></tbody></table>
<script>
const prefix = ${p};
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
function fill(id, rows, make) { const tb = document.querySelector('#' + id + ' tbody'); tb.replaceChildren(...rows.map(make)); }
function clock(iso) { return new Date(iso).toLocaleTimeString(); }
function render(s) {
  document.getElementById('recordFcgi').checked = Boolean(s.server.recordingFcgi);
  document.getElementById('summary').textContent = 'up ' + s.server.uptimeSeconds + ' s · ' + s.server.requests + ' requests · ' + s.processes.length + ' FastCGI process(es) · ' + s.server.cgiSpawns + ' CGI process(es) started'
    + (s.server.servers > 1 ? ' · ' + s.server.servers + ' servers behind the balancer (clients kept ' + s.server.persistenceSeconds + ' s; clients per server: ' + s.server.clientsPerServer.join(', ') + ')' : '');
  fill('procs', s.processes, (p) => { const tr = document.createElement('tr'); tr.dataset.pid = p.pid; if (p.oldCode) tr.className = 'old';
    cell(tr, p.app); cell(tr, String(p.pid)); cell(tr, p.state); cell(tr, String(p.requests)); cell(tr, String(p.ageSeconds)); cell(tr, String(p.idleSeconds));
    cell(tr, p.oldCode ? 'OLD: the script changed after this process started' : 'current'); cell(tr, String(p.server)); return tr; });
  fill('reqs', s.requests, (r) => { const tr = document.createElement('tr');
    cell(tr, clock(r.time)); const a = document.createElement('a'); a.href = prefix + 'r/' + r.id; a.textContent = r.method + ' ' + r.url; cell(tr, '').appendChild(a);
    cell(tr, r.status ? String(r.status) : '…', 's' + String(r.status).charAt(0)); cell(tr, r.handler); cell(tr, String(r.server)); cell(tr, r.pid ? String(r.pid) : ''); cell(tr, r.durationMs === undefined ? '' : String(r.durationMs));
    cell(tr, r.reason || '', r.reason ? 'reason' : ''); return tr; });
  fill('events', s.events, (e) => { const tr = document.createElement('tr'); cell(tr, clock(e.time ? new Date(e.time).toISOString() : '')); cell(tr, e.kind); cell(tr, e.message); return tr; });
}
const box = document.getElementById('recordFcgi');
box.addEventListener('change', () => fetch(prefix + 'api/fcgi-records?on=' + (box.checked ? 1 : 0), { method: 'POST' }));
fetch(prefix + 'api/status').then((r) => r.json()).then(render).catch(() => {});
const es = new EventSource(prefix + 'api/events');
es.addEventListener('status', (ev) => render(JSON.parse(ev.data)));
es.onerror = () => { document.getElementById('summary').textContent = 'disconnected: is htsandbox still running? (retrying)'; };
</script>
</body></html>`;
}
