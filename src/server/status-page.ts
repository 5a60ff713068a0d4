/**
 * The `server-status` handler: mod_status's page (or its `?auto` text), with mod_fcgid's
 * "mod_fcgid status" section — one table of processes per class (pid, seconds since start,
 * seconds idle, requests, state). htsandbox adds what mod_fcgid cannot know: which processes run
 * code older than their script on disk.
 */
import { loadavg } from 'node:os';
import { escapeHtml } from '../grammar/error-pages.js';
import { statusTime } from '../grammar/apache-time.js';
import type { ResponseSink } from './response-sink.js';

const DOCTYPE = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n';

/** mod_status's show_time: "1 day 2 hours 3 minutes 4 seconds", parts that are zero left out. */
function uptimeText(seconds: number): string {
  const parts: string[] = [];
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let left = seconds;
  for (const [size, name] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

/** mod_fcgid's get_state_desc. */
const STATE_TEXT = { idle: 'Ready', busy: 'Working', dying: 'Exiting' } as const;

/** Answers one server-status request. */
export function sendStatusPage(sink: ResponseSink, query: string | undefined): void {
  const { site, req } = sink;
  const now = Date.now();
  const up = Math.floor((now - site.stats.startedAt) / 1000);
  const [l1, l5, l15] = loadavg().map((x) => x.toFixed(2));
  const host = (req.headers.host ?? site.serverName).replace(/:\d+$/, '');
  const version = 'Apache (htsandbox)';
  const short = (query ?? '').split('&').includes('auto');
  const procs = site.fcgiPool.status().sort((a, b) => a.classKey.localeCompare(b.classKey) || a.pid - b.pid);
  let body: string;
  if (short) {
    body =
      `${host}\nServerVersion: ${version}\nServerMPM: event\nServer Built: htsandbox\nCurrentTime: ${statusTime(new Date(now))}\nRestartTime: ${statusTime(new Date(site.stats.startedAt))}\n` +
      `ParentServerConfigGeneration: 1\nParentServerMPMGeneration: 0\nServerUptimeSeconds: ${up}\nServerUptime:${uptimeText(up)}\n` +
      `Load1: ${l1}\nLoad5: ${l5}\nLoad15: ${l15}\nTotal Accesses: ${site.stats.requests}\nUptime: ${up}\n` +
      // Not in Apache's list: what a script (and a teacher's dashboard) can read about the pools.
      `FcgidProcesses: ${procs.length}\nFcgidBusy: ${procs.filter((p) => p.state === 'busy').length}\nFcgidStale: ${procs.filter((p) => p.stale).length}\n`;
    sink.whole(200, { 'Content-Type': 'text/plain; charset=ISO-8859-1' }, body, 'latin1');
    return;
  }
  const out: string[] = [
    `${DOCTYPE}<html><head>\n<title>Apache Status</title>\n</head><body>\n<h1>Apache Server Status for ${escapeHtml(host)} (via ${escapeHtml((req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, ''))})</h1>\n\n`,
    `<dl><dt>Server Version: ${version}</dt>\n<dt>Server MPM: event</dt>\n<dt>Server Built: htsandbox\n</dt></dl><hr /><dl>\n`,
    `<dt>Current Time: ${statusTime(new Date(now))}</dt>\n<dt>Restart Time: ${statusTime(new Date(site.stats.startedAt))}</dt>\n`,
    '<dt>Parent Server Config. Generation: 1</dt>\n<dt>Parent Server MPM Generation: 0</dt>\n',
    `<dt>Server uptime:${uptimeText(up)}</dt>\n<dt>Server load: ${l1} ${l5} ${l15}</dt>\n`,
    `<dt>Total accesses: ${site.stats.requests}</dt>\n</dl>\n`,
    `<hr />\n<h1>mod_fcgid status:</h1>\nTotal FastCGI processes: ${procs.length}\n`,
  ];
  let lastClass: string | undefined;
  for (const p of procs) {
    if (p.classKey !== lastClass) {
      if (lastClass !== undefined) out.push('</table>\n\n');
      const base = p.program.slice(p.program.lastIndexOf('/') + 1);
      out.push(`<hr />\n<b>Process: ${escapeHtml(base)}</b>&nbsp;&nbsp;(${escapeHtml(p.cmdline)})<br />\n`);
      const stale = procs.filter((q) => q.classKey === p.classKey && q.stale).length;
      if (stale) {
        out.push(
          `<p><b>htsandbox:</b> ${escapeHtml(p.label.slice(p.label.lastIndexOf('/') + 1))} changed on disk; ${stale} process${stale === 1 ? '' : 'es'} still run${stale === 1 ? 's' : ''} the old code, as on the host.</p>\n`,
        );
      }
      out.push('\n\n<table border="0"><tr><th>Pid</th><th>Active</th><th>Idle</th><th>Accesses</th><th>State</th></tr>\n');
      lastClass = p.classKey;
    }
    const state = `${STATE_TEXT[p.state]}${p.stale ? ' (old code)' : ''}`;
    out.push(
      `<tr><td>${p.pid}</td><td>${Math.floor((now - p.startedAt) / 1000)}</td><td>${Math.floor((now - p.lastActiveAt) / 1000)}</td><td>${p.requests}</td><td>${state}</td></tr>`,
    );
  }
  if (procs.length) out.push('</table>\n\n<hr>\n<b>Active</b> and <b>Idle</b> are time active and time since\nlast request, in seconds.\n');
  out.push('</body></html>\n');
  body = out.join('');
  sink.whole(200, { 'Content-Type': 'text/html; charset=ISO-8859-1' }, body, 'latin1');
}
