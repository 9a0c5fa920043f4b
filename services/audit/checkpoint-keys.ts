import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The Ed25519 key pair of audit checkpoints. The private key signs (the checkpointer only); the public key is all
 *  `verify` needs. From AUDIT_CHECKPOINT_PRIVATE_KEY / AUDIT_CHECKPOINT_PUBLIC_KEY (PEM), else the files
 *  $VOLTSTREAM_HOME/audit/checkpoint-key.pem (mode 0600, made once) and checkpoint-key.pub.pem. In a deployment,
 *  keep the private key with the checkpointer only, and give auditors the public key from somewhere they trust. */
export const keyFiles = (home: string) => ({
  privateKey: path.join(home, 'audit', 'checkpoint-key.pem'),
  publicKey: path.join(home, 'audit', 'checkpoint-key.pub.pem'),
});

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const readIfExists = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/** Made into a private temporary file and linked into place: two processes starting together end with one key. */
const createKeyFiles = (files: ReturnType<typeof keyFiles>) => {
  fs.mkdirSync(path.dirname(files.privateKey), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = `${files.privateKey}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, files.privateKey);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const pub = createPublicKey(createPrivateKey(fs.readFileSync(files.privateKey, 'utf8')));
  fs.writeFileSync(files.publicKey, pub.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
};

export const loadOrCreateSigningKey = (home: string, env: NodeJS.ProcessEnv = process.env): SigningKey => {
  const configured = env.AUDIT_CHECKPOINT_PRIVATE_KEY;
  if (configured) {
    const privateKey = createPrivateKey(configured);
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  const files = keyFiles(home);
  if (readIfExists(files.privateKey) === undefined) createKeyFiles(files);
  const privateKey = createPrivateKey(fs.readFileSync(files.privateKey, 'utf8'));
  const publicKey = createPublicKey(privateKey);
  if (readIfExists(files.publicKey) === undefined) fs.writeFileSync(files.publicKey, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateKey, publicKey };
};

/** The key `verify` trusts: AUDIT_CHECKPOINT_PUBLIC_KEY, else the public key file; undefined when there is neither. */
export const loadVerifyKey = (home: string, env: NodeJS.ProcessEnv = process.env): KeyObject | undefined => {
  const pem = env.AUDIT_CHECKPOINT_PUBLIC_KEY ?? readIfExists(keyFiles(home).publicKey);
  return pem ? createPublicKey(pem) : undefined;
};
