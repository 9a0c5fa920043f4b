/** Optimizer settings, decoded once from the environment at the edge.
 *
 *  OPTIMIZER_SLOT_MINUTES              slot length (default 15); the site is also re-planned every slot
 *  OPTIMIZER_MAX_HORIZON_HOURS         longest horizon (default 36)
 *  OPTIMIZER_DEBOUNCE_MS               quiet time after a trigger before a site is re-planned (default 2000)
 *  OPTIMIZER_SOLVE_TIMEOUT_MS          a solve past this is abandoned, its worker replaced, EDF used (default 20000)
 *  OPTIMIZER_PROFILE_SLOTS             slots covered by each TxProfile (default 8 = 2 h); then TxDefaultProfile applies
 *  OPTIMIZER_MIN_PAUSE_SLOTS           hysteresis: shorter pauses are bridged at the minimum current (default 2)
 *  OPTIMIZER_EFFICIENCY                battery kWh per grid kWh until the site has learned its own (default 0.92)
 *  OPTIMIZER_UNKNOWN_CAPACITY_KWH      an unmatched session's battery (default 60)
 *  OPTIMIZER_UNKNOWN_SOC_PCT           ... its assumed SoC (default 30)
 *  OPTIMIZER_DEFAULT_TARGET_SOC_PCT    target without a departure (default 80)
 *  OPTIMIZER_DEFAULT_DWELL_HOURS       departure assumed this long after plug-in without a schedule (default 8)
 *  OPTIMIZER_RESERVE_SOC_PCT           reserve added to energy/route needs (default 10)
 *  OPTIMIZER_METER_BLIND_MINUTES       a site whose connection meter has been silent this long is planned against the
 *                                      building forecast's upper quantile (default 5)
 *  OPTIMIZER_FORECAST_DWELL_HOURS      a vehicle with a departure but neither plugged in nor with an ETA is expected this
 *                                      long before its departure (not before the next slot), so capacity is kept (default 6)
 *  OPTIMIZER_READINGS_LOOKBACK_MINUTES telematics readings older than this are skipped at start-up (default 1440)
 *  OPTIMIZER_BATTERY_CEILING_PCT       battery care: SoC kept at or below this until the departure needs more
 *                                      (services/optimizer/battery-care.ts; default 100: off)
 *  OPTIMIZER_BATTERY_CARE_WEIGHT       its weight against cost, per kWh above the ceiling per slot, in units of the
 *                                      site's costliest kWh (default 0.1: gives way to any price difference above a
 *                                      tenth of the dearest kWh; 10 or more: before readiness; never before a departure)
 *  OPTIMIZER_CHECKPOINT_MINUTES        the fold is checkpointed this often while running, after a restore and at stop
 *                                      (checkpoint.ts; a restart folds only what came after; default 5; 0: off)
 *  OPTIMIZER_SCHEMA                    schema of the checkpoints in the projection database (default optimizer)
 *  OPTIMIZER_GROUP                     consumer group (default voltstream-optimizer)
 *  OPTIMIZER_SITES                     comma-separated site ids this instance plans (default: all)
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { formatErrors } from '../common/decode';

const Num = new t.Type<number, string, unknown>(
  'NumberFromString',
  (u): u is number => typeof u === 'number',
  (u, c) => (typeof u === 'string' && u.trim() !== '' && Number.isFinite(Number(u)) ? t.success(Number(u)) : t.failure(u, c, 'expected a number')),
  String,
);

const Env = t.partial({
  OPTIMIZER_SLOT_MINUTES: Num,
  OPTIMIZER_MAX_HORIZON_HOURS: Num,
  OPTIMIZER_DEBOUNCE_MS: Num,
  OPTIMIZER_SOLVE_TIMEOUT_MS: Num,
  OPTIMIZER_PROFILE_SLOTS: Num,
  OPTIMIZER_MIN_PAUSE_SLOTS: Num,
  OPTIMIZER_EFFICIENCY: Num,
  OPTIMIZER_UNKNOWN_CAPACITY_KWH: Num,
  OPTIMIZER_UNKNOWN_SOC_PCT: Num,
  OPTIMIZER_DEFAULT_TARGET_SOC_PCT: Num,
  OPTIMIZER_DEFAULT_DWELL_HOURS: Num,
  OPTIMIZER_RESERVE_SOC_PCT: Num,
  OPTIMIZER_FORECAST_DWELL_HOURS: Num,
  OPTIMIZER_BATTERY_CEILING_PCT: Num,
  OPTIMIZER_BATTERY_CARE_WEIGHT: Num,
  OPTIMIZER_METER_BLIND_MINUTES: Num,
  OPTIMIZER_READINGS_LOOKBACK_MINUTES: Num,
  OPTIMIZER_CHECKPOINT_MINUTES: Num,
  OPTIMIZER_SCHEMA: t.string,
  OPTIMIZER_GROUP: t.string,
  OPTIMIZER_SITES: t.string,
});

export interface OptimizerConfig {
  readonly slotMinutes: number;
  readonly maxHorizonHours: number;
  readonly debounceMs: number;
  readonly solveTimeoutMs: number;
  readonly profileSlots: number;
  readonly minPauseSlots: number;
  readonly efficiency: number;
  readonly unknownCapacityKwh: number;
  readonly unknownSocPct: number;
  readonly defaultTargetSocPct: number;
  readonly defaultDwellHours: number;
  readonly reserveSocPct: number;
  readonly forecastDwellHours: number;
  readonly meterBlindMinutes: number;
  readonly readingsLookbackMinutes: number;
  /** Battery care (battery-care.ts): the SoC ceiling (100: off) and its weight in units of the costliest kWh. */
  readonly batteryCeilingPct: number;
  readonly batteryCareWeight: number;
  /** 0: no checkpoints (every start folds the history). */
  readonly checkpointMinutes: number;
  readonly schema: string;
  readonly groupId: string;
  /** null: every site. */
  readonly sites: readonly string[] | null;
}

