import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { decodeWith, Millis } from './records';

/** An optimizer.plans record (schemas/avro/optimizer.plans.avsc) as the domain reads it. */
const VehiclePlanCodec = t.type({
  vehicleId: t.string,
  chargePointId: t.union([t.string, t.null]),
  connectorId: t.union([t.number, t.null]),
  powerKw: t.array(t.number),
  targetKwh: t.number,
  plannedKwh: t.number,
  shortfallKwh: t.number,
  departAt: t.union([Millis, t.null]),
});

const VehicleAtRiskCodec = t.type({ vehicleId: t.string, reason: t.string, detail: t.string, shortKwh: t.union([t.number, t.null]) });

const PlanRecordFields = t.type({
  planId: t.string,
  siteId: t.string,
  decidedAt: Millis,
  trigger: t.string,
  horizonStart: Millis,
  slotMinutes: t.number,
  status: t.string,
  objective: t.number,
  solveMs: t.number,
  gridLimitKw: t.number,
  siteKw: t.array(t.number),
  vehicles: t.array(VehiclePlanCodec),
  inputsJson: t.string,
});

/** atRisk came later (with a default []): records written before lack it when decoded by their own schema. */
export const PlanRecordCodec = new t.Type<t.TypeOf<typeof PlanRecordFields> & { atRisk: t.TypeOf<typeof VehicleAtRiskCodec>[] }, unknown, unknown>(
  'PlanRecord',
  (u): u is t.TypeOf<typeof PlanRecordFields> & { atRisk: t.TypeOf<typeof VehicleAtRiskCodec>[] } => PlanRecordFields.is(u) && t.array(VehicleAtRiskCodec).is((u as { atRisk?: unknown }).atRisk),
  (u, c) => {
    const base = PlanRecordFields.validate(u, c);
    if (base._tag === 'Left') return base;
    const raw = (u as { atRisk?: unknown }).atRisk;
    const atRisk = raw === undefined || raw === null ? t.success([]) : t.array(VehicleAtRiskCodec).validate(raw, c);
    return atRisk._tag === 'Left' ? atRisk : t.success({ ...base.right, atRisk: atRisk.right });
  },
  (a) => a,
);

export type PlanRecord = t.TypeOf<typeof PlanRecordCodec>;
export type VehiclePlan = t.TypeOf<typeof VehiclePlanCodec>;
export type PlanVehicleAtRisk = t.TypeOf<typeof VehicleAtRiskCodec>;

export const decodePlanRecord = (u: unknown): E.Either<string, PlanRecord> => decodeWith(PlanRecordCodec)(u);
