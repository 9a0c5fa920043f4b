/** The optimizer's pure input: everything a plan for one site is decided from. `plan = f(SiteSnapshot)`.
 *  Built from the log by state.ts (snapshotOf), by hand in unit tests, and synthetically by the benchmark.
 *  Units: kW, kWh, epoch milliseconds, percent 0..100, prices per kWh in the site's currency. */

export type SocSource = 'telematics' | 'charger' | 'estimated' | 'default';
export type RateUnit = 'A' | 'W';
export type CurrentType = 'AC' | 'DC';
export type Protocol = 'ocpp1.6' | 'ocpp2.0.1';

export interface ChargerSnapshot {
  readonly chargePointId: string;
  readonly siteId: string;
  readonly maxPowerKw: number;
  readonly phases: number;
  readonly currentType: CurrentType;
  readonly rateUnit: RateUnit;
  /** Smallest non-zero current an AC charger (and the vehicle) accepts; the 6 A rule. */
  readonly minCurrentA: number;
  readonly maxSchedulePeriods: number;
  /** false: the charger ignored its profiles; its measured load is treated as fixed. */
  readonly controllable: boolean;
  /** Latest measured power (kW), used as fixed load while uncontrollable. */
  readonly measuredKw: number;
  readonly panelId: string | null;
  readonly protocol: Protocol | null;
  /** Per-phase current limit of the charger (A), where configured: a vehicle on fewer phases gets less power. */
  readonly maxCurrentA?: number | null;
  /** Which grid phase each of the charger's L1, L2, L3 is wired to (OCPP's PhaseRotation: 'RST' = L1 on L1, ...);
   *  'RST' when not configured. */
  readonly phaseRotation?: string;
  /** The charger can switch a one-phase vehicle to another of its phases (2.0.1 phaseToUse). */
  readonly phaseSwitching?: boolean;
  /** Limits set on the charger by someone else (an EMS's NotifyChargingLimit / external-constraints profile), kW. */
  readonly externalLimits?: readonly TimedLimit[];
  /** When it last connected or booted (epoch ms), or null: the caps it held before may be gone since. */
  readonly connectedAt?: number | null;
}

/** A limit (kW) in force from `from` until `to` (epoch ms; null: until further notice). */
export interface TimedLimit {
  readonly from: number;
  readonly to: number | null;
  readonly limitKw: number;
  /** Who set it: 'EMS', 'SO', 'demand-response', ... */
  readonly source: string;
}

export interface TaperCurve {
  /** SoC above which acceptance power falls linearly... */
  readonly kneeSocPct: number;
  /** ...to this fraction of max power at 100 %. */
  readonly endPowerFraction: number;
}

export interface VehicleSnapshot {
  readonly vehicleId: string;
  /** false: a plugged session without a matched vehicle, planned with the configured defaults. */
  readonly known: boolean;
  /** The charger, connector and transaction when connected. An expected vehicle (arrivalAt after now) may name the
   *  charger it will use (an assigned bay); without one it is planned on the site's best charger for it. */
  readonly chargePointId: string | null;
  readonly connectorId: number | null;
  readonly transactionId: string | null;
  /** Expected plug-in time (telematics ETA); null or not after now when connected. */
  readonly arrivalAt: number | null;
  /** Power commanded now (kW): slot 0 prefers to keep it (stickiness), against pause/resume flapping. */
  readonly currentKw: number;
  readonly socPct: number;
  readonly socSource: SocSource;
  /** 1-sigma-ish uncertainty of socPct in percent points; widens the target (telematics outage). */
  readonly socUncertaintyPct: number;
  readonly batteryCapacityKwh: number;
  readonly maxAcKw: number;
  readonly maxDcKw: number;
  readonly taper: TaperCurve;
  readonly departAt: number;
  /** Energy wanted in the battery at departure (kWh), before the uncertainty margin. */
  readonly targetKwh: number;
  /** Higher is more important; shortfall falls on the lowest priority first. */
  readonly priority: number;
  /** Phases the vehicle's on-board charger draws on (1, 2 or 3; AC only); 3 when not known. */
  readonly acPhases?: number;
}

/** A feeder, distribution board or transformer between the connection and some chargers. */
export interface SubPanel {
  readonly panelId: string;
  readonly limitKw: number;
  /** The panel this one is fed from; null or absent: fed from the site's connection. */
  readonly parentPanelId?: string | null;
  /** Per-phase current limit (A), where given. */
  readonly maxCurrentA?: number | null;
}

/** The load on the connection that is not ours to control (workshops, lighting, heat pumps), as the planner sees it. */
export interface BuildingLoad {
  /** Per slot from `now`: the forecast's expected kW and an upper quantile of it (kW); missing slots repeat the last. */
  readonly expectedKw: readonly number[];
  readonly upperKw: readonly number[];
  /** Latest building load measured at the connection meter (kW) and when; null when never measured. */
  readonly measuredKw: number | null;
  readonly measuredAt: number | null;
  /** Highest building load measured recently (kW): what the chargers' fallback caps leave room for. */
  readonly recentPeakKw: number;
  /** The meter counts as silent (blind) when its latest reading is older than this (ms). */
  readonly blindAfterMs: number;
}

