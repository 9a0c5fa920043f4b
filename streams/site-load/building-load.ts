/** Building load = what the grid-connection meter imports − what the site's chargers draw, per slot.
 *
 *  API (pure, no I/O; the projection's SQL view building_load_15m applies the same rule, streams/projections/site-meters.ts):
 *    buildingLoadBySlot(connection, chargers, slotMinutes = 15) → BuildingLoadSample[]
 *  - connection: the connection meter's readings (site.meter-readings, role 'connection'), importKw at measuredAt;
 *  - chargers: per charger, its power samples in kW (charging.events MeterSampled Power.Active.Import / 1000);
 *  Per slot (aligned to epoch multiples of slotMinutes): mean connection import − Σ over chargers of each charger's
 *  mean power in the slot. A charger without a sample in a slot counts 0 (an idle charger often sends nothing), as in
 *  site_load_15m. Slots without a connection reading have no building load (nothing is invented). Negative values are
 *  kept: a building with solar can export. */
export interface PowerSample {
  /** Epoch ms. */
  readonly at: number;
  readonly kw: number;
}

export interface BuildingLoadSample {
  /** Start of the slot, epoch ms. */
  readonly at: number;
  readonly kw: number;
}

export const slotStart = (at: number, slotMinutes: number): number => {
  const ms = slotMinutes * 60_000;
  return Math.floor(at / ms) * ms;
};

const meanBySlot = (samples: readonly PowerSample[], slotMinutes: number): Map<number, number> => {
  const acc = new Map<number, { sum: number; n: number }>();
  for (const s of samples) {
    const k = slotStart(s.at, slotMinutes);
    const a = acc.get(k) ?? { sum: 0, n: 0 };
    a.sum += s.kw;
    a.n += 1;
    acc.set(k, a);
  }
  return new Map([...acc].map(([k, a]) => [k, a.sum / a.n]));
};

export const buildingLoadBySlot = (connection: readonly PowerSample[], chargers: Iterable<readonly PowerSample[]>, slotMinutes = 15): BuildingLoadSample[] => {
  const connectionKw = meanBySlot(connection, slotMinutes);
  const chargersKw = new Map<number, number>();
  for (const samples of chargers)
    for (const [k, kw] of meanBySlot(samples, slotMinutes)) chargersKw.set(k, (chargersKw.get(k) ?? 0) + kw);
  return [...connectionKw]
    .sort(([a], [b]) => a - b)
    .map(([at, kw]) => ({ at, kw: kw - (chargersKw.get(at) ?? 0) }));
};
