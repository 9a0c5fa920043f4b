import { generateKeyPairSync } from 'node:crypto';
import { chain, conversation } from '../../test/audit/frames-fixture';
import { advanceHead, ChainHead, crossCheck, signCheckpoint } from './checkpoint';
import { LocatedFrame } from './frames';

/** Given a log and signed checkpoints, when verify holds one to the other, then... (no broker, no database). */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const t0 = Date.parse('2026-03-04T06:00:00Z');
const frames = chain('CP1', conversation(t0));
const located = (fs: typeof frames): LocatedFrame[] => fs.map((frame, i) => ({ origin: { partition: 0, offset: String(i) }, frame }));
const head = (seq: number): ChainHead => ({ chargePointId: 'CP1', seq, hash: frames[seq - 1]!.hash });

test('the genuine log holds to checkpoints at seq 3 and 9', () => {
  expect(crossCheck(located(frames), [signCheckpoint(privateKey, publicKey, head(3), t0), signCheckpoint(privateKey, publicKey, head(9), t0)], publicKey)).toEqual([]);
});

test('a fork at a checkpointed seq is named, with both records', () => {
  const forked = chain('CP1', conversation(t0).map((s, i) => (i === 3 ? { ...s, payload: { ...(s.payload as object), idTag: 'TAG9' } } : s)));
  const problems = crossCheck(located([...frames, ...forked.slice(3)]), [signCheckpoint(privateKey, publicKey, head(3), t0), signCheckpoint(privateKey, publicKey, head(9), t0)], publicKey);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatchObject({ chargePointId: 'CP1', seq: 9 });
  expect(problems[0]!.reason).toMatch(/^the chain forks at seq 9, .*2 records with this seq \(ocpp.frames partition 0 offset 8, ocpp.frames partition 0 offset 14\)/);
});

test('a checkpoint signed by another key does not count', () => {
  const problems = crossCheck(located(frames), [signCheckpoint(other.privateKey, other.publicKey, head(9), t0)], publicKey);
  expect(problems[0]!.reason).toContain('has no valid signature of the trusted key');
});

test('records cut off after a checkpoint are named as removed', () => {
  const problems = crossCheck(located(frames.slice(0, 6)), [signCheckpoint(privateKey, publicKey, head(3), t0), signCheckpoint(privateKey, publicKey, head(9), t0)], publicKey);
  expect(problems).toEqual([{ chargePointId: 'CP1', seq: 9, reason: expect.stringContaining('seq 9, covered by the checkpoint signed 2026-03-04T06:00:00.000Z, is not in the log') }]);
});

test('the checkpointer advances a head only along the chain', () => {
  expect(advanceHead(undefined, frames[0]!)).toEqual({ kind: 'advanced', head: head(1) });
  expect(advanceHead(undefined, frames[1]!)).toEqual({ kind: 'broken', reason: 'the chain starts at seq 2, not 1' });
  expect(advanceHead(head(3), frames[1]!)).toEqual({ kind: 'covered' });
  expect(advanceHead(head(3), frames[4]!)).toEqual({ kind: 'broken', reason: 'seq jumps from 3 to 5' });
  expect(advanceHead({ ...head(3), hash: frames[0]!.hash }, frames[3]!)).toEqual({ kind: 'broken', reason: 'seq 4 does not chain to seq 3' });
  expect(advanceHead(head(3), { ...frames[3]!, payloadJson: '{}' })).toEqual({ kind: 'broken', reason: 'seq 4: content does not match its hash' });
});