export interface Weights {
  /** Penalty per kWh of departure shortfall, per (1 + priority); must dwarf every energy and demand cost. */
  readonly shortfallPerKwh: number;
  /** Within one priority, the most (in priority steps, < 1) a kWh of shortfall costs extra on a vehicle with a small
   *  remaining need: the shortfall lands on the fewest vehicles, the largest needs. */
  readonly fewestShortBias: number;
  /** Penalty per kWh missing from the readiness level at the readiness deadline, per (1 + priority). */
  readonly readinessPerKwh: number;
  /** Largest per-kWh bias towards later slots (battery care); below any real price difference. */
  readonly lateBiasPerKwh: number;
  /** Cost per kW of changing a vehicle's power in slot 0 from what it is commanded now: breaks ties towards the status
   *  quo so that equal-cost plans do not shuffle power between vehicles every slot. */
  readonly stickinessPerKw: number;
  /** Share of the demand charge also put on the planned peak below the billed one: in a receding horizon, slack kept
   *  now is what absorbs tomorrow's surprises (later arrivals, lower SoC) without raising the peak. */
  readonly flatteningShare: number;
  /** Minimum safe SoC every vehicle should reach early... */
  readonly readinessSocPct: number;
  /** ...within this many minutes of plug-in (or of now). */
  readonly readinessMinutes: number;
  /** Battery care: SoC kept at or below this until the departure needs more (100: off; battery-care.ts)... */
  readonly batteryCeilingPct: number;
  /** ...at this cost per kWh above the ceiling per slot: against prices, never against a departure. */
  readonly batteryCarePerKwh: number;
  /** Cost per kWh of eating into the reserve kept for vehicles not back yet (`SiteSnapshot.reserveKw`): above any
   *  energy and peak cost, below readiness and departures of the vehicles present. */
  readonly reservePerKwh: number;
}

export interface SiteSnapshot {
  readonly siteId: string;
  /** Horizon start (the plan is decided now). */
  readonly now: number;
  readonly slotMinutes: number;
  /** Longest horizon considered (slots); the horizon ends at the last departure. */
  readonly maxSlots: number;
  readonly gridLimitKw: number;
  readonly panels: readonly SubPanel[];
  /** Other site load per slot (kW) that is not ours to control; missing slots repeat the last value, empty means 0.
   *  Used when `buildingLoad` is absent. */
  readonly baseLoadKw: readonly number[];
  /** The building's load, forecast and measured; when present it decides the base load (building-load.ts). */
  readonly buildingLoad?: BuildingLoad;
  /** Per-phase current limit of the connection (A), where given. */
  readonly maxCurrentA?: number | null;
  /** Time-bounded reductions of the connection limit (utility demand response, an EMS): the lowest in force holds. */
  readonly limitEvents?: readonly TimedLimit[];
  /** Energy price per slot from `now`; missing slots repeat the last value. */
  readonly pricePerKwh: readonly number[];
  readonly currency: string;
  readonly demandChargePerKwMonth: number;
  /** Highest 15-minute site peak already billed this month (kW). */
  readonly billedPeakKw: number;
  /** Battery energy per grid kWh (charger and on-board losses). */
  readonly efficiency: number;
  readonly chargers: readonly ChargerSnapshot[];
  readonly vehicles: readonly VehicleSnapshot[];
  /** Power (kW) per slot from `now` kept free for vehicles not back yet, from their forecasts
   *  (departure-reserve.ts); missing slots keep none. */
  readonly reserveKw?: readonly number[];
  readonly weights: Weights;
}

export const VOLTS_PER_PHASE = 230;

/** kW a charger delivers at `amps` per phase. */
export const ampsToKw = (amps: number, phases: number): number => (amps * phases * VOLTS_PER_PHASE) / 1000;
export const kwToAmps = (kw: number, phases: number): number => (kw * 1000) / (phases * VOLTS_PER_PHASE);

/** The weights documented in services/optimizer/formulation.ts, scaled to the snapshot's prices. */
export const defaultWeights = (maxPricePerKwh = 1, demandChargePerKwMonth = 0, slotMinutes = 15, care: { ceilingPct: number; weight: number } = { ceilingPct: 100, weight: 0.1 }): Weights => {
  // One kWh moved into one slot can raise the peak by 60/slotMinutes kW: bound the cost of a kWh from above.
  const worstKwhCost = Math.max(0, maxPricePerKwh) + (Math.max(0, demandChargePerKwMonth) * 60) / slotMinutes + 1;
  return {
    shortfallPerKwh: 100 * worstKwhCost,
    fewestShortBias: 0.05,
    readinessPerKwh: 10 * worstKwhCost,
    lateBiasPerKwh: 1e-4,
    stickinessPerKw: 1e-3,
    flatteningShare: 0.5,
    readinessSocPct: 30,
    readinessMinutes: 120,
    batteryCeilingPct: care.ceilingPct,
    batteryCarePerKwh: care.weight * worstKwhCost,
    reservePerKwh: 3 * worstKwhCost,
  };
};

export const isConnected = (v: VehicleSnapshot, now: number): boolean => v.chargePointId !== null && (v.arrivalAt === null || v.arrivalAt <= now);

export const defaultTaper: TaperCurve = { kneeSocPct: 80, endPowerFraction: 0.2 };
