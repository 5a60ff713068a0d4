/**
 * `serve --tls`: the self-signed certificate (made once, kept), HTTPS on the plain port too,
 * and what requests over TLS see — compared with a private Apache running mod_ssl with the same
 * certificate (`SSLOptions +StdEnvVars`, as the host sets it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedIdentity, stateDirectory } from '../src/adapters/tls-certificate.js';
import { apacheMissing, peerAvailable } from './helpers/peers.js';
import { PROFILES_DIR, startPrivateApache, writeHostConfig, type PrivateApache } from './helpers/private-apache.js';
import { serveInProcess, type RunningServer } from './helpers/serve-in-process.js';
import { copySite } from './helpers/site-copy.js';

const SITE = join(import.meta.dirname, 'fixtures/tls/site');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function fetchOver(scheme: 'http' | 'https', port: number, path: string, ca?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const opts = {
      host: '127.0.0.1',
      port,
      path,
      headers: { Host: `localhost:${port}`, Connection: 'close' },
      servername: 'localhost',
      ...(ca ? { ca } : { rejectUnauthorized: false }),
    };
    const req = (scheme === 'https' ? httpsRequest : httpRequest)(opts, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const vars = (body: string): Map<string, string> =>
  new Map(
    body
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );

describe('the self-signed certificate', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'htsandbox-state-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is made on first use, for localhost and 127.0.0.1, and kept', () => {
    const first = selfSignedIdentity(dir);
    if ('error' in first) throw new Error(first.error);
    expect(first.created).toBe(true);
    const x = new X509Certificate(first.cert);
    expect(x.subject).toBe('CN=localhost');
    expect(x.issuer).toBe('CN=localhost');
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(new Date(x.validTo).getTime()).toBeGreaterThan(Date.now() + 9 * 365 * 86_400_000);
    expect(statSync(join(dir, 'tls', 'localhost.key')).mode & 0o077).toBe(0);
    const again = selfSignedIdentity(dir);
    if ('error' in again) throw new Error(again.error);
    expect(again.created).toBe(false);
    expect(again.cert).toBe(first.cert);
  });

  it('is one OpenSSL reads as a valid v3 certificate', () => {
    const id = selfSignedIdentity(dir);
    if ('error' in id) throw new Error(id.error);
    let text: string;
    try {
      text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: id.cert }).toString();
    } catch {
      process.stderr.write('[skip] openssl not installed\n');
      return;
    }
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('DNS:localhost, IP Address:127.0.0.1');
    expect(text).toContain('TLS Web Server Authentication');
  });

  it('lives in $XDG_STATE_HOME/htsandbox, else ~/.local/state/htsandbox', () => {
    expect(stateDirectory({ XDG_STATE_HOME: '/x/state' }, '/home/u')).toBe('/x/state/htsandbox');
    expect(stateDirectory({}, '/home/u')).toBe('/home/u/.local/state/htsandbox');
    expect(stateDirectory({ XDG_STATE_HOME: 'relative' }, '/home/u')).toBe('/home/u/.local/state/htsandbox');
  });
});

describe('serve --tls: HTTP and HTTPS on one port', () => {
  let dir: string;
  let server: RunningServer;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'htsandbox-tls-'));
    const id = selfSignedIdentity(join(dir, 'state'));
    if ('error' in id) throw new Error(id.error);
    ca = id.cert;
    const root = join(dir, 'site');
    copySite(SITE, root);
    const conf = join(dir, 'host.conf');
    writeHostConfig(conf, root, join(PROFILES_DIR, 'apache.conf'), 'LoadModule ssl_module modules/mod_ssl.so\nSSLOptions +StdEnvVars\n');
    server = await serveInProcess(root, { config: conf, tlsCert: join(dir, 'state/tls/localhost.crt'), tlsKey: join(dir, 'state/tls/localhost.key') });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lands the forced https:// redirect on the same port', async () => {
    const plain = await fetchOver('http', server.port, '/force/x.txt');
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe(`https://localhost:${server.port}/force/x.txt`);
    expect(plain.headers['x-over-tls']).toBeUndefined(); // a redirect's headers are Apache's own
    const secure = await fetchOver('https', server.port, '/force/x.txt', ca);
    expect(secure.status).toBe(200);
    expect(secure.body).toBe('landed\n');
    expect(secure.headers['x-over-tls']).toBe('yes');
  });

  it('gives scripts HTTPS=on and the SSL_* variables over TLS only', async () => {
    const secure = vars((await fetchOver('https', server.port, '/env.cgi', ca)).body);
    expect(secure.get('HTTPS')).toBe('on');
    expect(secure.get('REQUEST_SCHEME')).toBe('https');
    expect(secure.get('SSL_TLS_SNI')).toBe('localhost');
    expect(secure.get('SSL_SERVER_S_DN_CN')).toBe('localhost');
    const plain = vars((await fetchOver('http', server.port, '/env.cgi')).body);
    expect(plain.get('HTTPS')).toBeUndefined();
    expect(plain.get('REQUEST_SCHEME')).toBe('http');
    expect([...plain.keys()].filter((k) => k.startsWith('SSL_'))).toEqual([]);
  });

  it('survives broken handshakes, resets and stray bytes, and goes on serving both', async () => {
    const junk: Buffer[] = [
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]),
      Buffer.concat([Buffer.from([0x16]), Buffer.alloc(5000, 0xff)]),
      Buffer.from([0x16]),
      Buffer.from('G'),
    ];
    for (const bytes of junk) {
      await new Promise<void>((resolve) => {
        const s = connect(server.port, '127.0.0.1', () => {
          s.write(bytes);
          setTimeout(() => s.resetAndDestroy(), 50);
        });
        s.on('error', () => undefined);
        s.on('close', () => resolve());
      });
      await new Promise<void>((resolve) => {
        const s = connect(server.port, '127.0.0.1', () => s.end(bytes));
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 1500);
      });
    }
    await new Promise<void>((resolve) => {
      const s = connect(server.port, '127.0.0.1', () => s.resetAndDestroy());
      s.on('error', () => undefined);
      s.on('close', () => resolve());
    });
    expect((await fetchOver('http', server.port, '/force/x.txt')).status).toBe(301);
    expect((await fetchOver('https', server.port, '/force/x.txt', ca)).status).toBe(200);
  });

  it('shuts down at once with an idle keep-alive TLS connection open', async () => {
    const agent = new HttpsAgent({ keepAlive: true, ca });
    await new Promise<void>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: server.port, path: '/dir/', agent, servername: 'localhost', headers: { Host: 'localhost' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    const started = Date.now();
    expect(await server.stop()).toBe(0);
    // Within the keep-alive timeout (5 s): the idle connection was closed, not waited for.
    expect(Date.now() - started).toBeLessThan(3000);
    agent.destroy();
  });
});

describe('requests over TLS, as Apache with mod_ssl answers them', () => {
  const live = peerAvailable('Apache with mod_ssl for the TLS tests', apacheMissing());
  let dir: string;
  let apache: PrivateApache | undefined;
  let ours: RunningServer;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'htsandbox-tls-cmp-'));
    chmodSync(dir, 0o755);
    const id = selfSignedIdentity(join(dir, 'state'));
    if ('error' in id) throw new Error(id.error);
    ca = id.cert;
    const certFile = join(dir, 'state/tls/localhost.crt');
    const keyFile = join(dir, 'state/tls/localhost.key');
    const extra = ['LoadModule socache_shmcb_module modules/mod_socache_shmcb.so', 'LoadModule ssl_module modules/mod_ssl.so', 'SSLOptions +StdEnvVars'].join('\n');
    if (live) {
      apache = await startPrivateApache({ site: SITE, extraConfig: `${extra}\nSSLEngine on\nSSLCertificateFile "${certFile}"\nSSLCertificateKeyFile "${keyFile}"\n` });
    }
    const root = join(dir, 'site');
    copySite(SITE, root);
    const conf = join(dir, 'host.conf');
    writeHostConfig(conf, root, join(PROFILES_DIR, 'apache.conf'), `${extra}\n`);
    ours = await serveInProcess(root, { config: conf, tlsCert: certFile, tlsKey: keyFile });
  }, 60_000);
  afterAll(async () => {
    await ours?.stop();
    await apache?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(live)('gives scripts the same HTTPS, REQUEST_SCHEME and SSL_* variables', async () => {
    const a = vars((await fetchOver('https', apache!.port, '/env.cgi', ca)).body);
    const h = vars((await fetchOver('https', ours.port, '/env.cgi', ca)).body);
    expect([...h.keys()].sort()).toEqual([...a.keys()].sort());
    // Values that depend on neither the TLS library's build nor the session.
    const stable = [
      'HTTPS',
      'REQUEST_SCHEME',
      'SSL_PROTOCOL',
      'SSL_CIPHER',
      'SSL_CIPHER_USEKEYSIZE',
      'SSL_CIPHER_ALGKEYSIZE',
      'SSL_CIPHER_EXPORT',
      'SSL_CLIENT_VERIFY',
      'SSL_COMPRESS_METHOD',
      'SSL_SECURE_RENEG',
      'SSL_SESSION_RESUMED',
      'SSL_TLS_SNI',
      'SSL_SERVER_M_VERSION',
      'SSL_SERVER_M_SERIAL',
      'SSL_SERVER_V_START',
      'SSL_SERVER_V_END',
      'SSL_SERVER_S_DN',
      'SSL_SERVER_S_DN_CN',
      'SSL_SERVER_I_DN',
      'SSL_SERVER_I_DN_CN',
      'SSL_SERVER_A_KEY',
      'SSL_SERVER_A_SIG',
    ];
    for (const k of stable) expect(h.get(k), k).toBe(a.get(k));
    expect(h.get('SSL_SESSION_ID')).toMatch(/^[0-9a-f]{64}$/);
  });

  it.runIf(live)('%{HTTPS}, %{REQUEST_SCHEME} and %{SSL:…} in rewrite rules, <If> on %{HTTPS}', async () => {
    const a = await fetchOver('https', apache!.port, '/scheme', ca);
    const h = await fetchOver('https', ours.port, '/scheme', ca);
    expect(vars(h.body).get('QUERY_STRING')).toBe(vars(a.body).get('QUERY_STRING'));
    expect(vars(h.body).get('QUERY_STRING')).toMatch(/^h=on&s=https&p=TLSv1\.[23]$/);
    expect(h.headers['x-over-tls']).toBe(a.headers['x-over-tls']);
  });

  it.runIf(live)('redirects a directory without its slash to https://', async () => {
    const a = await fetchOver('https', apache!.port, '/dir', ca);
    const h = await fetchOver('https', ours.port, '/dir', ca);
    expect(h.status).toBe(a.status);
    expect(h.headers.location?.toString().replace(String(ours.port), 'PORT')).toBe(a.headers.location?.toString().replace(String(apache!.port), 'PORT'));
  });

  it.runIf(live)('a forced https:// redirect lands on Apache as on htsandbox (same answer over TLS)', async () => {
    const a = await fetchOver('https', apache!.port, '/force/x.txt', ca);
    const h = await fetchOver('https', ours.port, '/force/x.txt', ca);
    expect([h.status, h.body]).toEqual([a.status, a.body]);
  });
});
