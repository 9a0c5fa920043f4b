import { ChargingEvent, EventBody, fromAvro, toAvro } from '../../schemas/events';
import { configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { SinkRecord } from '../sink/pg-sink';
import { createTracker } from './processor';

const t0 = Date.UTC(2026, 4, 4, 17, 0);
const ev = (cp: string, at: number, body: EventBody, n: number): ChargingEvent => ({ eventId: `e${n}`, chargePointId: cp, occurredAt: at, source: null, body });
const rec = (topic: string, partition: number, offset: number, value: Record<string, unknown>): SinkRecord => ({ topic, partition, offset, key: null, value });
const vehicle = configToAvro({ eventId: 'c1', at: t0 - 60_000, actor: 'test', body: { type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 60, maxAcPowerKw: 22, maxDcPowerKw: 150, consumptionKwhPerKm: 0.2, idTags: ['RFID-1'], telematicsProvider: 'sim', providerVehicleId: 'V1', siteId: 'DEPOT' } });
const started = toAvro(ev('CP-A', t0, { type: 'SessionStarted', sessionId: 'CP-A:1', transactionId: '1', connectorId: 1, idTag: 'RFID-1', meterStartWh: 0 }, 1));
const status = (n: number) => toAvro(ev('CP-A', t0 + n * 1000, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null }, 10 + n));
const matched = (outs: readonly { value: Record<string, unknown> }[]) => outs.map((o) => fromAvro(o.value).body).filter((b) => b.type === 'VehicleMatched');

describe('vehicle tracker processor: restore', () => {
  it('given a SessionStarted processed live before the restore of fleet.config reaches its VehicleConfigured, then the id-tag match is produced with the next live record of the session', () => {
    const p = createTracker();
    expect(p.process(rec(Topics.chargingEvents, 2, 5, started), false)).toEqual([]);
    // fleet.config restores (outputs dropped) and maps the tag: the match is decided there.
    expect(p.process(rec(Topics.fleetConfig, 0, 0, vehicle), true)).toEqual([]);
    expect(p.state().sessions['CP-A:1']).toMatchObject({ vehicleId: 'V1', method: 'idTag' });
    expect(matched(p.process(rec(Topics.chargingEvents, 2, 6, status(1)), false))).toMatchObject([{ sessionId: 'CP-A:1', vehicleId: 'V1', method: 'idTag' }]);
    expect(matched(p.process(rec(Topics.chargingEvents, 2, 7, status(2)), false))).toEqual([]);
  });

  it('given the match of the restore coming back on charging.events before the next live record, then it is not produced again', () => {
    const p = createTracker();
    p.process(rec(Topics.fleetConfig, 0, 0, vehicle), true);
    const d = createTracker();
    d.process(rec(Topics.fleetConfig, 0, 0, vehicle), false);
    const decided = d.process(rec(Topics.chargingEvents, 2, 5, started), false);
    expect(matched(decided)).toHaveLength(1);
    // Restoring charging.events: the SessionStarted, then our committed decision.
    p.process(rec(Topics.chargingEvents, 2, 5, started), true);
    p.process(rec(Topics.chargingEvents, 2, 6, decided[0]!.value), true);
    expect(matched(p.process(rec(Topics.chargingEvents, 2, 7, status(1)), false))).toEqual([]);
  });
});
