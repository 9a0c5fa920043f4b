/** The LP's input for one site at one instant, derived from the fold (state.ts). Pure. */
import { OptimizerConfig } from './config';
import { capabilitiesOf } from '../../schemas/device-capabilities';
import { learnedEfficiency } from './efficiency';
import { buildingLoadOf } from './building-history';
import { BuildingLoad, ChargerSnapshot, CurrentType, RateUnit, SiteSnapshot, SubPanel, TimedLimit, VehicleSnapshot, defaultTaper, defaultWeights } from './snapshot';
import { ChargerConfig, controlKey, FleetState, MEASURED_SOC_UNCERTAINTY, Session, sessionsOn, SocReading } from './state';
import { priceAt } from './tariff';
import { VehicleAtRisk } from './departure-reserve';
import { siteReserve } from './site-reserve';

const monthOf = (at: number) => new Date(at).toISOString().slice(0, 7);

const rateUnitOf = (configured: string, type: CurrentType): RateUnit => {
  const units = configured.split(',').map((u) => u.trim());
  if (type === 'AC' && units.includes('A')) return 'A';
  return units.includes('W') ? 'W' : 'A';
};

const STALE_TELEMATICS_MS = 30 * 60000;
const STALE_SESSION_MS = 24 * 3600000;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const live = (x: Session, now: number) => now - x.lastSeenAt < STALE_SESSION_MS;

const chargerSnapshot = (s: FleetState, c: ChargerConfig, now: number, faulted: boolean): ChargerSnapshot => {
  const currentType: CurrentType = c.currentType === 'DC' ? 'DC' : 'AC';
  const sessions = sessionsOn(s, c.chargePointId).filter((x) => live(x, now));
  const controls = sessions.map((x) => s.control.get(controlKey(c.chargePointId, x.connectorId)));
  // What the charger reported about itself (device model) wins over the static configuration.
  const model = s.deviceModel.get(c.chargePointId);
  const reported = model ? capabilitiesOf(model.protocol, model.variables) : undefined;
  return {
    chargePointId: c.chargePointId,
    siteId: c.siteId,
    maxPowerKw: faulted ? 0 : c.maxPowerKw,
    phases: c.phases,
    currentType,
    rateUnit: rateUnitOf(reported?.rateUnit ?? c.rateUnit, currentType),
    minCurrentA: 6,
    maxSchedulePeriods: reported?.maxSchedulePeriods ?? c.maxSchedulePeriods,
    controllable: !controls.some((x) => x?.uncontrollable),
    measuredKw: sessions.reduce((m, x) => m + x.powerKw, 0),
    panelId: c.panelId ?? null,
    protocol: s.protocols.get(c.chargePointId) ?? null,
    connectedAt: s.connectedAt.get(c.chargePointId) ?? null,
    maxCurrentA: c.maxCurrentA ?? null,
    phaseRotation: c.phaseRotation ?? 'RST',
    phaseSwitching: c.phaseSwitching ?? false,
    externalLimits: [...externalLimitsOf(s, c.chargePointId, now), ...reservationHolds(s, c.chargePointId, sessions.length, now)],
  };
};

/** The EMS's limits on a charger still in force or ahead (a limit on one EVSE counts for the whole charger). */
const externalLimitsOf = (s: FleetState, chargePointId: string, now: number): TimedLimit[] =>
  s.externalLimits
    .values()
    .filter((x) => x.chargePointId === chargePointId)
    .flatMap((x) => x.limits.filter((l) => l.to === null || l.to > now).map((l) => ({ ...l, source: x.source })));

/** A reserved charger is kept free for its token until the reservation expires: a 0 kW limit while nothing is plugged
 *  in (the reserving vehicle's session, once it starts, is planned as usual). */
const reservationHolds = (s: FleetState, chargePointId: string, liveSessions: number, now: number): TimedLimit[] =>
  liveSessions > 0
    ? []
    : s.reservations
        .values()
        .filter((r) => r.chargePointId === chargePointId && r.expiresAt > now)
        .map((r) => ({ from: now, to: r.expiresAt, limitKw: 0, source: 'reservation' }));

