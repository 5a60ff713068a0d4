/**
 * The certificate `serve --tls` presents: one the user names, or a self-signed one made on
 * first use and kept in the state directory (so a browser's exception for it lasts).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pem, selfSignedCertificate } from '../grammar/x509.js';

export interface TlsIdentity {
  key: string;
  cert: string;
  certFile: string;
  /** Made now (first use). */
  created: boolean;
}

/** `$XDG_STATE_HOME/htsandbox`, else `~/.local/state/htsandbox`. */
export function stateDirectory(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(home, '.local', 'state');
  return join(base, 'htsandbox');
}

/** Reads a named certificate and key; the error says which file and why. */
export function namedIdentity(certFile: string, keyFile: string): TlsIdentity | { error: string } {
  try {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return { error: `the key ${keyFile} does not belong to the certificate ${certFile}` };
    return { key, cert, certFile, created: false };
  } catch (err) {
    return { error: `cannot use the certificate ${certFile} with the key ${keyFile}: ${(err as Error).message}` };
  }
}

/**
 * The self-signed certificate in `dir/tls/` (localhost, 127.0.0.1, valid ten years), made when
 * missing or unreadable. The key file is readable by its owner only.
 */
export function selfSignedIdentity(dir: string, now = new Date()): TlsIdentity | { error: string } {
  const tlsDir = join(dir, 'tls');
  const certFile = join(tlsDir, 'localhost.crt');
  const keyFile = join(tlsDir, 'localhost.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const named = namedIdentity(certFile, keyFile);
    if (!('error' in named) && new Date(new X509Certificate(named.cert).validTo) > now) return named;
  }
  try {
    mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = selfSignedCertificate({
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      serial: Buffer.concat([Buffer.from([0x01]), randomBytes(15)]),
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 10 * 365 * 86_400_000),
      publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }),
      sign: (tbs) => sign('sha256', tbs, privateKey),
    });
    const cert = pem('CERTIFICATE', der);
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // Written aside and renamed: two servers starting at once never read half a file.
    writeFileSync(`${keyFile}.${process.pid}`, key, { mode: 0o600 });
    chmodSync(`${keyFile}.${process.pid}`, 0o600);
    writeFileSync(`${certFile}.${process.pid}`, cert);
    renameSync(`${keyFile}.${process.pid}`, keyFile);
    renameSync(`${certFile}.${process.pid}`, certFile);
    return { key, cert, certFile, created: true };
  } catch (err) {
    return { error: `cannot make a certificate in ${tlsDir}: ${(err as Error).message}` };
  }
}
