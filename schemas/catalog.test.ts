import * as E from 'fp-ts/Either';
import { session201 } from '../streams/normalizer/fixtures';
import { catalog, decodeRecord, describeUndecodable, renamed } from './catalog';
import { toAvro } from './events';

describe('topic catalog', () => {
  const frame = session201({ chargePointId: 'CP-9', t0: Date.UTC(2026, 1, 1), idTag: 'T', meterStartWh: 0, energyWh: 1000, minutes: 10 })[0]!;

  it('decodes an ocpp.frames record to the domain type, timestamps as epoch ms whatever the Avro reader gave', () => {
    const asRead = { ...frame, receivedAt: new Date(frame.receivedAt), seq: frame.seq };
    expect(decodeRecord(catalog.ocppFrames, { partition: 1, offset: 7 }, asRead)).toEqual(E.right(frame));
  });

  it('names topic, partition and offset of a record that does not decode, and why', () => {
    const { hash: _dropped, ...withoutHash } = frame;
    const bad = decodeRecord(renamed(catalog.ocppFrames, 'test.x.ocpp.frames'), { partition: 3, offset: 42 }, { ...withoutHash, kind: 'PING' });
    expect(E.isLeft(bad)).toBe(true);
    if (E.isLeft(bad)) {
      expect(bad.left).toMatchObject({ topic: 'test.x.ocpp.frames', partition: 3, offset: 42 });
      expect(describeUndecodable(bad.left)).toMatch(/^test\.x\.ocpp\.frames\[3\]@42: .*kind.*hash/);
    }
  });

  it('round-trips a charging event through its Avro shape; a body that is not one union branch is refused', () => {
    const e = { eventId: 'ocpp.frames:0:1:0', chargePointId: 'CP-9', occurredAt: 5, source: { topic: 'ocpp.frames', partition: 0, offset: 1 }, body: { type: 'HeartbeatReceived' as const } };
    expect(catalog.chargingEvents.decode(catalog.chargingEvents.encode(e))).toEqual(E.right(e));
    expect(E.isLeft(catalog.chargingEvents.decode({ ...toAvro(e), body: {} }))).toBe(true);
  });

  it('says who writes and who reads each topic', () => {
    expect(catalog.ocppFrames.producers).toEqual(['services/ocpp-gateway']);
    expect(catalog.ocppFrames.consumers).toContain('streams/normalizer');
    expect(catalog.chargingEvents.producers).toEqual(['streams/normalizer', 'streams/vehicle-tracker']);
    expect(catalog.ocppFrames.subject).toBe('ocpp.frames-value');
  });
});
