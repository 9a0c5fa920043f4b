import { ChargerSnapshot, defaultTaper, defaultWeights, SiteSnapshot, SubPanel, VehicleSnapshot } from '../../../services/optimizer/snapshot';

/** Deterministic synthetic depot days: one vehicle per charger, evening arrivals (some late), morning departures
 *  (some early), a time-of-use tariff with a demand charge, and a telematics outage for a share of the fleet. */
export const SLOT_MIN = 15;
export const SLOT_MS = SLOT_MIN * 60000;
export const DAY_SLOTS = 96;
/** Arrivals and departures fall on slot boundaries. 16:00 UTC on a Monday: the simulated day runs to 16:00 the next day. */
export const DAY_START = Date.UTC(2026, 0, 5, 16, 0);

export const mulberry32 = (seed: number) => () => {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

export interface DepotVehicle {
  readonly vehicleId: string;
  readonly chargePointId: string;
  readonly arrivalAt: number;
  readonly departAt: number;
  /** When telematics first reports the ETA (expected arrivals are planned from then on). */
  readonly etaKnownAt: number;
  readonly arrivalSocPct: number;
  readonly capacityKwh: number;
  readonly maxAcKw: number;
  readonly maxDcKw: number;
  readonly targetSocPct: number;
  readonly priority: number;
  /** Telematics silent in [from, to). */
  readonly outage: { from: number; to: number } | null;
  readonly acPhases?: number;
}

export interface DepotDay {
  readonly seed: number;
  readonly chargers: readonly ChargerSnapshot[];
  readonly vehicles: readonly DepotVehicle[];
  readonly prices: readonly number[];
  readonly demandChargePerKwMonth: number;
  readonly gridLimitKw: number;
  readonly limitShare: number;
  /** Issue 17: the building's true load per slot, the forecast the controller gets (expected, upper quantile), and
   *  panels the chargers hang on. Absent: the chargers are alone on the connection. */
  readonly building?: { readonly trueKw: readonly number[]; readonly expectedKw: readonly number[]; readonly upperKw: readonly number[] };
  readonly panels?: readonly SubPanel[];
  readonly siteMaxCurrentA?: number;
}

/** A building that peaks in the morning (07-10) and evening (17-20), with a forecast off by up to ±`error` per slot
 *  (the upper quantile 25 % above the forecast), and the chargers on `panels` feeders of `panelShare` of their power. */
export const withBuilding = (d: DepotDay, peakKw: number, error: number, panels: number, panelShare: number): DepotDay => {
  const rnd = mulberry32(d.seed * 7919);
  const shape = (at: number) => {
    const h = new Date(at).getUTCHours() + new Date(at).getUTCMinutes() / 60;
    const bump = (c: number, w: number) => Math.exp(-((h - c) ** 2) / (2 * w * w));
    return 0.25 + 0.75 * Math.max(bump(8.5, 1.2), bump(18.5, 1.2));
  };
  const n = DAY_SLOTS + 145;
  const expectedKw = Array.from({ length: n }, (_, t) => peakKw * shape(DAY_START + t * SLOT_MS));
  const trueKw = expectedKw.map((kw) => Math.max(0, kw * (1 + error * (2 * rnd() - 1))));
  const ps: SubPanel[] = Array.from({ length: panels }, (_, i) => {
    const onIt = d.chargers.filter((_, k) => k % panels === i).reduce((m, c) => m + c.maxPowerKw, 0);
    return { panelId: `p${i}`, limitKw: Math.round(onIt * panelShare * 10) / 10, maxCurrentA: Math.round((onIt * panelShare * 1000) / (3 * 230) * 0.9) };
  });
  return {
    ...d,
    gridLimitKw: Math.round((d.gridLimitKw + peakKw) * 10) / 10,
    siteMaxCurrentA: Math.round(((d.gridLimitKw + peakKw) * 1000) / (3 * 230)),
    chargers: d.chargers.map((c, k) => ({ ...c, panelId: `p${k % panels}`, phaseRotation: ['RST', 'STR', 'TRS'][k % 3]! })),
    // Every fifth AC vehicle charges on one phase: the phase rows bind.
    vehicles: d.vehicles.map((v, k) => (k % 5 === 1 ? { ...v, acPhases: 1 } : v)),
    building: { trueKw, expectedKw, upperKw: expectedKw.map((kw) => kw * 1.25) },
    panels: ps,
  };
};

/** €/kWh by UTC hour: evening peak 16-20, shoulder 20-23, night 23-06, day 06-16. */
export const touPrice = (at: number): number => {
  const h = new Date(at).getUTCHours();
  if (h >= 16 && h < 20) return 0.34;
  if (h >= 20 && h < 23) return 0.24;
  if (h >= 23 || h < 6) return 0.11;
  return 0.26;
};

export const depotDay = (seed: number, chargers: number, limitShare: number): DepotDay => {
  const rnd = mulberry32(seed);
  const pick = (a: number, b: number) => a + (b - a) * rnd();
  const cs: ChargerSnapshot[] = [];
  const vs: DepotVehicle[] = [];
  for (let i = 0; i < chargers; i++) {
    const dc = i % 5 === 4;
    const id = `cp${i}`;
    cs.push({
      chargePointId: id,
      siteId: 'depot',
      maxPowerKw: dc ? 50 : 11,
      phases: 3,
      currentType: dc ? 'DC' : 'AC',
      rateUnit: dc ? 'W' : 'A',
      minCurrentA: 6,
      maxSchedulePeriods: dc ? 24 : 8,
      controllable: true,
      measuredKw: 0,
      panelId: null,
      protocol: i % 2 ? 'ocpp2.0.1' : 'ocpp1.6',
    });
    const late = rnd() < 0.15;
    const early = rnd() < 0.15;
    const arrivalAt = DAY_START + Math.round(pick(late ? 8 : 0.5, late ? 11 : 6) * 4) * SLOT_MS;
    const departAt = DAY_START + Math.round(pick(early ? 11.5 : 13, early ? 13 : 16) * 4) * SLOT_MS;
    const capacityKwh = dc ? Math.round(pick(90, 140)) : Math.round(pick(50, 90));
    vs.push({
      vehicleId: `v${i}`,
      chargePointId: id,
      arrivalAt,
      departAt,
      etaKnownAt: arrivalAt - Math.round(pick(0.5, 2) * 3600000),
      arrivalSocPct: Math.round(pick(10, 45)),
      capacityKwh,
      maxAcKw: 11,
      maxDcKw: dc ? Math.round(pick(50, 120)) : 50,
      targetSocPct: Math.round(pick(70, 95)),
      priority: 1 + Math.floor(rnd() * 3),
      outage: rnd() < 0.25 ? { from: arrivalAt + 3600000, to: arrivalAt + 7 * 3600000 } : null,
    });
  }
  const total = cs.reduce((m, c) => m + c.maxPowerKw, 0);
  return {
    seed,
    chargers: cs,
    vehicles: vs,
    prices: Array.from({ length: DAY_SLOTS + 1 }, (_, t) => touPrice(DAY_START + t * SLOT_MS + SLOT_MS / 2)),
    demandChargePerKwMonth: 15,
    gridLimitKw: Math.round(total * limitShare * 10) / 10,
    limitShare,
  };
};

/** Vehicle state the controller believes at `now`. */
export interface Belief {
  readonly socPct: number;
  readonly source: 'telematics' | 'estimated';
  readonly uncertaintyPct: number;
}

export const vehicleSnapshot = (v: DepotVehicle, now: number, connected: boolean, belief: Belief, txSeq: number, currentKw = 0): VehicleSnapshot => ({
  vehicleId: v.vehicleId,
  known: true,
  // Bays are assigned: an expected vehicle names its charger.
  chargePointId: v.chargePointId,
  connectorId: connected ? 1 : null,
  transactionId: connected ? String(txSeq) : null,
  arrivalAt: connected ? null : v.arrivalAt,
  currentKw,
  socPct: belief.socPct,
  socSource: belief.source,
  socUncertaintyPct: belief.uncertaintyPct,
  batteryCapacityKwh: v.capacityKwh,
  maxAcKw: v.maxAcKw,
  maxDcKw: v.maxDcKw,
  taper: defaultTaper,
  departAt: v.departAt,
  targetKwh: (v.capacityKwh * v.targetSocPct) / 100,
  priority: v.priority,
  ...(v.acPhases !== undefined ? { acPhases: v.acPhases } : {}),
});

export const siteSnapshot = (d: DepotDay, now: number, vehicles: VehicleSnapshot[], efficiency: number, foresight = false): SiteSnapshot => {
  const k = Math.round((now - DAY_START) / SLOT_MS);
  const b = d.building;
  // The controller measures this slot's building load and gets the forecast for the rest; the offline optimum knows it.
  const buildingLoad = b
    ? {
        expectedKw: foresight ? b.trueKw.slice(k) : [b.trueKw[k]!, ...b.expectedKw.slice(k + 1)],
        upperKw: foresight ? b.trueKw.slice(k) : [b.trueKw[k]!, ...b.upperKw.slice(k + 1)],
        measuredKw: b.trueKw[k]!,
        measuredAt: now,
        recentPeakKw: Math.max(...b.trueKw.slice(Math.max(0, k - 96), k + 1)),
        blindAfterMs: 5 * 60000,
      }
    : undefined;
  const prices = d.prices.slice(k).concat(Array.from({ length: 144 }, (_, t) => touPrice(now + (d.prices.length - k + t) * SLOT_MS)));
  return {
    siteId: 'depot',
    now,
    slotMinutes: SLOT_MIN,
    maxSlots: 144,
    gridLimitKw: d.gridLimitKw,
    panels: d.panels ?? [],
    baseLoadKw: [],
    ...(buildingLoad ? { buildingLoad } : {}),
    ...(d.siteMaxCurrentA !== undefined ? { maxCurrentA: d.siteMaxCurrentA } : {}),
    pricePerKwh: prices,
    currency: 'EUR',
    demandChargePerKwMonth: d.demandChargePerKwMonth,
    billedPeakKw: 0,
    efficiency,
    chargers: d.chargers,
    vehicles,
    weights: defaultWeights(0.34, d.demandChargePerKwMonth, SLOT_MIN),
  };
};
