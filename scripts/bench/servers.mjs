// The servers of `npm run bench`, each started on its own copy of the bench site in its own
// directory under the run directory, and every process they start accounted for.
//
// A server's processes are found in /proc, not remembered from spawn(): Apache daemonizes,
// spawn-fcgi forks the applications into sessions of their own and exits, lighttpd and
// mod_fcgid start applications later. So each server records the session ids it created
// (every process we start is a session leader: spawn(..., { detached: true }), Apache's
// daemon and spawn-fcgi's children call setsid() themselves), and a process belongs to the
// server when it is in one of those sessions, or when its command line, working directory or
// environment names the server's directory (nginx renames its workers' command lines; CGI
// scripts inherit DOCUMENT_ROOT).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, closeSync, writeFileSync, chmodSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (ok) => {
      s.removeAllListeners();
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** GET `path` with a fresh connection: { status, body } or { error }. */
export function fetchBody(port, path, timeoutMs = 15000) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'localhost' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', (e) => resolve({ error: e.message, body: Buffer.alloc(0) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e) => resolve({ error: e.message, body: Buffer.alloc(0) }));
    req.end();
  });
}

// ---- processes, from /proc ----------------------------------------------------------------------

function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return '';
  }
}

/** Fields of /proc/PID/stat after the command name (state is [0], session [3], start time [19]). */
function statFields(pid) {
  const stat = readProc(pid, 'stat');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : [];
}

/** Live processes (zombies included) in one of `sessions` or naming `dir`; never ourselves. */
export function processesOf(dir, sessions) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = readProc(pid, 'cmdline').replace(/\0/g, ' ').trim();
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      /* gone, or a kernel thread */
    }
    const stat = statFields(pid);
    if (stat.length < 20) continue;
    // `${dir}/`, so that another directory whose name starts like ours is not taken for it.
    const inside = `${dir}/`;
    const named = cmd.includes(inside) || cwd === dir || cwd.startsWith(inside) || readProc(pid, 'environ').includes(inside);
    // `start` (clock ticks after boot) tells this process from a later one given the same pid.
    if (sessions.has(Number(stat[3])) || named) found.push({ pid, start: Number(stat[19]), cmd: cmd || `[${readProc(pid, 'comm').trim()}]` });
  }
  return found;
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