/** The building as the planner sees it: the connection meter's history and forecast where the site has readings, else
 *  the configured daily pattern (never measured, so planned against its upper values), else nothing. */
const buildingOf = (s: FleetState, siteId: string, timezone: string, now: number, cfg: OptimizerConfig, maxSlots: number): BuildingLoad | undefined => {
  const blindAfterMs = cfg.meterBlindMinutes * 60000;
  const h = s.building.get(siteId);
  if (h) return buildingLoadOf(h, timezone, now, maxSlots, cfg.slotMinutes, blindAfterMs);
  const profile = s.sites.get(siteId)?.baseLoadProfile ?? [];
  if (profile.length === 0) return undefined;
  const slotMs = cfg.slotMinutes * 60000;
  const series = (pick: (p: (typeof profile)[number]) => number) => {
    const periods = profile.map((p) => ({ from: p.from, to: p.to, pricePerKwh: pick(p) }));
    // The highest of five samples in the slot: the building's load holds at every instant of it.
    return Array.from({ length: maxSlots }, (_, t) => Math.max(...[0, 1, 2, 3, 4].map((k) => priceAt(periods, timezone, now + t * slotMs + (k * slotMs) / 4) ?? 0)));
  };
  const upperKw = series((p) => p.upperKw);
  return { expectedKw: series((p) => p.kw), upperKw, measuredKw: null, measuredAt: null, recentPeakKw: profile.reduce((m, p) => Math.max(m, p.upperKw), 0), blindAfterMs };
};

/** One charger as the planner sees it at `now`, or null when it is not configured. */
export const chargerSnapshotOf = (s: FleetState, chargePointId: string, now: number): ChargerSnapshot | null => {
  const c = s.chargers.get(chargePointId);
  return c ? chargerSnapshot(s, c, now, [...s.faulted].some((k) => k.startsWith(`${chargePointId}:`))) : null;
};

/** A site's snapshot with the vehicles its forecasts say are at risk (departure-reserve.ts), for the plan record. */
export type PlanningSnapshot = SiteSnapshot & { readonly atRisk: readonly VehicleAtRisk[] };

/** The LP's input for one site at `now`, or null when the site is not configured. Chargers and vehicles in id order,
 *  learned efficiency over sessions in id order: the same state gives the same snapshot however its inputs
 *  interleaved. The site's vehicles that are neither plugged in nor expected (ETA, scheduled departure) are kept
 *  capacity for from their forecasts (`reserveKw`, site-reserve.ts): a vehicle is planned or in the reserve, never
 *  both. */
