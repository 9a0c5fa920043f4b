import { verifyChains } from './chain';
import { LocatedFrame } from './frames';
import { chain, conversation } from '../../test/audit/frames-fixture';

/** The chain check as a pure function: given frames, then the report. */
const located = (cp: string) => chain(cp, conversation(Date.parse('2026-01-01T00:00:00Z'))).map((frame, i): LocatedFrame => ({ origin: { file: 'x', line: i + 1 }, frame }));

test('intact chains of two chargers, interleaved', () => {
  const a = located('A');
  const b = located('B');
  const mixed = a.flatMap((f, i) => [f, b[i]!]);
  expect(verifyChains(mixed, { fromGenesis: true })).toEqual([
    { chargePointId: 'A', records: 9, firstSeq: 1, lastSeq: 9, broken: null, note: null },
    { chargePointId: 'B', records: 9, firstSeq: 1, lastSeq: 9, broken: null, note: null },
  ]);
});

test('two records swapped: the first out of order is named', () => {
  const a = located('A');
  [a[3], a[4]] = [a[4]!, a[3]!];
  const [r] = verifyChains(a, { fromGenesis: true });
  expect(r!.broken).toMatchObject({ seq: 5, reason: 'seq jumps from 3 to 5: 1 record(s) missing' });
});

test('a partial copy starting mid-chain is checked from its first record, unless the whole log is expected', () => {
  const a = located('A').slice(3);
  expect(verifyChains(a, { fromGenesis: false })[0]).toMatchObject({ broken: null, note: 'starts at seq 4: earlier records are not in the input, so its prevHash is not checked' });
  expect(verifyChains(a, { fromGenesis: true })[0]!.broken).toMatchObject({ seq: 4, reason: 'the chain starts at seq 4, not 1: records before it are missing from the log' });
});

test('the first record edited', () => {
  const a = located('A');
  a[0] = { ...a[0]!, frame: { ...a[0]!.frame, raw: 'x' } };
  expect(verifyChains(a, { fromGenesis: true })[0]!.broken).toMatchObject({ seq: 1, origin: { file: 'x', line: 1 } });
});