export const defaultOptimizerConfig: OptimizerConfig = {
  slotMinutes: 15,
  maxHorizonHours: 36,
  debounceMs: 2000,
  solveTimeoutMs: 20000,
  profileSlots: 8,
  minPauseSlots: 2,
  efficiency: 0.92,
  unknownCapacityKwh: 60,
  unknownSocPct: 30,
  defaultTargetSocPct: 80,
  defaultDwellHours: 8,
  reserveSocPct: 10,
  forecastDwellHours: 6,
  meterBlindMinutes: 5,
  readingsLookbackMinutes: 1440,
  batteryCeilingPct: 100,
  batteryCareWeight: 0.1,
  checkpointMinutes: 5,
  schema: 'optimizer',
  groupId: 'voltstream-optimizer',
  sites: null,
};

export const decodeOptimizerConfig = (env: NodeJS.ProcessEnv): E.Either<string, OptimizerConfig> =>
  pipe(
    Env.decode(env),
    E.mapLeft((errors) => `invalid optimizer environment: ${formatErrors(errors).join('; ')}`),
    E.map((e) => {
      const d = defaultOptimizerConfig;
      return {
        slotMinutes: e.OPTIMIZER_SLOT_MINUTES ?? d.slotMinutes,
        maxHorizonHours: e.OPTIMIZER_MAX_HORIZON_HOURS ?? d.maxHorizonHours,
        debounceMs: e.OPTIMIZER_DEBOUNCE_MS ?? d.debounceMs,
        solveTimeoutMs: e.OPTIMIZER_SOLVE_TIMEOUT_MS ?? d.solveTimeoutMs,
        profileSlots: e.OPTIMIZER_PROFILE_SLOTS ?? d.profileSlots,
        minPauseSlots: e.OPTIMIZER_MIN_PAUSE_SLOTS ?? d.minPauseSlots,
        efficiency: e.OPTIMIZER_EFFICIENCY ?? d.efficiency,
        unknownCapacityKwh: e.OPTIMIZER_UNKNOWN_CAPACITY_KWH ?? d.unknownCapacityKwh,
        unknownSocPct: e.OPTIMIZER_UNKNOWN_SOC_PCT ?? d.unknownSocPct,
        defaultTargetSocPct: e.OPTIMIZER_DEFAULT_TARGET_SOC_PCT ?? d.defaultTargetSocPct,
        defaultDwellHours: e.OPTIMIZER_DEFAULT_DWELL_HOURS ?? d.defaultDwellHours,
        reserveSocPct: e.OPTIMIZER_RESERVE_SOC_PCT ?? d.reserveSocPct,
        forecastDwellHours: e.OPTIMIZER_FORECAST_DWELL_HOURS ?? d.forecastDwellHours,
        meterBlindMinutes: e.OPTIMIZER_METER_BLIND_MINUTES ?? d.meterBlindMinutes,
        readingsLookbackMinutes: e.OPTIMIZER_READINGS_LOOKBACK_MINUTES ?? d.readingsLookbackMinutes,
        batteryCeilingPct: e.OPTIMIZER_BATTERY_CEILING_PCT ?? d.batteryCeilingPct,
        batteryCareWeight: e.OPTIMIZER_BATTERY_CARE_WEIGHT ?? d.batteryCareWeight,
        checkpointMinutes: e.OPTIMIZER_CHECKPOINT_MINUTES ?? d.checkpointMinutes,
        schema: e.OPTIMIZER_SCHEMA ?? d.schema,
        groupId: e.OPTIMIZER_GROUP ?? d.groupId,
        sites: e.OPTIMIZER_SITES ? e.OPTIMIZER_SITES.split(',').map((s) => s.trim()).filter(Boolean) : null,
      };
    }),
  );
