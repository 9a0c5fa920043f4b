import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith } from '../../common/decode';
import { chargingStates, ProviderReading } from '../reading';
import { Adapter, AdapterItem, FiniteNumber, Instant, isRecord, MaxItems, NonEmptyString, nullable } from './codecs';

/** Our own documented JSON format (services/telematics-ingest/README.md), already in our units:
 *  one reading as the body, or `{ "readings": [ ... ] }` for a batch.
 *  ```json
 *  { "readingId": "r-000123", "vehicleRef": "VIN-WVWZZZ1", "readingAt": "2026-11-25T13:59:00Z",
 *    "socPct": 81.5, "rangeKm": 312.4, "odometerKm": 12345.6, "position": { "lat": 52.52, "lon": 13.405 },
 *    "chargingState": "CHARGING", "pluggedIn": true, "batteryCapacityKwh": 77, "etaAt": null }
 *  ```
 *  `vehicleRef` is the vehicle's id at this provider (the `telematics.providerVehicleId` of its configuration).
 *  Unknown fields are refused, so a typo (`soc` for `socPct`) is an error instead of a silently missing value. */
const ChargingStateCodec = t.keyof(Object.fromEntries(chargingStates.map((s) => [s, null])) as Record<(typeof chargingStates)[number], null>, 'CHARGING | NOT_CHARGING | COMPLETE | FAULT | UNKNOWN');

const Position = t.type({ lat: FiniteNumber, lon: FiniteNumber }, 'position { lat, lon }');

export const VoltstreamReading = t.type({
  readingId: NonEmptyString,
  vehicleRef: NonEmptyString,
  readingAt: Instant,
  socPct: nullable(FiniteNumber),
  rangeKm: nullable(FiniteNumber),
  odometerKm: nullable(FiniteNumber),
  position: nullable(Position),
  chargingState: nullable(ChargingStateCodec),
  pluggedIn: nullable(t.boolean),
  batteryCapacityKwh: nullable(FiniteNumber),
  etaAt: nullable(Instant),
});

const knownFields = new Set(Object.keys(VoltstreamReading.props));

const toReading = (r: t.TypeOf<typeof VoltstreamReading>): ProviderReading => ({
  providerVehicleId: r.vehicleRef,
  providerReadingId: r.readingId,
  readingAt: r.readingAt,
  socPct: r.socPct,
  rangeKm: r.rangeKm,
  odometerKm: r.odometerKm,
  latitude: r.position?.lat ?? null,
  longitude: r.position?.lon ?? null,
  chargingState: r.chargingState,
  pluggedIn: r.pluggedIn,
  batteryCapacityKwh: r.batteryCapacityKwh,
  etaAt: r.etaAt,
});

const item = (label: string, raw: unknown): AdapterItem => {
  const unknown = isRecord(raw) ? Object.keys(raw).filter((k) => !knownFields.has(k)).map((k) => `${k}: unknown field`) : [];
  const decoded = pipe(decodeWith(VoltstreamReading)(raw), E.map(toReading));
  const reading = unknown.length ? E.left([...(E.isLeft(decoded) ? decoded.left : []), ...unknown]) : decoded;
  return { label, raw, reading };
};

export const voltstreamAdapter: Adapter = {
  shape: 'voltstream',
  parse: (body) => {
    if (isRecord(body) && 'readings' in body) {
      const readings = body.readings;
      if (!Array.isArray(readings)) return E.left(['readings: expected an array of readings']);
      if (readings.length > MaxItems) return E.left([`readings: at most ${MaxItems} readings per request, got ${readings.length}`]);
      const extra = Object.keys(body).filter((k) => k !== 'readings');
      if (extra.length) return E.left(extra.map((k) => `${k}: unknown field`));
      return E.right(readings.map((r, i) => item(`readings[${i}]`, r)));
    }
    if (!isRecord(body)) return E.left(['expected one reading object or { "readings": [...] }']);
    return E.right([item('reading', body)]);
  },
};
