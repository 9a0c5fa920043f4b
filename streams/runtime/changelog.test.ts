import * as E from 'fp-ts/Either';
import { session16 } from '../normalizer/fixtures';
import { evolve, initialCharger } from '../normalizer/decide';
import { decideNormalizer, NormalizerInput } from '../normalizer/fold';
import { ChargerStateCodec } from '../normalizer/store';
import { fromPositionChange, fromStoreChange, toPositionChange, toStoreChange } from './changelog';
import { specFor } from './spec';

const spec = specFor({ initial: initialCharger, decide: decideNormalizer, evolve });
const frames = session16({ chargePointId: 'CP-7', t0: Date.UTC(2026, 3, 1, 9), idTag: 'T', meterStartWh: 1000, energyWh: 9000, minutes: 30, socStartPct: 40 });
const inputs: NormalizerInput[] = frames.map((f, i) => ({ from: 'frames', value: f, key: f.chargePointId, source: { topic: 'ocpp.frames', partition: 2, offset: i }, timestamp: f.receivedAt }));

describe('store changelog records', () => {
  it('given a charger mid-session, its state comes back from its changelog record unchanged', () => {
    // Mid-session: an open session with a register, a pending CALL is not there; up to the StartTransaction CALL: pending.
    const midSession = spec.givenInputs(inputs.slice(0, 20)).when().state;
    const pending = spec.givenInputs(inputs.slice(0, 10)).when().state;
    expect(Object.keys(midSession.sessions)).toHaveLength(1);
    expect(Object.keys(pending.pending)).toHaveLength(1);
    for (const state of [midSession, pending, initialCharger]) {
      const back = fromStoreChange(ChargerStateCodec, 1, toStoreChange('normalizer.chargers', 1, state));
      expect(back).toEqual(E.right({ kind: 'state', state }));
    }
  });

  it('a record of another shape says so instead of decoding; a record that is not a state is refused with the reason', () => {
    expect(fromStoreChange(ChargerStateCodec, 2, toStoreChange('normalizer.chargers', 1, initialCharger))).toEqual(E.right({ kind: 'shape', shape: 1 }));
    const wrong = fromStoreChange(ChargerStateCodec, 1, { store: 'normalizer.chargers', shape: 1, stateJson: JSON.stringify({ pending: {}, sessions: { x: { sessionId: 1 } }, status: {}, onConnector: {} }) });
    expect(E.isLeft(wrong) && wrong.left).toMatch(/sessions\.x\.sessionId/);
    expect(E.isLeft(fromStoreChange(ChargerStateCodec, 1, { store: 's', shape: 1, stateJson: '{' }))).toBe(true);
    expect(E.isLeft(fromStoreChange(ChargerStateCodec, 1, { shape: 1 }))).toBe(true);
  });

  it('a position record gives back the next offset; a state record is not a position', () => {
    expect(fromPositionChange(toPositionChange('normalizer.chargers', 1234))).toEqual(E.right(1234));
    expect(E.isLeft(fromPositionChange(toStoreChange('normalizer.chargers', 1, initialCharger)))).toBe(true);
  });
});