// Sleep without the event loop (signal handlers and exit paths must be synchronous).
function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A started server. `dir` is its directory (site copy, configuration, logs, sockets);
 * `sessions` the session ids of what it started; `leaders` the pids to signal first for an
 * orderly stop (the server's main process, the FastCGI applications spawn-fcgi started).
 */
export class Server {
  constructor(name, kind, dir) {
    this.name = name;
    this.kind = kind;
    this.dir = dir;
    this.port = 0;
    this.sessions = new Set();
    this.leaders = [];
    this.children = []; // ChildProcess objects we spawned, for exit status
    this.seen = new Map(); // every process ever seen belonging to this server, by pid
    this.mustStayUp = new Set(); // spawned processes whose exit means the server is down
  }

  /** Spawns `cmd` in a session of its own, output to `log`, and records it. */
  spawn(cmd, args, { log, env, cwd } = {}) {
    const fd = openSync(log ?? join(this.dir, `${this.kind}.log`), 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? { ...process.env, PATH: CLEAN_PATH }, cwd: cwd ?? this.dir });
    closeSync(fd);
    child.exitStatus = null;
    child.reaped = new Promise((resolve) => {
      child.on('exit', (code, sig) => {
        child.exitStatus = sig ? `signal ${sig}` : `exit ${code}`;
        resolve();
      });
      child.on('error', (e) => {
        child.exitStatus = `could not start: ${e.message}`;
        resolve();
      });
    });
    if (child.pid) {
      this.sessions.add(child.pid);
      this.leaders.push(child.pid);
    }
    this.children.push(child);
    return child;
  }

  /** Records pids (session leaders) that the server's tools started and reported. */
  adopt(pids) {
    for (const pid of pids) {
      this.sessions.add(pid);
      this.leaders.push(pid);
    }
  }

  processes() {
    const list = processesOf(this.dir, this.sessions);
    for (const p of list) if (!this.seen.has(p.pid) || !p.cmd.startsWith('[')) this.seen.set(p.pid, p);
    return list;
  }

  /** Why the server cannot be up (a process we spawned exited), or undefined. */
  death() {
    const dead = this.children.find((c) => c.exitStatus !== null && this.mustStayUp.has(c));
    return dead ? `${dead.spawnargs.join(' ')} ended (${dead.exitStatus})` : undefined;
  }

  async waitForPort(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await portAccepts(this.port)) return;
      const dead = this.death();
      if (dead) throw new Error(`${this.name}: ${dead}\n${this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: nothing accepted connections on 127.0.0.1:${this.port} within ${timeoutMs / 1000} s\n${this.logTail()}`);
      await sleep(100);
    }
  }

  logTail() {
    const out = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.log')) continue;
      const lines = readFileSync(join(this.dir, f), 'utf8').trimEnd().split('\n').slice(-15);
      if (lines.join('') !== '') out.push(`---- ${f} ----`, ...lines);
    }
    return out.join('\n');
  }

  /** Orderly stop: SIGTERM to the leaders, then to whatever is left; SIGKILL after `graceMs`. */
  async stop(graceMs = 8000) {
    for (const pid of this.leaders) signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    let termed = false;
    for (;;) {
      const left = this.processes().filter((p) => !isZombieOfOurs(p.pid));
      if (left.length === 0) {
        // Our own children are gone only once Node has reaped them (their 'exit' event).
        await Promise.race([Promise.all(this.children.map((c) => c.reaped)), sleep(2000)]);
        return;
      }
      if (Date.now() > deadline) break;
      // Workers the leaders do not end themselves (fcgiwrap's preforked children).
      if (!termed && Date.now() > deadline - graceMs / 2) {
        for (const p of left) signal(p.pid, 'SIGTERM');
        termed = true;
      }
      await sleep(50);
    }
    for (const p of this.processes()) signal(p.pid, 'SIGKILL');
    await sleep(200);
  }

  /** Last resort, synchronous (signal handlers, uncaught errors). */
  kill() {
    for (const pid of this.leaders) signal(pid, 'SIGTERM');
    for (let i = 0; i < 30 && this.processes().some((p) => !isZombieOfOurs(p.pid)); i++) sleepSync(100);
    for (const p of this.processes()) signal(p.pid, 'SIGKILL');
  }
}

// Our own children that exited but were not reaped yet are zombies until the event loop runs.
function isZombieOfOurs(pid) {
  const stat = statFields(pid);
  return stat[0] === 'Z' && Number(stat[1]) === process.pid;
}

// ---- what each server needs ----------------------------------------------------------------------

const APACHE_BIN = process.env.APACHE_BIN ?? '/usr/sbin/apache2';
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** For each kind of server: undefined when it can run here, else what is missing. */
export function serverMissing(kind) {
  switch (kind) {
    case 'apache':
      if (!existsSync(APACHE_BIN)) return `${APACHE_BIN} not found (apt-get install apache2)`;
      if (!existsSync('/usr/lib/apache2/modules/mod_fcgid.so')) return 'mod_fcgid not found (apt-get install libapache2-mod-fcgid)';
      return undefined;
    case 'htsandbox':
      return undefined;
    case 'nginx': {
      const missing = ['nginx', 'spawn-fcgi'].filter((c) => !onPath(c));
      if (!existsSync('/usr/sbin/fcgiwrap')) missing.push('fcgiwrap');
      return missing.length ? `${missing.join(', ')} not found (apt-get install --no-install-recommends nginx spawn-fcgi fcgiwrap)` : undefined;
    }
    case 'lighttpd':
      return onPath('lighttpd') ? undefined : 'lighttpd not found (apt-get install --no-install-recommends lighttpd)';
    default:
      return `unknown server kind ${kind}`;
  }
}

