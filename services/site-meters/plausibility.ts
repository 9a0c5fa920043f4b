import { Candidate } from './reading';
import { MeterConfig } from './sites';

/** Whether a reading can be true of its meter. Pure: the meter's configuration, the reading and our clock in,
 *  problems out (none: plausible). Each problem has a code (the `reason` label of the rejection metric).
 *  - importKw finite and within ±maxKw of the meter (default 10 000 kW);
 *  - phase currents finite, 0 … maxA (default 5 000 A); voltage (phase to neutral) 80 … 300 V;
 *  - with voltage and all three currents given, |importKw| ≤ V × (I1 + I2 + I3) × 1.05 / 1000 + 1 kW: active power
 *    cannot exceed apparent power (5 % and 1 kW slack for meters that average over different windows);
 *  - measuredAt at most 5 minutes ahead of our receive time, and at most 7 days behind it. */
export type ProblemCode = 'malformed' | 'unknown_meter' | 'invalid_value' | 'inconsistent' | 'future_timestamp' | 'stale_timestamp' | 'timeout' | 'modbus_exception' | 'connection';

export interface Problem {
  readonly code: ProblemCode;
  readonly message: string;
}

export const rules = { minVoltageV: 80, maxVoltageV: 300, powerSlack: 1.05, powerSlackKw: 1, maxAheadMs: 5 * 60_000, maxBehindMs: 7 * 24 * 3600_000 } as const;

const p = (code: ProblemCode, message: string): Problem => ({ code, message });
const round = (x: number) => Math.round(x * 100) / 100;

export const checkReading = (meter: MeterConfig, c: Candidate, receivedAt: number): Problem[] => {
  const out: Problem[] = [];
  if (!Number.isFinite(c.importKw)) out.push(p('invalid_value', `importKw: ${c.importKw} is not a number`));
  else if (Math.abs(c.importKw) > meter.maxKw) out.push(p('invalid_value', `importKw: ${round(c.importKw)} kW is beyond ±${meter.maxKw} kW of meter '${meter.meterId}'`));
  for (const phase of ['l1A', 'l2A', 'l3A'] as const) {
    const a = c[phase];
    if (a === null) continue;
    if (!Number.isFinite(a) || a < 0 || a > meter.maxA) out.push(p('invalid_value', `${phase}: ${a} A is outside 0–${meter.maxA} A`));
  }
  if (c.voltageV !== null && !(Number.isFinite(c.voltageV) && c.voltageV >= rules.minVoltageV && c.voltageV <= rules.maxVoltageV))
    out.push(p('invalid_value', `voltageV: ${c.voltageV} V is outside ${rules.minVoltageV}–${rules.maxVoltageV} V (phase to neutral)`));
  if (out.length === 0 && c.voltageV !== null && c.l1A !== null && c.l2A !== null && c.l3A !== null) {
    const apparentKw = (c.voltageV * (c.l1A + c.l2A + c.l3A)) / 1000;
    if (Math.abs(c.importKw) > apparentKw * rules.powerSlack + rules.powerSlackKw)
      out.push(p('inconsistent', `importKw: ${round(c.importKw)} kW is more than the ${round(apparentKw)} kVA that ${c.voltageV} V and ${c.l1A}/${c.l2A}/${c.l3A} A can carry`));
  }
  if (c.measuredAt > receivedAt + rules.maxAheadMs) out.push(p('future_timestamp', `measuredAt ${new Date(c.measuredAt).toISOString()} is ${Math.round((c.measuredAt - receivedAt) / 1000)} s ahead of our clock (at most ${rules.maxAheadMs / 1000} s)`));
  if (c.measuredAt < receivedAt - rules.maxBehindMs) out.push(p('stale_timestamp', `measuredAt ${new Date(c.measuredAt).toISOString()} is more than 7 days old`));
  return out;
};
