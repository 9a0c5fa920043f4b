import { charger, site, SLOT_MS, T0 } from './fixtures';
import { FALLBACK_CLOCK_MARGIN_MS, fallbackScheduleKw } from './limits';
import { fallbackPeriods, safeCapCommands } from './profiles';
import { BuildingLoad } from './snapshot';

/** The fallback TxDefaultProfile as a schedule (issue 17): a demand-response event ahead lowers it from its start
 *  whether or not the optimizer is there then; given a snapshot, then the periods. No I/O. */
const validators = require('ocpp-rpc/lib/standard-validators') as { subprotocol: string; validate(schemaId: string, payload: unknown): boolean }[];
const validate = (protocol: string, action: string, payload: unknown): boolean => validators.find((v) => v.subprotocol === protocol)!.validate(`urn:${action}.req`, payload);

const building: BuildingLoad = { expectedKw: [10], upperKw: [12], measuredKw: 10, measuredAt: T0 - 60000, recentPeakKw: 12, blindAfterMs: 5 * 60000 };
const HOUR = 3600000;
const dr = { from: T0 + HOUR, to: T0 + 3 * HOUR, limitKw: 30, source: 'demand-response' };
// 40 kW connection, building at 12 kW, an 11 kW AC and a 33 kW charger: 28 kW shared 1:3, during the event 18 kW.
const depot = site({ gridLimitKw: 40, buildingLoad: building, chargers: [charger('ac'), charger('dc', { maxPowerKw: 33, currentType: 'DC', rateUnit: 'W', protocol: 'ocpp2.0.1' })], limitEvents: [dr] });
const ac = depot.chargers[0]!;
const dc = depot.chargers[1]!;

describe('the fallback schedule', () => {
  test('given a demand-response event ahead, the share steps down before it starts and back up after it ends', () => {
    expect(fallbackScheduleKw(depot, dc)).toEqual([
      { from: T0, kw: 21 },
      { from: dr.from - FALLBACK_CLOCK_MARGIN_MS, kw: 13.5 },
      { from: dr.to + FALLBACK_CLOCK_MARGIN_MS, kw: 21 },
    ]);
  });

  test('every charger together stays within the limit in force at every instant, building at its recent peak included', () => {
    for (const at of [T0, dr.from - FALLBACK_CLOCK_MARGIN_MS, dr.from, dr.to, dr.to + FALLBACK_CLOCK_MARGIN_MS]) {
      const kwAt = (c: typeof ac) => fallbackScheduleKw(depot, c).reduce((m, p) => (p.from <= at ? p.kw : m), 0);
      const limit = at >= dr.from - FALLBACK_CLOCK_MARGIN_MS && at < dr.to + FALLBACK_CLOCK_MARGIN_MS ? dr.limitKw : 40;
      expect(kwAt(ac) + kwAt(dc) + building.recentPeakKw).toBeLessThanOrEqual(limit + 1e-9);
    }
  });

  test('an event in force now lowers the first period; one that has ended changes nothing', () => {
    const now = site({ ...depot, limitEvents: [{ ...dr, from: T0 - HOUR }] });
    expect(fallbackScheduleKw(now, dc)[0]).toEqual({ from: T0, kw: 13.5 });
    expect(fallbackScheduleKw(site({ ...depot, limitEvents: [] }), dc)).toEqual([{ from: T0, kw: 21 }]);
  });

  test('as TxDefaultProfile periods in the charger unit, seconds from the schedule start; 0 where the share is below 6 A', () => {
    const start = T0 - 30000;
    expect(fallbackPeriods(depot, dc, start)).toEqual([
      { startPeriod: 0, limit: 21000 },
      { startPeriod: (dr.from - FALLBACK_CLOCK_MARGIN_MS - start) / 1000, limit: 13500 },
      { startPeriod: (dr.to + FALLBACK_CLOCK_MARGIN_MS - start) / 1000, limit: 21000 },
    ]);
    // The AC charger: 7 kW = 10.1 A per phase, then 4.5 kW = 6.5 A.
    expect(fallbackPeriods(depot, ac, start).map((p) => p.limit)).toEqual([10.1, 6.5, 10.1]);
    const tight = site({ ...depot, limitEvents: [{ ...dr, limitKw: 20 }] });
    expect(fallbackPeriods(tight, ac, start).map((p) => p.limit)).toEqual([10.1, 0, 10.1]);
  });

  test('no more periods than the charger takes: the tail merged at its lowest limit', () => {
    const events = [0, 1, 2, 3].map((k) => ({ from: T0 + (2 * k + 1) * SLOT_MS, to: T0 + (2 * k + 2) * SLOT_MS, limitKw: 30 - k, source: 'demand-response' }));
    const periods = fallbackPeriods(site({ ...depot, limitEvents: events }), { ...dc, maxSchedulePeriods: 3 }, T0);
    expect(periods).toHaveLength(3);
    expect(periods[2]!.limit).toBe(Math.min(...fallbackScheduleKw(site({ ...depot, limitEvents: events }), dc).slice(2).map((p) => p.kw * 1000)));
  });

  test('the caps are schema-valid in both protocols; their ids follow the content and the charger’s last connection', () => {
    for (const c of [ac, dc, { ...ac, protocol: 'ocpp2.0.1' as const }, { ...dc, protocol: 'ocpp1.6' as const }]) {
      for (const cmd of safeCapCommands(depot, c, T0)) expect(validate(c.protocol!, 'SetChargingProfile', cmd.payload)).toBe(true);
    }
    const ids = (c: typeof dc, s = depot, now = T0) => safeCapCommands(s, c, now).map((x) => x.commandId);
    // The same caps a minute later: the same ids (the gateway delivers an id once, so nothing is sent twice).
    expect(ids(dc, site({ ...depot, now: T0 + 60000 }), T0 + 60000)).toEqual(ids(dc));
    // After a reboot the same content is a new command: the charger may have lost what it held.
    expect(ids({ ...dc, connectedAt: T0 + 5000 })).not.toEqual(ids(dc));
    // Another event: another TxDefaultProfile, the same max profile.
    const other = ids(dc, site({ ...depot, limitEvents: [{ ...dr, limitKw: 25 }] }));
    expect(other[0]).toBe(ids(dc)[0]);
    expect(other[1]).not.toBe(ids(dc)[1]);
  });
});