// ---- Apache 2.4 + mod_fcgid + mod_cgid: the host -------------------------------------------------

/**
 * A private Apache configured as the host: the settings are htsandbox's `apache` profile
 * (what the conformance suite's Apache Includes too), the process part as the shared
 * oracle's (mpm_event, 2-4 children x 16 threads, keep-alive 100 requests / 5 s).
 */
export async function startApache(server, siteRoot, profilesDir) {
  const dir = server.dir;
  const hostConf = join(dir, 'host.conf');
  writeHostConfig(hostConf, siteRoot, profilesDir);
  const conf = join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    [
      'ServerRoot "/usr/lib/apache2"',
      `DefaultRuntimeDir "${dir}"`,
      `PidFile "${dir}/httpd.pid"`,
      `Listen 127.0.0.1:${server.port}`,
      `ErrorLog "${dir}/error.log"`,
      'LogLevel warn',
      'KeepAlive On',
      'MaxKeepAliveRequests 100',
      'KeepAliveTimeout 5',
      'LoadModule mpm_event_module modules/mod_mpm_event.so',
      'StartServers 2',
      'ServerLimit 4',
      'ThreadLimit 16',
      'ThreadsPerChild 16',
      'MinSpareThreads 16',
      'MaxSpareThreads 48',
      'MaxRequestWorkers 64',
      isRoot ? 'User www-data\nGroup www-data' : '',
      `Include "${hostConf}"`,
      `ScriptSock "${dir}/cgid.sock"`,
      `FcgidIPCDir "${dir}/fcgid"`,
      `FcgidProcessTableFile "${dir}/fcgid_shm"`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'fcgid'));
  if (isRoot) spawnSync('chown', ['www-data:www-data', join(dir, 'fcgid')]);
  // `-k start` daemonizes (setsid): the daemon is the session to account for, read from its pid file.
  const env = { PATH: CLEAN_PATH, LANG: 'C' };
  const started = spawnSync(APACHE_BIN, ['-f', conf, '-k', 'start'], { env, encoding: 'utf8', timeout: 30000 });
  if (started.status !== 0) throw new Error(`apache: apache2 -k start failed: ${started.stderr}${started.stdout}\n${server.logTail()}`);
  const pidFile = join(dir, 'httpd.pid');
  const deadline = Date.now() + 20000;
  while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
    if (Date.now() > deadline) throw new Error(`apache: no pid file after 20 s\n${server.logTail()}`);
    await sleep(50);
  }
  server.adopt([Number(readFileSync(pidFile, 'utf8').trim())]);
  await server.waitForPort();
}

/** The host part both Apache and htsandbox read: the `apache` profile for this site root. */
export function writeHostConfig(file, siteRoot, profilesDir) {
  writeFileSync(file, [`Define HTSANDBOX_SITE_ROOT "${siteRoot}"`, `Define HTSANDBOX_PROFILES "${profilesDir}"`, `Include "${join(profilesDir, 'apache.conf')}"`, ''].join('\n'));
}

// ---- htsandbox (this checkout, or another build) -------------------------------------------------

export async function startHtsandbox(server, siteRoot, buildDir, serveArgs = []) {
  const profiles = join(buildDir, 'profiles');
  const hostConf = join(server.dir, 'host.conf');
  writeHostConfig(hostConf, siteRoot, profiles);
  const bin = join(buildDir, 'bin', 'htsandbox.js');
  if (!existsSync(join(buildDir, 'dist', 'cli', 'main.js'))) throw new Error(`${server.name}: ${buildDir} is not built (run npm run build there)`);
  // Its state directory (process groups, spooled bodies) goes under the run directory too.
  const tmp = join(server.dir, 'tmp');
  mkdirSync(tmp);
  const child = server.spawn(process.execPath, [bin, 'serve', siteRoot, '--port', String(server.port), '--host', '127.0.0.1', '--config', hostConf, ...serveArgs], {
    env: { PATH: CLEAN_PATH, LANG: 'C', HOME: server.dir, TMPDIR: tmp },
  });
  server.mustStayUp.add(child);
  await server.waitForPort();
}

