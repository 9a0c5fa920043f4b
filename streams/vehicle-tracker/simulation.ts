import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { ProjectionInput, TelematicsReading } from '../projections/projection';

/** A small depot simulation for tests and benchmarks: vehicles with real batteries (capacity, charging efficiency)
 *  arrive, plug in, charge at a charger's power; chargers report their energy register, vehicles report telematics
 *  (with optional outages). Produces the time-ordered inputs the tracker and projections fold. */
export interface SimVehicle {
  vehicleId: string;
  capacityKwh: number;
  socPct: number;
  idTags?: string[];
  /** Telematics period, ms (0: none). */
  telematicsEveryMs: number;
  /** Grid offset of the telematics clock. */
  telematicsPhaseMs?: number;
  /** Telematics silent in [from, to). */
  outage?: { from: number; to: number };
  /** Fraction of metered energy that reaches the battery. */
  efficiency: number;
}

export interface SimSession {
  vehicleId: string;
  chargePointId: string;
  plugAt: number;
  /** Delay from plug-in to the charger's session start, ms. */
  startDelayMs: number;
  durationMs: number;
  powerW: number;
  idTag: string | null;
  /** The charger reports the EV's SoC in its meter values (ISO 15118 / DC). */
  chargerSoc?: boolean;
}

export interface Simulation {
  readonly inputs: ProjectionInput[];
  /** The true SoC of a vehicle at time t (for checking estimates). */
  trueSoc(vehicleId: string, t: number): number;
}

export const site = { siteId: 'DEPOT', latitude: 52.52, longitude: 13.405 };

export const simulate = (opts: { vehicles: SimVehicle[]; sessions: SimSession[]; from: number; to: number; meterEveryMs?: number; prefix?: string }): Simulation => {
  const meterEvery = opts.meterEveryMs ?? 5 * 60_000;
  const out: { at: number; order: number; input: ProjectionInput }[] = [];
  let order = 0;
  let n = 0;
  const push = (at: number, input: ProjectionInput) => out.push({ at, order: order++, input });
  const ev = (cp: string, at: number, body: EventBody): ChargingEvent => ({ eventId: `sim:${opts.prefix ?? ''}:${n++}`, chargePointId: cp, occurredAt: at, source: null, body });
  const cfg = (at: number, body: ConfigBody) => push(at, { kind: 'config', config: { eventId: `simcfg:${opts.prefix ?? ''}:${n++}`, at, actor: 'sim', body } });

  cfg(opts.from - 1000, { type: 'SiteConfigured', siteId: site.siteId, name: 'Depot', gridLimitKw: 400, latitude: site.latitude, longitude: site.longitude, timezone: 'Europe/Berlin' });
  for (const cp of new Set(opts.sessions.map((s) => s.chargePointId)))
    cfg(opts.from - 900, { type: 'ChargerConfigured', chargePointId: cp, siteId: site.siteId, maxPowerKw: 50, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });
  for (const v of opts.vehicles)
    cfg(opts.from - 800, { type: 'VehicleConfigured', vehicleId: v.vehicleId, batteryCapacityKwh: v.capacityKwh, maxAcPowerKw: 22, maxDcPowerKw: 150, consumptionKwhPerKm: 0.2, idTags: v.idTags ?? [], telematicsProvider: 'sim', providerVehicleId: v.vehicleId, siteId: site.siteId });

  const vehicle = new Map(opts.vehicles.map((v) => [v.vehicleId, v]));
  /** Energy into each vehicle's battery by time t. */
  const chargedWh = (vehicleId: string, t: number): number => {
    const v = vehicle.get(vehicleId)!;
    let wh = 0;
    for (const s of opts.sessions.filter((x) => x.vehicleId === vehicleId)) {
      const start = s.plugAt + s.startDelayMs;
      const dt = Math.min(Math.max(0, t - start), s.durationMs);
      wh += (s.powerW * dt) / 3600_000;
    }
    return wh * v.efficiency;
  };
  const trueSoc = (vehicleId: string, t: number) => {
    const v = vehicle.get(vehicleId)!;
    return Math.min(100, v.socPct + (chargedWh(vehicleId, t) / (v.capacityKwh * 1000)) * 100);
  };
  const plugged = (vehicleId: string, t: number) => opts.sessions.some((s) => s.vehicleId === vehicleId && t >= s.plugAt && t < s.plugAt + s.startDelayMs + s.durationMs + 60_000);

  for (const v of opts.vehicles) {
    if (!v.telematicsEveryMs) continue;
    for (let t = opts.from + (v.telematicsPhaseMs ?? 0); t < opts.to; t += v.telematicsEveryMs) {
      if (v.outage && t >= v.outage.from && t < v.outage.to) continue;
      const isPlugged = plugged(v.vehicleId, t);
      const charging = opts.sessions.some((s) => s.vehicleId === v.vehicleId && t >= s.plugAt + s.startDelayMs && t < s.plugAt + s.startDelayMs + s.durationMs);
      const reading: TelematicsReading = {
        readingId: `sim:${v.vehicleId}:${t}`,
        vehicleId: v.vehicleId,
        provider: 'sim',
        providerReadingId: String(t),
        readingAt: t,
        receivedAt: t + 2000,
        socPct: Math.round(trueSoc(v.vehicleId, t) * 10) / 10,
        rangeKm: null,
        odometerKm: 1000,
        latitude: isPlugged ? site.latitude + 0.0003 : site.latitude + 0.05,
        longitude: site.longitude,
        chargingState: charging ? 'CHARGING' : 'NOT_CHARGING',
        pluggedIn: isPlugged,
        batteryCapacityKwh: null,
        etaAt: null,
      };
      push(t, { kind: 'reading', reading });
    }
  }

  opts.sessions.forEach((s, i) => {
    const start = s.plugAt + s.startDelayMs;
    const end = start + s.durationMs;
    const sessionId = `${s.chargePointId}:${1000 + i}`;
    const meterStartWh = 100_000 * (i + 1);
    push(s.plugAt, { kind: 'event', event: ev(s.chargePointId, s.plugAt, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Preparing', errorCode: null, info: null }) });
    push(start, { kind: 'event', event: ev(s.chargePointId, start, { type: 'SessionStarted', sessionId, transactionId: String(1000 + i), connectorId: 1, idTag: s.idTag, meterStartWh }) });
    for (let t = start + meterEvery; t < end; t += meterEvery) {
      const wh = (s.powerW * (t - start)) / 3600_000;
      push(t, {
        kind: 'event',
        event: ev(s.chargePointId, t, {
          type: 'MeterSampled',
          sessionId,
          connectorId: 1,
          samples: [
            { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: 'Sample.Periodic', unit: 'Wh', value: meterStartWh + wh },
            { measurand: 'Power.Active.Import', phase: null, location: null, context: 'Sample.Periodic', unit: 'W', value: s.powerW },
          ],
        }),
      });
      if (s.chargerSoc) push(t, { kind: 'event', event: ev(s.chargePointId, t, { type: 'ChargerReportedSoc', sessionId, connectorId: 1, socPct: Math.round(trueSoc(s.vehicleId, t)) }) });
    }
    const total = (s.powerW * s.durationMs) / 3600_000;
    push(end, { kind: 'event', event: ev(s.chargePointId, end, { type: 'SessionEnded', sessionId, transactionId: String(1000 + i), connectorId: 1, meterStopWh: meterStartWh + total, energyWh: total, reason: 'EVDisconnected' }) });
  });

  out.sort((a, b) => a.at - b.at || a.order - b.order);
  return { inputs: out.map((o) => o.input), trueSoc };
};
