import { createHash } from 'node:crypto';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';

/** The normalized telematics reading (schemas/avro/telematics.readings.avsc). Units: percent, km, kWh, degrees,
 *  epoch milliseconds. Provider ids stay out of it except `provider` and `providerReadingId` (de-duplication, audit). */
export const chargingStates = ['CHARGING', 'NOT_CHARGING', 'COMPLETE', 'FAULT', 'UNKNOWN'] as const;
export type ChargingState = (typeof chargingStates)[number];

/** What an adapter makes of one provider reading: units converted, the provider's vehicle id not yet mapped. */
export interface ProviderReading {
  readonly providerVehicleId: string;
  readonly providerReadingId: string;
  readonly readingAt: number;
  readonly socPct: number | null;
  readonly rangeKm: number | null;
  readonly odometerKm: number | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
  readonly chargingState: ChargingState | null;
  readonly pluggedIn: boolean | null;
  readonly batteryCapacityKwh: number | null;
  readonly etaAt: number | null;
}

export interface Reading extends Omit<ProviderReading, 'providerVehicleId'> {
  readonly readingId: string;
  readonly vehicleId: string;
  readonly provider: string;
  readonly receivedAt: number;
}

/** Why a reading was refused; also the `reason` label of the rejection metric. */
export type ProblemCode = 'malformed' | 'unknown_vehicle' | 'soc_out_of_range' | 'invalid_value' | 'future_timestamp' | 'implausible_jump';

export interface Problem {
  readonly code: ProblemCode;
  readonly message: string;
}

export const problem = (code: ProblemCode, message: string): Problem => ({ code, message });

/** UUIDv8 (RFC 9562, custom) from SHA-256 of `<length of provider>:<provider><providerReadingId>`: the same provider
 *  reading always gets the same id, so downstream consumers can de-duplicate too. */
export const readingIdOf = (provider: string, providerReadingId: string): string => {
  const h = createHash('sha256').update(`${provider.length}:${provider}`).update(providerReadingId).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
};

// ---- the io-ts check every reading passes after unit conversion --------------------------------------------------

const within = (name: string, lo: number, hi: number) =>
  t.refinement(t.number, (n) => Number.isFinite(n) && n >= lo && n <= hi, name);

/** `null` or a valid A; failures report the inner type only (no "expected null" noise). */
const orNull = <A>(inner: t.Type<A, A, unknown>) =>
  new t.Type<A | null, A | null, unknown>(
    inner.name,
    (u): u is A | null => u === null || inner.is(u),
    (u, c) => (u === null ? t.success(null) : inner.validate(u, c)),
    t.identity,
  );

export const MaxFutureMs = 5 * 60 * 1000;

/** Value ranges of a normalized reading. SoC outside 0–100 has its own rejection reason. */
export const ReadingValues = t.type({
  socPct: orNull(within('percent between 0 and 100', 0, 100)),
  rangeKm: orNull(within('km between 0 and 2000', 0, 2000)),
  odometerKm: orNull(within('km between 0 and 10000000', 0, 10_000_000)),
  latitude: orNull(within('latitude between -90 and 90', -90, 90)),
  longitude: orNull(within('longitude between -180 and 180', -180, 180)),
  batteryCapacityKwh: orNull(within('kWh between 1 and 1000', 1, 1000)),
});

const codeOf = (field: string | undefined): ProblemCode => (field === 'socPct' ? 'soc_out_of_range' : 'invalid_value');

/** Every problem of one reading on its own (ranges, future time); vehicle mapping and jumps are checked elsewhere. */
export const checkValues = (r: ProviderReading, receivedAt: number): Problem[] => {
  const ranges = pipe(
    ReadingValues.decode(r),
    E.fold(
      (errors) =>
        errors.map((e) => {
          const field = e.context[1]?.key;
          return problem(codeOf(field), `${field}: expected ${e.context[e.context.length - 1]?.type.name ?? 'value'}, got ${JSON.stringify(e.value)}`);
        }),
      () => [],
    ),
  );
  const ahead = r.readingAt - receivedAt;
  const future =
    ahead > MaxFutureMs
      ? [problem('future_timestamp', `readingAt ${new Date(r.readingAt).toISOString()} is ${Math.round(ahead / 1000)} s ahead of the receive time (at most ${MaxFutureMs / 1000} s)`)]
      : [];
  const eta = r.etaAt !== null && !Number.isFinite(r.etaAt) ? [problem('invalid_value', 'etaAt: not a time')] : [];
  return [...ranges, ...future, ...eta];
};

/** The Avro value of telematics.readings (plain values; avsc unwraps null unions). */
export const readingToAvro = (r: Reading): Record<string, unknown> => ({
  readingId: r.readingId,
  vehicleId: r.vehicleId,
  provider: r.provider,
  providerReadingId: r.providerReadingId,
  readingAt: r.readingAt,
  receivedAt: r.receivedAt,
  socPct: r.socPct,
  rangeKm: r.rangeKm,
  odometerKm: r.odometerKm,
  latitude: r.latitude,
  longitude: r.longitude,
  chargingState: r.chargingState,
  pluggedIn: r.pluggedIn,
  batteryCapacityKwh: r.batteryCapacityKwh,
  etaAt: r.etaAt,
});

export const emptyValues = {
  socPct: null,
  rangeKm: null,
  odometerKm: null,
  latitude: null,
  longitude: null,
  chargingState: null,
  pluggedIn: null,
  batteryCapacityKwh: null,
  etaAt: null,
} as const;
