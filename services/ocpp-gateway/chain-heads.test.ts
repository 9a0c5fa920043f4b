/** A charger's chain head across failed produce requests (chain-heads.ts), without Kafka: given what the requests met,
 *  when the charger's next records come, then they continue its chain in the log without a gap or a fork. The log is
 *  modelled as the records that end up on the partition, in offset order. */
import { frameHash, GENESIS_HASH } from '../../schemas/frame-chain';
import { acknowledged, adopted, chainable, failed, HeadState, refusedAfterDoubt, scanned } from './chain-heads';
import { ChainHead, chainFrame, connectionDraft, FrameRecord, genesis } from './frames';

const draft = connectionDraft({ chargePointId: 'cp1', gatewayId: 'gw', protocol: 'ocpp1.6' }, 'CONNECTED', 0);

/** Chains `n` records on `head` (what a flush does with a CALL and its CALLRESULT). */
const chainOn = (head: ChainHead, n: number): FrameRecord[] => {
  const out: FrameRecord[] = [];
  for (let i = 0; i < n; i++) {
    const c = chainFrame(head, draft);
    out.push(c.record);
    head = c.head;
  }
  return out;
};
/** What `voltstream verify` checks of one charger's records in log order: seq 1, 2, ... each linked to the one before. */
const checkChainShape = (log: readonly FrameRecord[]): { ok: boolean; length: number } => {
  let prev = GENESIS_HASH;
  for (const [i, r] of log.entries()) {
    if (r.seq !== i + 1 || r.prevHash !== prev || r.hash !== frameHash(prev, r)) return { ok: false, length: i };
    prev = r.hash;
  }
  return { ok: true, length: log.length };
};
const last = (rs: readonly FrameRecord[]): ChainHead => ({ seq: rs[rs.length - 1]!.seq, hash: rs[rs.length - 1]!.hash });

/** 61 records written and acknowledged, the last at offset 60. */
const written61 = () => {
  const log = chainOn(genesis, 61);
  const st = acknowledged(adopted(genesis, null, 0, undefined), last(log), 60);
  return { log, st };
};

describe('chain heads across failed requests', () => {
  test('given an acknowledged head, then records are chained on it', () => {
    const { st } = written61();
    expect(chainable(st)).toMatchObject({ seq: 61 });
  });

  test('given a request (62-63) the leader did not answer, then nothing of the charger is chained, and a scan does not settle it', () => {
    const { st } = written61();
    const inDoubt = failed(st, true);
    expect(chainable(inDoubt)).toBeUndefined();
    // The request sits above the new leader's high watermark: a scan reads nothing of it.
    expect(scanned(inDoubt, undefined)).toEqual(inDoubt);
    expect(chainable(scanned(inDoubt, undefined))).toBeUndefined();
  });

  test('when the request in doubt is acknowledged late, then the next records are 64 on 63 and the log has no gap', () => {
    const { log, st } = written61();
    const r1 = chainOn(chainable(st)!, 2);
    const inDoubt = failed(st, true);
    // Sent again unchanged by the same producer: written once, at offsets 61-62.
    log.push(...r1);
    const after = acknowledged(inDoubt, last(r1), 62);
    const r2 = chainOn(chainable(after)!, 2);
    log.push(...r2);
    expect(r2.map((r) => r.seq)).toEqual([64, 65]);
    expect(checkChainShape(log)).toEqual({ ok: true, length: 65 });
  });

  test('when the leader refuses the request in doubt (not written), then the head is read from the topic: 62 again on 61, no gap', () => {
    const { log, st } = written61();
    const scan = refusedAfterDoubt(failed(st, true));
    expect(scan).toMatchObject({ state: 'scan', from: 61 });
    const after = scanned(scan, undefined);
    const r2 = chainOn(chainable(after)!, 2);
    log.push(...r2);
    expect(r2.map((r) => r.seq)).toEqual([62, 63]);
    expect(checkChainShape(log)).toEqual({ ok: true, length: 63 });
  });

  test('when a refused request was written after all (found by the scan), then the chain goes on after it', () => {
    const { log, st } = written61();
    const r1 = chainOn(chainable(st)!, 2);
    log.push(...r1);
    const after = scanned(failed(st, false), { ...last(r1), offset: 62 });
    log.push(...chainOn(chainable(after)!, 1));
    expect(checkChainShape(log)).toEqual({ ok: true, length: 64 });
  });

  test('what the frame log did before: a request in doubt given up on, scanned at once, and written late forks the chain', () => {
    const { log, st } = written61();
    const r1 = chainOn(chainable(st)!, 2);
    // Treated as refused: the scan misses r1 (above the high watermark), so the next records are chained on 61 ...
    const after = scanned(failed(st, false), undefined);
    const r2 = chainOn(chainable(after)!, 2);
    // ... and r1 lands after all: 62 twice.
    log.push(...r1, ...r2);
    expect(checkChainShape(log)).toMatchObject({ ok: false });
  });

  test('a charger adopted to be scanned for waits for the scan; one adopted from a stored head does not', () => {
    const stored: HeadState = adopted({ seq: 5, hash: 'h5' }, 4, 0, undefined);
    expect(chainable(stored)).toEqual({ seq: 5, hash: 'h5' });
    const toScan = adopted({ seq: 5, hash: 'h5' }, 4, 0, 3);
    expect(chainable(toScan)).toBeUndefined();
    expect(chainable(scanned(toScan, { seq: 7, hash: 'h7', offset: 9 }))).toEqual({ seq: 7, hash: 'h7' });
    expect(chainable(scanned(toScan, undefined))).toEqual({ seq: 5, hash: 'h5' });
  });
});
