// The table of `npm run bench`: median req/s of the rounds (and their median p99) per server,
// each htsandbox build's ratio to Apache and to the best peer (nginx or lighttpd).
import { ENDPOINTS } from './site.mjs';

const PEERS = ['nginx', 'lighttpd'];
const LABEL = { apache: 'Apache', apache2: 'Apache again', nginx: 'nginx', lighttpd: 'lighttpd' };

export function median(xs) {
  const v = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** endpoint -> server -> { rps, p99, runs, errors } from the rounds' wrk results. */
export function summarize(results, servers) {
  const out = {};
  for (const [endpoint, byServer] of Object.entries(results)) {
    out[endpoint] = {};
    for (const s of servers) {
      const runs = byServer[s];
      if (!runs?.length) continue;
      out[endpoint][s] = {
        rps: median(runs.map((r) => r.rps)),
        p99: median(runs.filter((r) => r.rps).map((r) => r.p99)),
        runs: runs.map((r) => r.rps),
        errors: runs.reduce((a, r) => a + (r.errors ?? 0) + (r.non2xx ?? 0), 0),
        // Rounds in which no request completed (wrk's timeout is longer than a round).
        stalled: runs.filter((r) => !r.rps).length,
        perRound: perRoundRatios(runs, byServer.apache),
      };
    }
  }
  return out;
}

/**
 * Each round's rate divided by Apache's in the same round (seconds apart), as median and
 * quartiles. The machine has slow stretches of several seconds that slow every process
 * (docs/performance.md, session 12); a ratio of medians taken over the whole run moves with
 * where they fell, a ratio within one round much less.
 */
function perRoundRatios(runs, apacheRuns) {
  if (!apacheRuns?.length) return null;
  const q = runs.map((r, i) => (r.rps && apacheRuns[i]?.rps ? r.rps / apacheRuns[i].rps : null)).filter((x) => x != null);
  return q.length ? { ...spread(q), rounds: q.length } : null;
}

/** Median and quartiles of some quotients. */
function spread(values) {
  const q = [...values].sort((a, b) => a - b);
  const at = (f) => q[Math.min(q.length - 1, Math.floor(f * q.length))];
  return { median: median(q), q1: at(0.25), q3: at(0.75) };
}

/**
 * One build group against another, round by round: in each round, the geometric mean of the
 * first group's rates over the second's (e.g. two processes of this build over two of a
 * baseline, `--compare nodash,nodash2/base,base2`). Two processes of one build differ by up to
 * 8–16 % on this VM (docs/performance.md, sessions 13–16): a group averages over what each
 * process was dealt at start, and the per-round quotient over the machine's slow stretches.
 * Gives median, quartiles and the geometric mean of the rounds' quotients.
 */
export function groupRatios(byServer, numerator, denominator) {
  const gm = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  const n = Math.min(...[...numerator, ...denominator].map((s) => byServer?.[s]?.length ?? 0));
  const q = [];
  for (let i = 0; i < n; i++) {
    const a = numerator.map((s) => byServer[s][i].rps);
    const b = denominator.map((s) => byServer[s][i].rps);
    if ([...a, ...b].every((x) => x > 0)) q.push(gm(a) / gm(b));
  }
  return q.length ? { ...spread(q), geomean: gm(q), rounds: q.length } : null;
}

/** `A,B/C,D` → { numerator: [A, B], denominator: [C, D] }, or null if it is not that shape. */
export function parseComparison(text) {
  const m = /^([^/]+)\/([^/]+)$/.exec(text.trim());
  if (!m) return null;
  const names = (s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const numerator = names(m[1]);
  const denominator = names(m[2]);
  return numerator.length && denominator.length ? { numerator, denominator } : null;
}

const rps = (v) => (v == null ? '-' : Math.round(v).toLocaleString('en-US'));
const ms = (v) => (v == null ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (a, b) => (a == null || !b ? '-' : `${(a / b).toFixed(2)}×`);

export function markdownTable(summary, { servers, builds, endpoints, meta, comparisons = [], results = {} }) {
  const head = ['endpoint', ...servers.map((s) => LABEL[s] ?? s)];
  for (const b of builds) head.push(`${b} / Apache`, `${b} / best peer`);
  const rows = [head, head.map(() => '---')];
  for (const n of endpoints) {
    const row = summary[n] ?? {};
    const what = ENDPOINTS[n].what + (n === 'static-htaccess' ? ' (read by Apache and htsandbox only)' : '');
    const cells = [what];
    for (const s of servers) {
      const r = row[s];
      const stalled = r?.stalled ? `, ${r.stalled} of ${r.runs.length} rounds with no answer` : '';
      cells.push(r ? `${rps(r.rps)} (p99 ${ms(r.p99)} ms)${r.errors ? `, ${r.errors} errors` : ''}${stalled}` : 'not timed');
    }
    const best = PEERS.filter((p) => row[p]?.rps).sort((a, b) => row[b].rps - row[a].rps)[0];
    for (const b of builds) {
      cells.push(ratio(row[b]?.rps, row.apache?.rps));
      cells.push(best ? `${ratio(row[b]?.rps, row[best].rps)} ${best}` : '-');
    }
    rows.push(cells);
  }
  const table = rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
  // The same ratios taken round by round: the measure to compare builds by (and a second Apache
  // gives its noise floor).
  const paired = [['endpoint', ...builds.map((b) => `${LABEL[b] ?? b} / Apache, per round`)]];
  paired.push(paired[0].map(() => '---'));
  for (const n of endpoints)
    paired.push([
      n,
      ...builds.map((b) => {
        const p = summary[n]?.[b]?.perRound;
        return p ? `${p.median.toFixed(2)}× (${p.q1.toFixed(2)}–${p.q3.toFixed(2)}, ${p.rounds} rounds)` : '-';
      }),
    ]);
  const pairedTable = builds.length ? `\n\n${paired.map((r) => `| ${r.join(' | ')} |`).join('\n')}` : '';
  // --compare: build groups against each other, with the second Apache against the first as
  // the run's floor when it ran.
  const groups = [...comparisons];
  if (groups.length && servers.includes('apache2')) groups.push({ numerator: ['apache2'], denominator: ['apache'] });
  const compared = [['endpoint', ...groups.map((g) => `${g.numerator.map((x) => LABEL[x] ?? x).join(' + ')} / ${g.denominator.map((x) => LABEL[x] ?? x).join(' + ')}, per round`)]];
  compared.push(compared[0].map(() => '---'));
  for (const n of endpoints)
    compared.push([
      n,
      ...groups.map((g) => {
        const p = groupRatios(results[n], g.numerator, g.denominator);
        return p ? `${p.median.toFixed(3)} (${p.q1.toFixed(3)}–${p.q3.toFixed(3)}; geometric mean ${p.geomean.toFixed(3)})` : '-';
      }),
    ]);
  const comparedTable = comparisons.length ? `\n\n${compared.map((r) => `| ${r.join(' | ')} |`).join('\n')}` : '';
  const notes = [
    `req/s, median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'} of \`${meta.wrk}\` (p99: median of the rounds' wrk p99, coordinated-omission corrected), ` +
      `rounds rotating through the servers after a ${meta.warmup} s warm-up; ${meta.cpus} CPUs, load ${meta.load.map((x) => x.toFixed(2)).join(' ')} at the end, ${meta.date}.`,
    'Apache 2.4: mod_fcgid (FcgidMaxProcessesPerClass 4) and mod_cgid, mpm_event, the `apache` profile. ' +
      'nginx: the FastCGI apps under spawn-fcgi ×4 with `keepalive 4` + `fastcgi_keep_conn on`, CGI through fcgiwrap -c 4. ' +
      'lighttpd: `bin-path` apps with max-procs 4, CGI through mod_cgi. No server writes an access log. ' +
      'Only ratios within one run mean anything: wrk shares the cores with the servers, and other load on the machine ' +
      "can take more from a single-threaded server (htsandbox) than from Apache's and nginx's many threads and processes.",
  ];
  if (meta.skipped.length) notes.push(`Not run: ${meta.skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
  if (builds.length)
    notes.push(
      'Per round: each round of a build divided by the round of Apache in the same rotation, median (quartiles). ' +
        'Compare builds by these; a second Apache (`--servers …,apache2`) gives the run its noise floor.',
    );
  if (comparisons.length) notes.push("Compared: in each round, the geometric mean of the first group's rates over the second's; median (quartiles; geometric mean) of the rounds.");
  return `${table}${pairedTable}${comparedTable}\n\n${notes.join('\n')}`;
}
