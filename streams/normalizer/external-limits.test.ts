import { specFor } from '../runtime/spec';
import { evolve, initialCharger, publishedEvents } from './decide';
import { decideNormalizer, NormalizerInput } from './fold';
import { OcppFrame } from './frame';
import { session201 } from './fixtures';

/** Limits others set on a 2.0.1 charger (issue 17 item 4): NotifyChargingLimit, ClearedChargingLimit and
 *  ReportChargingProfiles' external-constraints profiles become ExternalLimitReported / ExternalLimitCleared. */
const spec = specFor({ initial: initialCharger, decide: decideNormalizer, evolve });
const t0 = Date.UTC(2026, 0, 5, 17);
const template = session201({ chargePointId: 'CP-1', t0, idTag: 'T', meterStartWh: 0, energyWh: 1000, minutes: 10, socStartPct: 30 }).find((f) => f.kind === 'CALL')!;
const call = (action: string, payload: object, offset: number): NormalizerInput => ({
  from: 'frames',
  key: 'CP-1',
  value: { ...template, action, uniqueId: `u${offset}`, payloadJson: JSON.stringify(payload), raw: '', receivedAt: t0 + offset * 1000 } satisfies OcppFrame,
  source: { topic: 'ocpp.frames', partition: 0, offset },
  timestamp: t0 + offset * 1000,
});
const bodies = (...inputs: NormalizerInput[]) => publishedEvents(spec.given().when(...inputs).events).map((e) => e.body);

describe('external limits from a 2.0.1 charger', () => {
  it('given an EMS NotifyChargingLimit with a schedule, then ExternalLimitReported carries source, EVSE and periods', () => {
    const schedule = { id: 1, startSchedule: new Date(t0).toISOString(), duration: 3600, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }, { startPeriod: 1800, limit: 10, numberPhases: 1 }] };
    expect(bodies(call('NotifyChargingLimit', { chargingLimit: { chargingLimitSource: 'EMS', isGridCritical: true }, evseId: 1, chargingSchedule: [schedule] }, 1))).toEqual([
      {
        type: 'ExternalLimitReported',
        evseId: 1,
        source: 'EMS',
        isGridCritical: true,
        schedules: [{ startAt: t0, durationS: 3600, unit: 'A', periods: [{ startS: 0, limit: 16, numberPhases: null }, { startS: 1800, limit: 10, numberPhases: 1 }] }],
      },
    ]);
  });

  it('given ClearedChargingLimit, then ExternalLimitCleared; an invalid NotifyChargingLimit changes nothing', () => {
    expect(bodies(call('ClearedChargingLimit', { chargingLimitSource: 'EMS' }, 2))).toEqual([{ type: 'ExternalLimitCleared', evseId: 0, source: 'EMS' }]);
    expect(bodies(call('NotifyChargingLimit', { chargingLimit: {} }, 3))).toEqual([]);
  });

  it("given ReportChargingProfiles, then only the external-constraints profiles count, ended by their validTo; a CSO report of our own profiles is no limit", () => {
    const profile = (purpose: string, limit: number) => ({
      id: limit,
      stackLevel: 0,
      chargingProfilePurpose: purpose,
      chargingProfileKind: 'Absolute',
      validTo: new Date(t0 + 600000).toISOString(),
      chargingSchedule: [{ id: 1, startSchedule: new Date(t0).toISOString(), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
    });
    expect(bodies(call('ReportChargingProfiles', { requestId: 1, chargingLimitSource: 'EMS', evseId: 0, chargingProfile: [profile('ChargingStationExternalConstraints', 20000), profile('TxDefaultProfile', 5000)] }, 4))).toEqual([
      { type: 'ExternalLimitReported', evseId: 0, source: 'EMS', isGridCritical: null, schedules: [{ startAt: t0, durationS: 600, unit: 'W', periods: [{ startS: 0, limit: 20000, numberPhases: null }] }] },
    ]);
    expect(bodies(call('ReportChargingProfiles', { requestId: 2, chargingLimitSource: 'CSO', evseId: 1, chargingProfile: [profile('TxProfile', 5000)] }, 5))).toEqual([]);
  });
});
