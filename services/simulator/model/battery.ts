/** A vehicle's traction battery: capacity, an acceptance curve that tapers at high state of charge, and consumption
 *  while driving. SoC in percent, power in kW, energy in kWh. */
export interface BatterySpec {
  readonly capacityKwh: number;
  readonly maxAcKw: number;
  readonly maxDcKw: number;
  readonly consumptionKwhPerKm: number;
  /** SoC (%) above which acceptance falls linearly towards `taperEndFraction` of the maximum at 100 %. */
  readonly taperStartPct: number;
  readonly taperEndFraction: number;
  /** Share of the energy drawn from the grid that ends up in the battery. */
  readonly chargeEfficiency: number;
}

export const defaultBattery = (capacityKwh: number, maxAcKw = 11, maxDcKw = 100, consumptionKwhPerKm = 0.2): BatterySpec => ({
  capacityKwh,
  maxAcKw,
  maxDcKw,
  consumptionKwhPerKm,
  taperStartPct: 80,
  taperEndFraction: 0.1,
  chargeEfficiency: 0.92,
});

const clampPct = (pct: number) => Math.min(100, Math.max(0, pct));

/** The power (kW, grid side) the vehicle accepts at this SoC, on an AC or a DC charger. */
export const acceptanceKw = (b: BatterySpec, socPct: number, dc: boolean): number => {
  const max = dc ? b.maxDcKw : b.maxAcKw;
  if (socPct >= 100) return 0;
  if (socPct <= b.taperStartPct) return max;
  const x = (socPct - b.taperStartPct) / (100 - b.taperStartPct);
  return max * (1 - x * (1 - b.taperEndFraction));
};

/** SoC after drawing `powerKw` from the grid for `dtMs`. */
export const charge = (b: BatterySpec, socPct: number, powerKw: number, dtMs: number): number =>
  clampPct(socPct + ((powerKw * (dtMs / 3600000) * b.chargeEfficiency) / b.capacityKwh) * 100);

/** SoC after driving `km`; a battery is never drained below `floorPct` (the driver would have come back). */
export const drive = (b: BatterySpec, socPct: number, km: number, floorPct = 5): number =>
  Math.max(Math.min(socPct, floorPct), socPct - ((km * b.consumptionKwhPerKm) / b.capacityKwh) * 100);

/** Grid energy (kWh) needed to go from one SoC to another, ignoring the taper. */
export const energyToReachKwh = (b: BatterySpec, fromPct: number, toPct: number): number =>
  Math.max(0, ((toPct - fromPct) / 100) * b.capacityKwh) / b.chargeEfficiency;
