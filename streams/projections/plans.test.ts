import * as E from 'fp-ts/Either';
import { decodePlanRecord } from '../../schemas/plan-record';
import { optimizerPlansProjection } from './plans';

const record = {
  planId: 'plan-1', siteId: 'north', decidedAt: new Date(Date.UTC(2026, 11, 7, 6)), trigger: 'slot', horizonStart: Date.UTC(2026, 11, 7, 6), slotMinutes: 15,
  status: 'Optimal', objective: 4.2, solveMs: 12, gridLimitKw: 150, siteKw: [20, 10],
  vehicles: [{ vehicleId: 'V1', chargePointId: 'CP1', connectorId: 1, powerKw: [20, 10], targetKwh: 7.5, plannedKwh: 7.5, shortfallKwh: 0, departAt: null }],
  inputsJson: '{"vehicles":1}',
};

describe('optimizer_plans projection', () => {
  test('given an optimizer.plans record, then one row with its times in ms and its snapshot parsed', () => {
    const plan = decodePlanRecord(record);
    expect(E.isRight(plan)).toBe(true);
    const rows = optimizerPlansProjection.rows({ kind: 'plan', plan: (plan as E.Right<never>).right });
    expect(rows).toEqual([
      expect.objectContaining({ plan_id: 'plan-1', site_id: 'north', decided_at: Date.UTC(2026, 11, 7, 6), horizon_start: Date.UTC(2026, 11, 7, 6), site_kw: [20, 10], inputs: { vehicles: 1 } }),
    ]);
  });
  test('given a snapshot that is not JSON, then it is kept as text', () => {
    const plan = decodePlanRecord({ ...record, inputsJson: 'not json' });
    const rows = optimizerPlansProjection.rows({ kind: 'plan', plan: (plan as E.Right<never>).right });
    expect(rows[0]!.inputs).toEqual({ unparsed: 'not json' });
  });
  test('given a record missing a field, then decoding says which', () => {
    const { siteKw: _dropped, ...rest } = record;
    expect(decodePlanRecord(rest)).toEqual(E.left(expect.stringContaining('siteKw')));
  });
  test('given any other input, then no row', () => {
    expect(optimizerPlansProjection.rows({ kind: 'config', config: { eventId: 'e', at: 0, actor: 'a', body: { type: 'SiteConfigured', siteId: 's', name: 's', gridLimitKw: 1, latitude: 0, longitude: 0, timezone: 'UTC' } } })).toEqual([]);
  });
});