// ---- nginx + spawn-fcgi (4 workers per application) + fcgiwrap for CGI ------------------------------

/**
 * nginx as a user would set it up for these apps: the FastCGI applications started by
 * spawn-fcgi, 4 processes on one socket each, upstream connections kept (`keepalive 4`,
 * `fastcgi_keep_conn on`); CGI through fcgiwrap with 4 preforked workers.
 */
export async function startNginx(server, siteRoot) {
  const dir = server.dir;
  const asUser = isRoot ? ['-u', 'www-data', '-g', 'www-data'] : [];
  const fcgi = (name, argv, extra = []) => {
    const pidFile = join(dir, `${name}.pid`);
    const r = spawnSync('spawn-fcgi', ['-s', join(dir, `${name}.sock`), '-M', '0666', ...asUser, ...extra, '-P', pidFile, '--', ...argv], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH: CLEAN_PATH, LANG: 'C' },
      timeout: 20000,
    });
    // spawn-fcgi forks each application into a session of its own, writes their pids, exits.
    if (existsSync(pidFile)) server.adopt(readFileSync(pidFile, 'utf8').split(/\s+/).filter(Boolean).map(Number));
    if (r.status !== 0) throw new Error(`nginx: spawn-fcgi ${argv[0]} failed: ${r.stderr}${r.stdout}`);
  };
  fcgi('perl', [join(siteRoot, 'hello-perl.fcgi')], ['-F', '4']);
  fcgi('c', [join(siteRoot, 'hello.fcgi')], ['-F', '4']);
  fcgi('fcgiwrap', ['/usr/sbin/fcgiwrap', '-c', '4']);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t}_temp;`).join(' ');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${isRoot ? 'user www-data www-data;\n' : ''}worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  include /etc/nginx/mime.types;
  ${temp}
  upstream perl { server unix:${dir}/perl.sock; keepalive 4; }
  upstream capp { server unix:${dir}/c.sock; keepalive 4; }
  server {
    listen 127.0.0.1:${server.port};
    root ${siteRoot};
    location = /hello-perl.fcgi { include /etc/nginx/fastcgi_params; fastcgi_pass perl; fastcgi_keep_conn on; }
    location = /hello.fcgi { include /etc/nginx/fastcgi_params; fastcgi_pass capp; fastcgi_keep_conn on; }
    location ~ \\.cgi$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass unix:${dir}/fcgiwrap.sock;
    }
  }
}
`,
  );
  const child = server.spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf]);
  server.mustStayUp.add(child);
  await server.waitForPort();
}

// ---- lighttpd (starts the FastCGI applications itself: bin-path, 4 processes) + mod_cgi ---------------

export async function startLighttpd(server, siteRoot) {
  const dir = server.dir;
  // lighttpd opens its error log and the applications' sockets after dropping to www-data.
  const sockets = join(dir, 'sockets');
  mkdirSync(sockets);
  chmodSync(sockets, 0o755);
  if (isRoot) spawnSync('chown', ['www-data:www-data', dir, sockets]);
  const app = (url, file, sock) => `"${url}" => (( "socket" => "${join(sockets, sock)}", "bin-path" => "${join(siteRoot, file)}", "check-local" => "disable", "max-procs" => 4 ))`;
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.modules = ( "mod_access", "mod_cgi", "mod_fastcgi" )
server.document-root = "${siteRoot}"
server.bind = "127.0.0.1"
server.port = ${server.port}
${isRoot ? 'server.username = "www-data"\nserver.groupname = "www-data"\n' : ''}server.errorlog = "${dir}/error.log"
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
cgi.assign = ( ".cgi" => "" )
fastcgi.server = ( ${app('/hello-perl.fcgi', 'hello-perl.fcgi', 'perl.sock')},
                   ${app('/hello.fcgi', 'hello.fcgi', 'c.sock')} )
`,
  );
  const child = server.spawn('lighttpd', ['-D', '-f', conf]);
  server.mustStayUp.add(child);
  await server.waitForPort();
}
