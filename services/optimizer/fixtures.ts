import { ChargerSnapshot, SiteSnapshot, VehicleSnapshot, defaultTaper, defaultWeights } from './snapshot';

/** Small snapshot builders for unit tests and the benchmark: defaults that keep side effects out of the way
 *  (no taper below 100 % target, no readiness need), overridable field by field. */
export const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
export const SLOT_MS = 15 * 60000;

export const charger = (id: string, o: Partial<ChargerSnapshot> = {}): ChargerSnapshot => ({
  chargePointId: id,
  siteId: 'site',
  maxPowerKw: 11,
  phases: 3,
  currentType: 'AC',
  rateUnit: 'A',
  minCurrentA: 6,
  maxSchedulePeriods: 24,
  controllable: true,
  measuredKw: 0,
  panelId: null,
  protocol: 'ocpp1.6',
  ...o,
});

export const vehicle = (id: string, o: Partial<VehicleSnapshot> = {}): VehicleSnapshot => ({
  vehicleId: id,
  known: true,
  chargePointId: null,
  connectorId: 1,
  transactionId: '1',
  arrivalAt: null,
  currentKw: 0,
  socPct: 50,
  socSource: 'telematics',
  socUncertaintyPct: 0,
  batteryCapacityKwh: 100,
  maxAcKw: 11,
  maxDcKw: 50,
  taper: defaultTaper,
  departAt: T0 + 8 * SLOT_MS,
  targetKwh: 61,
  priority: 1,
  ...o,
});

export const site = (o: Partial<SiteSnapshot> = {}): SiteSnapshot => ({
  weights: defaultWeights(Math.max(0.2, ...(o.pricePerKwh ?? [])), o.demandChargePerKwMonth ?? 0),
  siteId: 'site',
  now: T0,
  slotMinutes: 15,
  maxSlots: 144,
  gridLimitKw: 100,
  panels: [],
  baseLoadKw: [],
  pricePerKwh: [0.2],
  currency: 'EUR',
  demandChargePerKwMonth: 0,
  billedPeakKw: 0,
  efficiency: 1,
  chargers: [],
  vehicles: [],
  ...o,
});

/** Three vehicles on a 20 kW site with a demand charge and a dear morning: the warm-start tests' depot. */
export const threeVehicleDepot = (): SiteSnapshot =>
  site({
    gridLimitKw: 20,
    demandChargePerKwMonth: 5,
    pricePerKwh: Array.from({ length: 24 }, (_, t) => (t < 8 ? 0.3 : 0.1)),
    chargers: ['a', 'b', 'c'].map((id) => charger(id)),
    vehicles: [
      vehicle('v1', { chargePointId: 'a', socPct: 20, targetKwh: 50, departAt: T0 + 16 * SLOT_MS }),
      vehicle('v2', { chargePointId: 'b', socPct: 30, targetKwh: 60, departAt: T0 + 20 * SLOT_MS }),
      vehicle('v3', { chargePointId: 'c', socPct: 10, targetKwh: 40, departAt: T0 + 24 * SLOT_MS }),
    ],
  });
