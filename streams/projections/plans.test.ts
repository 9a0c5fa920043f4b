import * as fs from 'node:fs';
import * as path from 'node:path';
import * as avro from 'avsc';
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
  test('given a record with vehicles at risk, then at_risk holds them; one written before the field, then []', () => {
    const atRisk = [{ vehicleId: 'V2', reason: 'window-too-short', detail: 'needs 60 kWh (p90) in 1 h', shortKwh: 38 }];
    const rowOf = (r: unknown) => optimizerPlansProjection.rows({ kind: 'plan', plan: (decodePlanRecord(r) as E.Right<never>).right })[0]!;
    expect(rowOf({ ...record, atRisk }).at_risk).toEqual(atRisk);
    expect(rowOf(record).at_risk).toEqual([]);
    expect(decodePlanRecord({ ...record, atRisk: [{ vehicleId: 'V2' }] })).toEqual(E.left(expect.stringContaining('reason')));
  });
  test('the Avro schema reads a plan written before atRisk with atRisk [] (the default), and writes it', () => {
    const current = avro.Type.forSchema(JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/avro/optimizer.plans.avsc'), 'utf8')) as avro.Schema);
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/avro/optimizer.plans.avsc'), 'utf8')) as { fields: { name: string }[] };
    const before = avro.Type.forSchema({ ...schema, fields: schema.fields.filter((f) => f.name !== 'atRisk') } as avro.Schema);
    const old = current.createResolver(before);
    const plain = { ...record, decidedAt: record.decidedAt.getTime() };
    expect((current.fromBuffer(before.toBuffer(plain), old) as { atRisk: unknown }).atRisk).toEqual([]);
    const atRisk = [{ vehicleId: 'V2', reason: 'late-return', detail: 'd', shortKwh: null }];
    expect((current.fromBuffer(current.toBuffer({ ...plain, atRisk })) as { atRisk: unknown }).atRisk).toEqual(atRisk);
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
