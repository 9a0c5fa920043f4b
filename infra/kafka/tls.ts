import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The partner listener's TLS material: a self-signed CA made once per broker directory (a cluster's nodes share the
 *  first node's) and a broker certificate it signs for 127.0.0.1, localhost and the host the broker is advertised at,
 *  kept as a PKCS#12 keystore. The CA certificate (tls/ca.pem) is public: partners
 *  verify the broker with it. The CA key, the keystore and its password are readable by the owner only. Made with the
 *  openssl command (Node can sign no certificates); kept across restarts so partners keep trusting the same CA. */
export interface BrokerTls {
  readonly caFile: string;
  readonly keystoreFile: string;
  readonly keystorePassword: string;
}

const tlsFiles = (brokerDir: string, caDir: string) => {
  const dir = path.join(brokerDir, 'tls');
  return {
    dir,
    caDir: path.join(caDir, 'tls'),
    caCert: path.join(caDir, 'tls', 'ca.pem'),
    caKey: path.join(caDir, 'tls', 'ca.key'),
    keystore: path.join(dir, 'broker.p12'),
    password: path.join(dir, 'keystore-password'),
    /** The subject alternative names the keystore's certificate was made for. */
    names: path.join(dir, 'broker-names'),
  };
};

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(':');

/** The certificate's subject alternative names: loopback always, and each given host. */
export const subjectAltNames = (hosts: readonly string[]): string =>
  [...new Set(['IP:127.0.0.1', 'DNS:localhost', ...hosts.map((h) => (isIp(h) ? `IP:${h}` : `DNS:${h}`))])].join(',');

const openssl = (args: readonly string[], cwd: string): void => {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed while making the partner listener's TLS certificates: ${err.stderr?.toString().trim() || err.message}`);
  }
};

export const ensureBrokerTls = (brokerDir: string, opts: { caDir?: string; hosts?: readonly string[] } = {}): BrokerTls => {
  const f = tlsFiles(brokerDir, opts.caDir ?? brokerDir);
  const names = subjectAltNames(opts.hosts ?? []);
  const namesMatch = (fs.existsSync(f.names) ? fs.readFileSync(f.names, 'utf8').trim() : subjectAltNames([])) === names;
  if (namesMatch && [f.caCert, f.keystore, f.password].every((p) => fs.existsSync(p)))
    return { caFile: f.caCert, keystoreFile: f.keystore, keystorePassword: fs.readFileSync(f.password, 'utf8').trim() };
  fs.mkdirSync(f.dir, { recursive: true, mode: 0o755 });
  fs.mkdirSync(f.caDir, { recursive: true, mode: 0o755 });
  const password = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(f.password, `${password}\n`, { mode: 0o600 });
  if (!fs.existsSync(f.caCert) || !fs.existsSync(f.caKey)) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f.caKey, '-out', f.caCert, '-days', '3650', '-subj', '/CN=Voltstream local Kafka CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], f.caDir);
    fs.chmodSync(f.caKey, 0o600);
    fs.chmodSync(f.caCert, 0o644);
  }
  const tmp = fs.mkdtempSync(path.join(f.dir, 'make-'));
  try {
    const ext = path.join(tmp, 'ext.cnf');
    fs.writeFileSync(ext, `subjectAltName=${names}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n`);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=localhost'], tmp);
    openssl(['x509', '-req', '-in', 'broker.csr', '-CA', f.caCert, '-CAkey', f.caKey, '-set_serial', `0x${crypto.randomBytes(16).toString('hex')}`, '-days', '825', '-extfile', ext, '-out', 'broker.pem'], tmp);
    openssl(['pkcs12', '-export', '-in', 'broker.pem', '-inkey', 'broker.key', '-certfile', f.caCert, '-name', 'broker', '-out', f.keystore, '-passout', `file:${f.password}`], tmp);
    fs.chmodSync(f.keystore, 0o600);
    fs.writeFileSync(f.names, `${names}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { caFile: f.caCert, keystoreFile: f.keystore, keystorePassword: password };
};
