import { createHash, KeyObject, sign, verify } from 'node:crypto';
import { frameHash } from '../../schemas/frame-chain';
import { describeOrigin, LocatedFrame } from './frames';

/** Signed checkpoints of the ocpp.frames hash chain, kept outside Kafka (checkpoint-store.ts). A checkpoint says: at
 *  `signedAt`, the chain of `chargePointId` reached `seq` with record hash `hash`. Whoever can write to Kafka can
 *  rebuild a chain whose hashes all agree (they are plain SHA-256, no secret), but cannot sign: a checkpoint is an
 *  Ed25519 signature by a key Kafka never sees. `verify` then holds the log to every checkpoint: the record at each
 *  checkpointed seq must be there, once, with the signed hash. Pure: no I/O (signing is computation). */
export interface ChainHead {
  readonly chargePointId: string;
  readonly seq: number;
  readonly hash: string;
}

export interface Checkpoint extends ChainHead {
  readonly signedAt: number;
  /** Fingerprint of the public key (keyFingerprint), to name the key a checkpoint claims. */
  readonly keyId: string;
  /** Ed25519 signature of checkpointMessage, base64. */
  readonly signature: string;
}

/** What is signed: a fixed prefix (so the signature means nothing in any other protocol) and every field. */
export const checkpointMessage = (c: Omit<Checkpoint, 'signature'>): Buffer =>
  Buffer.from(['voltstream-audit-checkpoint/1', c.chargePointId, String(c.seq), c.hash, String(c.signedAt), c.keyId].join('\n'), 'utf8');

export const keyFingerprint = (publicKey: KeyObject): string =>
  createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);

export const signCheckpoint = (privateKey: KeyObject, publicKey: KeyObject, head: ChainHead, signedAt: number): Checkpoint => {
  const unsigned = { ...head, signedAt, keyId: keyFingerprint(publicKey) };
  return { ...unsigned, signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64') };
};

export const checkpointSignatureValid = (publicKey: KeyObject, c: Checkpoint): boolean => {
  try {
    return c.keyId === keyFingerprint(publicKey) && verify(null, checkpointMessage(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
};

/** The checkpointer's fold: a charger's chain head, advanced by a record that continues it and by nothing else.
 *  A record at or below the head is one already covered (a re-read after restart); anything else is a break the
 *  checkpointer refuses to sign past. */
export type HeadStep = { kind: 'advanced'; head: ChainHead } | { kind: 'covered' } | { kind: 'broken'; reason: string };

export const advanceHead = (head: ChainHead | undefined, f: LocatedFrame['frame']): HeadStep => {
  const computed = frameHash(f.prevHash, f);
  if (computed !== f.hash) return { kind: 'broken', reason: `seq ${f.seq}: content does not match its hash` };
  if (!head) {
    if (f.seq !== 1) return { kind: 'broken', reason: `the chain starts at seq ${f.seq}, not 1` };
    return { kind: 'advanced', head: { chargePointId: f.chargePointId, seq: f.seq, hash: f.hash } };
  }
  if (f.seq <= head.seq) return { kind: 'covered' };
  if (f.seq !== head.seq + 1) return { kind: 'broken', reason: `seq jumps from ${head.seq} to ${f.seq}` };
  if (f.prevHash !== head.hash) return { kind: 'broken', reason: `seq ${f.seq} does not chain to seq ${head.seq}` };
  return { kind: 'advanced', head: { chargePointId: f.chargePointId, seq: f.seq, hash: f.hash } };
};

export interface CheckpointProblem {
  readonly chargePointId: string;
  readonly seq: number;
  readonly reason: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Holds the log's records to the checkpoints. Every checkpoint must carry a valid signature of the trusted key, and
 *  for each, the log must hold exactly one record of that charger at that seq, with the signed hash (which, with the
 *  hash chain intact, fixes every record before it). One problem per charger, at its lowest failing checkpoint,
 *  naming the seq range since the last checkpoint that held: the change is in there. */
export const crossCheck = (frames: readonly LocatedFrame[], checkpoints: readonly Checkpoint[], publicKey: KeyObject): CheckpointProblem[] => {
  const bySeq = new Map<string, Map<number, LocatedFrame[]>>();
  for (const lf of frames) {
    let m = bySeq.get(lf.frame.chargePointId);
    if (!m) bySeq.set(lf.frame.chargePointId, (m = new Map()));
    const list = m.get(lf.frame.seq);
    if (list) list.push(lf);
    else m.set(lf.frame.seq, [lf]);
  }
  const perCharger = new Map<string, Checkpoint[]>();
  for (const c of checkpoints) perCharger.set(c.chargePointId, [...(perCharger.get(c.chargePointId) ?? []), c]);
  const problems: CheckpointProblem[] = [];
  for (const [chargePointId, list] of perCharger) {
    let held = 0;
    for (const c of [...list].sort((a, b) => a.seq - b.seq || a.signedAt - b.signedAt)) {
      const at = `the checkpoint signed ${iso(c.signedAt)}`;
      const range = held + 1 < c.seq ? `seq ${held + 1}..${c.seq}` : `seq ${c.seq}`;
      const fail = (reason: string) => problems.push({ chargePointId, seq: c.seq, reason });
      if (!checkpointSignatureValid(publicKey, c)) {
        fail(`${at} at seq ${c.seq} has no valid signature of the trusted key: the checkpoint store was altered`);
        break;
      }
      const records = bySeq.get(chargePointId)?.get(c.seq) ?? [];
      if (records.length === 0) {
        fail(`seq ${c.seq}, covered by ${at}, is not in the log: records were removed`);
        break;
      }
      if (records.length > 1) {
        fail(`the chain forks at seq ${c.seq}, covered by ${at}: ${records.length} records with this seq (${records.map((r) => describeOrigin(r.origin)).join(', ')})`);
        break;
      }
      if (records[0]!.frame.hash !== c.hash) {
        fail(`${range} rewritten: seq ${c.seq} at ${describeOrigin(records[0]!.origin)} has hash ${records[0]!.frame.hash.slice(0, 12)}…, ${at} has ${c.hash.slice(0, 12)}…`);
        break;
      }
      held = c.seq;
    }
  }
  return problems.sort((a, b) => a.chargePointId.localeCompare(b.chargePointId));
};
