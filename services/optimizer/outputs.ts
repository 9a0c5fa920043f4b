/** The optimizer's outputs as the records of optimizer.plans and ocpp.commands. Pure. */
import { Plan } from './formulation';
import { OcppCommandDraft } from './profiles';
import { VehicleAtRisk } from './departure-reserve';
import { SiteSnapshot } from './snapshot';

/** The optimizer.plans record (schemas/avro/optimizer.plans.avsc). */
export const planRecord = (planId: string, trigger: string, decidedAt: number, plan: Plan, snapshot: SiteSnapshot & { readonly atRisk?: readonly VehicleAtRisk[] }): Record<string, unknown> => ({
  planId,
  siteId: plan.siteId,
  decidedAt,
  trigger,
  horizonStart: plan.horizonStart,
  slotMinutes: plan.slotMinutes,
  status: plan.status,
  objective: Number.isFinite(plan.objective) ? plan.objective : 0,
  solveMs: plan.solveMs,
  gridLimitKw: plan.gridLimitKw,
  siteKw: [...plan.siteKw],
  vehicles: plan.vehicles.map((v) => ({
    vehicleId: v.vehicleId,
    chargePointId: v.chargePointId,
    connectorId: v.connectorId,
    powerKw: [...v.powerKw],
    targetKwh: v.targetKwh,
    plannedKwh: v.plannedKwh,
    shortfallKwh: v.shortfallKwh,
    departAt: v.departAt,
  })),
  inputsJson: JSON.stringify(snapshot),
  atRisk: (snapshot.atRisk ?? []).map((a) => ({ vehicleId: a.vehicleId, reason: a.reason, detail: a.detail, shortKwh: a.shortKwh })),
});

/** An ocpp.commands record (schemas/avro/ocpp.commands.avsc). */
export const commandRecord = (d: OcppCommandDraft, planId: string | null, issuedAt: number, expiresInMs: number): Record<string, unknown> => ({
  commandId: d.commandId,
  chargePointId: d.chargePointId,
  action: d.action,
  payloadJson: JSON.stringify(d.payload),
  issuedBy: 'optimizer',
  issuedAt,
  expiresAt: issuedAt + expiresInMs,
  planId,
});
