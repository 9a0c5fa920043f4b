import { MeterSample } from '../../schemas/events';

/** OCPP sampled values → MeterSample with normalized units (kWh → Wh, kW → W, kvarh → varh, kvar → var,
 *  Celcius (sic, 1.6) → Celsius). 1.6 values are strings with unit names; 2.0.1 values are numbers with
 *  unitOfMeasure { unit, multiplier }. Defaults follow the specs: measurand Energy.Active.Import.Register. */
export const defaultMeasurand = 'Energy.Active.Import.Register';

const defaultUnit = (measurand: string): string => {
  if (measurand.startsWith('Energy.Reactive')) return 'varh';
  if (measurand.startsWith('Energy.')) return 'Wh';
  if (measurand.startsWith('Power.Reactive')) return 'var';
  if (measurand.startsWith('Power.Factor')) return 'Factor';
  if (measurand.startsWith('Power.')) return 'W';
  if (measurand.startsWith('Current.')) return 'A';
  if (measurand === 'Voltage') return 'V';
  if (measurand === 'SoC') return 'Percent';
  if (measurand === 'Temperature') return 'Celsius';
  if (measurand === 'Frequency') return 'Hz';
  if (measurand === 'RPM') return 'RPM';
  return 'unknown';
};

const scaled: Record<string, [string, number]> = {
  kWh: ['Wh', 1000],
  kW: ['W', 1000],
  kvarh: ['varh', 1000],
  kvar: ['var', 1000],
  kVA: ['VA', 1000],
  kVAh: ['VAh', 1000],
  Celcius: ['Celsius', 1],
};

export const normalizeUnit = (measurand: string, unit: string | undefined, value: number): { unit: string; value: number } => {
  const u = unit ?? defaultUnit(measurand);
  const s = scaled[u];
  return s ? { unit: s[0], value: value * s[1] } : { unit: u, value };
};

export interface SampledValue16 {
  value: string;
  context?: string;
  format?: string;
  measurand?: string;
  phase?: string;
  location?: string;
  unit?: string;
}

export interface SampledValue201 {
  value: number;
  context?: string;
  measurand?: string;
  phase?: string;
  location?: string;
  unitOfMeasure?: { unit?: string; multiplier?: number };
}

export const sample16 = (s: SampledValue16): MeterSample | undefined => {
  if (s.format === 'SignedData') return undefined;
  const raw = Number(s.value);
  if (!Number.isFinite(raw)) return undefined;
  const measurand = s.measurand ?? defaultMeasurand;
  const { unit, value } = normalizeUnit(measurand, s.unit, raw);
  return { measurand, phase: s.phase ?? null, location: s.location ?? null, context: s.context ?? null, unit, value };
};

export const sample201 = (s: SampledValue201): MeterSample | undefined => {
  if (typeof s.value !== 'number' || !Number.isFinite(s.value)) return undefined;
  const measurand = s.measurand ?? defaultMeasurand;
  const multiplier = s.unitOfMeasure?.multiplier ?? 0;
  const { unit, value } = normalizeUnit(measurand, s.unitOfMeasure?.unit, s.value * 10 ** multiplier);
  return { measurand, phase: s.phase ?? null, location: s.location ?? null, context: s.context ?? null, unit, value };
};

/** The energy register reading (total, not per phase) of a list of samples, if any. */
export const energyRegister = (samples: readonly MeterSample[], context?: string): number | undefined => {
  const regs = samples.filter((s) => s.measurand === defaultMeasurand && s.phase === null && s.unit === 'Wh');
  const pick = (context ? regs.find((s) => s.context === context) : undefined) ?? regs[regs.length - 1];
  return pick?.value;
};

/** SessionStarted / SessionEnded carry the Transaction.Begin / Transaction.End register, so those samples are not
 *  repeated as MeterSampled: that is what makes a 1.6 and a 2.0.1 session yield the same events. */
export const isTransactionBoundaryRegister = (s: MeterSample): boolean =>
  s.measurand === defaultMeasurand && s.phase === null && (s.context === 'Transaction.Begin' || s.context === 'Transaction.End');
