import { Pool } from 'pg';
import { LocatedFrame } from './frames';
import { crossCheck } from './checkpoint';
import { loadVerifyKey } from './checkpoint-keys';
import { readCheckpoints } from './checkpoint-store';

/** `verify`'s second half: the chains read, held to the signed checkpoints of the store. Lines to print and whether
 *  anything failed; `usage` when it cannot judge (checkpoints there, but no key to check them with). With `wholeLog`
 *  (read from Kafka) every checkpoint of the chargers asked for is judged, so a charger whose records are all gone
 *  fails too. */
export interface CheckpointVerdict {
  readonly lines: string[];
  readonly failed: boolean;
  readonly usage?: string;
}

export const verifyAgainstCheckpoints = async (
  frames: readonly LocatedFrame[],
  store: { pool: Pool; home: string; schema: string; wholeLog: boolean },
  charger: string | undefined,
): Promise<CheckpointVerdict> => {
  let checkpoints;
  try {
    checkpoints = await readCheckpoints(store.pool, store.schema, charger);
  } catch (e) {
    return { failed: true, lines: [`BROKEN  checkpoints: the store ${store.schema}.checkpoints could not be read (${(e as Error).message}); --checkpoints off checks the hashes only`] };
  }
  if (checkpoints === undefined || checkpoints.length === 0) {
    return { failed: false, lines: [`checkpoints: none in ${store.schema}.checkpoints, so nothing outside Kafka anchors these chains: they are only hash-chained`] };
  }
  const key = loadVerifyKey(store.home);
  if (!key) return { failed: true, lines: [], usage: `${checkpoints.length} checkpoint(s) in ${store.schema}.checkpoints but no public key to check them: set AUDIT_CHECKPOINT_PUBLIC_KEY or VOLTSTREAM_HOME` };
  // A copy that starts mid-chain (or leaves chargers out) is held only to the checkpoints it covers.
  const firstSeq = new Map<string, number>();
  for (const f of frames) firstSeq.set(f.frame.chargePointId, Math.min(firstSeq.get(f.frame.chargePointId) ?? Infinity, f.frame.seq));
  const judged = store.wholeLog ? checkpoints : checkpoints.filter((c) => c.seq >= (firstSeq.get(c.chargePointId) ?? Infinity));
  const problems = crossCheck(frames, judged, key);
  const lines: string[] = problems.flatMap((p) => [`BROKEN  ${p.chargePointId}: against its signed checkpoints, at seq ${p.seq}`, `        ${p.reason}`]);
  const chargers = new Set(judged.map((c) => c.chargePointId)).size;
  lines.push(problems.length
    ? `checkpoints: ${problems.length} of ${chargers} checkpointed charger(s) contradict their checkpoints`
    : `checkpoints: ${judged.length} checkpoint(s) of ${chargers} charger(s) hold; records after each charger's last checkpoint are only hash-chained`);
  return { failed: problems.length > 0, lines };
};
