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

export const PlanRecordCodec = t.type({
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

export type PlanRecord = t.TypeOf<typeof PlanRecordCodec>;
export type VehiclePlan = t.TypeOf<typeof VehiclePlanCodec>;

export const decodePlanRecord = (u: unknown): E.Either<string, PlanRecord> => decodeWith(PlanRecordCodec)(u);
