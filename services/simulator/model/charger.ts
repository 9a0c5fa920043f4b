import { BatterySpec, acceptanceKw } from './battery';
import { Electrical, Profile, TxContext, compositeLimitW, toAmps } from './profile';

/** A simulated charger: its hardware, the profiles it holds, and the rule that turns them into delivered power. */
export type Protocol = 'ocpp1.6' | 'ocpp2.0.1';

export interface ChargerSpec {
  readonly id: string;
  readonly protocol: Protocol;
  readonly maxPowerKw: number;
  readonly phases: number;
  readonly currentType: 'AC' | 'DC';
  /** ISO 15118-capable chargers learn the vehicle's SoC and report it in their meter values. */
  readonly iso15118: boolean;
  readonly password: string;
  readonly maxSchedulePeriods: number;
  readonly rateUnit: 'A' | 'W';
  /** The site panel (feeder) the charger hangs on, if the depot has panels. */
  readonly panelId?: string;
}

/** Below this current per phase an AC charger cannot charge (IEC 61851 PWM minimum): it pauses instead. */
export const MIN_CURRENT_A = 6;
export const VOLTAGE = 230;

export const electrical = (c: ChargerSpec): Electrical => ({ phases: c.phases, voltage: VOLTAGE, ac: c.currentType === 'AC' });

export interface PowerDecision {
  readonly powerKw: number;
  /** The composite profile limit in force (W), if any. */
  readonly limitW: number | undefined;
  /** Charging but held at zero by a profile limit below the minimum current. */
  readonly paused: boolean;
}

/** Power = min(vehicle acceptance, charger maximum, composite profile limit); an AC limit below 6 A per phase pauses. */
export const chargerPower = (c: ChargerSpec, profiles: readonly Profile[], tx: TxContext, t: number, battery: BatterySpec, socPct: number): PowerDecision => {
  const e = electrical(c);
  const limitW = compositeLimitW(profiles, t, e, tx);
  const accept = acceptanceKw(battery, socPct, c.currentType === 'DC');
  if (limitW !== undefined) {
    const pausedByLimit = e.ac ? toAmps(limitW, e) < MIN_CURRENT_A - 1e-9 : limitW <= 0;
    if (pausedByLimit) return { powerKw: 0, limitW, paused: true };
  }
  const powerKw = Math.max(0, Math.min(accept, c.maxPowerKw, limitW === undefined ? Infinity : limitW / 1000));
  return { powerKw, limitW, paused: false };
};