export const snapshotOf = (s: FleetState, siteId: string, now: number, cfg: OptimizerConfig, o: { readonly reserve?: boolean } = {}): PlanningSnapshot | null => {
  const site = s.sites.get(siteId);
  if (!site) return null;
  const slotMs = cfg.slotMinutes * 60000;
  const maxSlots = Math.round((cfg.maxHorizonHours * 60) / cfg.slotMinutes);
  const tariff = s.tariffs.get(siteId);
  const prices: number[] = [];
  let last = 0;
  for (let t = 0; t < maxSlots; t++) {
    // Time-weighted over the slot (five samples), so a tariff step inside a slot counts pro rata.
    let sum = 0;
    for (let k = 0; k < 5; k++) {
      const p = tariff ? priceAt(tariff.periods, site.timezone, now + t * slotMs + ((k + 0.5) * slotMs) / 5) : null;
      last = p ?? last;
      sum += p ?? last;
    }
    prices.push(sum / 5);
  }

  const faultedChargers = new Set([...s.faulted].map((k) => k.slice(0, k.lastIndexOf(':'))));
  const onSite = s.chargers.values().filter((c) => c.siteId === siteId);
  const chargers = onSite.sort((a, b) => byId(a.chargePointId, b.chargePointId)).map((c) => chargerSnapshot(s, c, now, faultedChargers.has(c.chargePointId)));

  const vehicles: VehicleSnapshot[] = [];
  const plugged = new Set<string>();
  for (const c of chargers) {
    const sessions = sessionsOn(s, c.chargePointId).filter((x) => live(x, now));
    for (const x of sessions.sort((a, b) => a.connectorId - b.connectorId || byId(a.sessionId, b.sessionId))) {
      if (x.vehicleId) plugged.add(x.vehicleId);
      vehicles.push(vehicleSnapshot(s, x.vehicleId, x, now, cfg));
    }
  }
  const expectedHere = s.vehicles.values().filter((v) => v.siteId === siteId && !plugged.has(v.vehicleId));
  const absent: string[] = [];
  for (const v of expectedHere.sort((a, b) => byId(a.vehicleId, b.vehicleId))) {
    const r = s.telematics.get(v.vehicleId);
    const dep = s.departures.get(v.vehicleId);
    const horizonEnd = now + cfg.maxHorizonHours * 3600000;
    let arrival: number | null = null;
    if (r && r.etaAt !== null && r.etaAt >= now - slotMs && r.etaAt <= horizonEnd && r.pluggedIn !== true) arrival = Math.max(now, r.etaAt);
    // No ETA but a departure ahead: a forecast arrival keeps capacity (and peak) for it.
    else if (dep && dep.departAt > now && dep.departAt <= horizonEnd) arrival = Math.max(now + slotMs, dep.departAt - cfg.forecastDwellHours * 3600000);
    const expected = arrival === null ? null : vehicleSnapshot(s, v.vehicleId, null, now, cfg, arrival);
    if (expected && expected.departAt > expected.arrivalAt!) vehicles.push(expected);
    else absent.push(v.vehicleId);
  }
  const efficiency = learnedEfficiency(s.charged.entries().filter(([, c]) => c.siteId === siteId).sort(([a], [b]) => byId(a, b)).map(([, c]) => c.span)) ?? cfg.efficiency;
  // Not for the fallback caps (o.reserve false), which do not plan.
  const reserve = siteReserve(s, { siteId, timeZone: site.timezone, now, slotMinutes: cfg.slotMinutes, slots: maxSlots, efficiency, chargers, absent: o.reserve === false ? [] : absent });

  const maxPrice = prices.reduce((m, p) => Math.max(m, p), 0);
  const peak = s.peaks.get(siteId);
  return {
    siteId,
    ...(reserve.vehicles.length > 0 ? { reserveKw: reserve.reserveKw } : {}),
    atRisk: reserve.atRisk,
    now,
    slotMinutes: cfg.slotMinutes,
    maxSlots,
    gridLimitKw: site.gridLimitKw,
    panels: s.panels
      .values()
      .filter((p) => p.siteId === siteId)
      .sort((a, b) => byId(a.panelId, b.panelId))
      .map((p): SubPanel => ({ panelId: p.panelId, limitKw: p.limitKw, parentPanelId: p.parentPanelId, maxCurrentA: p.maxCurrentA })),
    baseLoadKw: [],
    buildingLoad: buildingOf(s, siteId, site.timezone, now, cfg, maxSlots),
    maxCurrentA: site.maxCurrentA ?? null,
    limitEvents: s.limitEvents
      .values()
      .filter((e) => e.siteId === siteId && e.endAt > now)
      .sort((a, b) => a.startAt - b.startAt || byId(a.limitEventId, b.limitEventId))
      .map((e) => ({ from: e.startAt, to: e.endAt, limitKw: e.limitKw, source: e.source })),
    pricePerKwh: prices,
    currency: tariff?.currency ?? 'EUR',
    demandChargePerKwMonth: tariff?.demandChargePerKwMonth ?? 0,
    billedPeakKw: peak && peak.month === monthOf(now) ? peak.kw : 0,
    efficiency,
    chargers,
    vehicles,
    weights: defaultWeights(maxPrice, tariff?.demandChargePerKwMonth ?? 0, cfg.slotMinutes, { ceilingPct: cfg.batteryCeilingPct, weight: cfg.batteryCareWeight }),
  };
};

const vehicleSnapshot = (s: FleetState, vehicleId: string | null, x: Session | null, now: number, cfg: OptimizerConfig, arrivalAt: number | null = null): VehicleSnapshot => {
  const v = vehicleId ? s.vehicles.get(vehicleId) : undefined;
  const capacity = v?.batteryCapacityKwh ?? cfg.unknownCapacityKwh;
  const start = x?.startedAt ?? arrivalAt ?? now;
  // SoC: the most recent of telematics, charger and estimate; telematics silent for long → estimate from the meter.
  let soc: SocReading = { socPct: cfg.unknownSocPct, source: 'default', uncertaintyPct: 0, at: start };
  const known = vehicleId ? s.soc.get(vehicleId) : undefined;
  if (known) soc = known;
  else if (x?.reportedSocPct != null) soc = { socPct: x.reportedSocPct, source: 'charger', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: now };
  if (soc.source === 'telematics' && x && now - soc.at > STALE_TELEMATICS_MS && soc.at >= x.startedAt) {
    // Energy since the reading is not known per reading here: use what the meter delivered since plug-in, scaled.
    const hours = (now - soc.at) / 3600000;
    const deliveredKwh = ((x.meterWh - x.meterStartWh) / 1000) * cfg.efficiency * Math.min(1, (now - soc.at) / Math.max(1, now - x.startedAt));
    soc = { socPct: Math.min(100, soc.socPct + (100 * deliveredKwh) / capacity), source: 'estimated', uncertaintyPct: Math.min(20, 2 + 3 * hours), at: now };
  }
  const dep = vehicleId ? s.departures.get(vehicleId) : undefined;
  const needs = x?.needs ?? null;
  const reserve = (capacity * cfg.reserveSocPct) / 100;
  let departAt = start + cfg.defaultDwellHours * 3600000;
  let targetKwh = (capacity * cfg.defaultTargetSocPct) / 100;
  let priority = 1;
  if (dep && dep.departAt > now) {
    departAt = dep.departAt;
    priority = dep.priority;
    if (dep.requiredSocPct !== null) targetKwh = (capacity * dep.requiredSocPct) / 100;
    else if (dep.requiredEnergyKwh !== null) targetKwh = dep.requiredEnergyKwh + reserve;
    else if (dep.routeKm !== null && v) targetKwh = dep.routeKm * v.consumptionKwhPerKm + reserve;
  } else if (needs) {
    if (needs.departAt !== null && needs.departAt > now) departAt = needs.departAt;
    if (needs.energyWh !== null) targetKwh = (capacity * soc.socPct) / 100 + needs.energyWh / 1000;
  }
  if (departAt <= now) departAt = now + cfg.slotMinutes * 60000;
  const maxAc = Math.min(v?.maxAcPowerKw ?? 22, needs?.maxPowerW ? needs.maxPowerW / 1000 : Infinity);
  const maxDc = Math.min(v?.maxDcPowerKw ?? 150, needs?.maxPowerW ? needs.maxPowerW / 1000 : Infinity);
  return {
    vehicleId: vehicleId ?? `unknown:${x?.sessionId ?? 'none'}`,
    known: v !== undefined,
    chargePointId: x?.chargePointId ?? null,
    connectorId: x?.connectorId ?? null,
    transactionId: x?.transactionId ?? null,
    arrivalAt: x ? null : arrivalAt,
    currentKw: x ? (s.control.get(controlKey(x.chargePointId, x.connectorId))?.limitKw ?? 0) : 0,
    socPct: soc.socPct,
    socSource: soc.source,
    socUncertaintyPct: soc.uncertaintyPct,
    batteryCapacityKwh: capacity,
    maxAcKw: maxAc,
    maxDcKw: maxDc,
    taper: defaultTaper,
    departAt,
    targetKwh: Math.min(capacity, targetKwh),
    priority,
    acPhases: v?.acPhases ?? 3,
  };
};
