import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith } from '../../common/decode';
import { ChargingState, emptyValues, ProviderReading } from '../reading';
import { Adapter, AdapterItem, FiniteNumber, Instant, isRecord, MaxItems, NonEmptyString, nullable } from './codecs';

/** Webhooks in the style of consumer-car APIs: one event per delivery (or `{ "events": [...] }`), nested objects,
 *  state of charge as a fraction 0–1, distances in km or miles according to `data.distanceUnit`.
 *  ```json
 *  { "eventId": "evt_9f2c", "eventType": "VEHICLE_STATE", "vehicleId": "sc-7f3a", "deliveredAt": "2026-11-25T14:00:02Z",
 *    "data": { "recordedAt": "2026-11-25T13:59:58.123Z", "distanceUnit": "miles",
 *              "battery": { "percentRemaining": 0.815, "range": 194.2, "capacityKwh": 75 },
 *              "charge": { "state": "CHARGING", "isPluggedIn": true },
 *              "location": { "latitude": 52.52, "longitude": 13.405 }, "odometer": { "distance": 7671.3 } } }
 *  ```
 *  Events of another `eventType` (verification pings and the like) are acknowledged and ignored. Charge states the
 *  adapter does not know become UNKNOWN rather than an error: such APIs add states without notice. */
export const KmPerMile = 1.609344;

const Battery = t.partial({ percentRemaining: nullable(FiniteNumber), range: nullable(FiniteNumber), capacityKwh: nullable(FiniteNumber) });
const Charge = t.partial({ state: nullable(t.string), isPluggedIn: nullable(t.boolean) });
const Location = t.type({ latitude: FiniteNumber, longitude: FiniteNumber });
const Odometer = t.type({ distance: FiniteNumber });

const Data = t.type({
  recordedAt: Instant,
  distanceUnit: nullable(t.keyof({ km: null, miles: null }, '"km" | "miles"')),
  battery: nullable(Battery),
  charge: nullable(Charge),
  location: nullable(Location),
  odometer: nullable(Odometer),
});

export const ConsumerCarEvent = t.type({
  eventId: NonEmptyString,
  eventType: t.string,
  vehicleId: NonEmptyString,
  data: Data,
});

const states: Record<string, ChargingState> = {
  CHARGING: 'CHARGING',
  FULLY_CHARGED: 'COMPLETE',
  NOT_CHARGING: 'NOT_CHARGING',
  ERROR: 'FAULT',
  FAULT: 'FAULT',
};

const toReading = (e: t.TypeOf<typeof ConsumerCarEvent>): E.Either<string[], ProviderReading> => {
  const d = e.data;
  const range = d.battery?.range ?? null;
  const odometer = d.odometer?.distance ?? null;
  const unit = d.distanceUnit ?? null;
  if ((range !== null || odometer !== null) && unit === null) return E.left(['data.distanceUnit: required with battery.range or odometer ("km" or "miles")']);
  const km = (x: number | null) => (x === null ? null : unit === 'miles' ? x * KmPerMile : x);
  const fraction = d.battery?.percentRemaining ?? null;
  const state = d.charge?.state ?? null;
  return E.right({
    ...emptyValues,
    providerVehicleId: e.vehicleId,
    providerReadingId: e.eventId,
    readingAt: d.recordedAt,
    socPct: fraction === null ? null : fraction * 100,
    rangeKm: km(range),
    odometerKm: km(odometer),
    latitude: d.location?.latitude ?? null,
    longitude: d.location?.longitude ?? null,
    chargingState: state === null ? null : (states[state.toUpperCase()] ?? 'UNKNOWN'),
    pluggedIn: d.charge?.isPluggedIn ?? null,
    batteryCapacityKwh: d.battery?.capacityKwh ?? null,
  });
};

const item = (label: string, raw: unknown): AdapterItem => {
  if (isRecord(raw) && typeof raw.eventType === 'string' && raw.eventType !== 'VEHICLE_STATE') return { label, raw, reading: E.right(null) };
  return { label, raw, reading: pipe(decodeWith(ConsumerCarEvent)(raw), E.chain(toReading)) };
};

export const consumerCarAdapter: Adapter = {
  shape: 'consumer-car',
  parse: (body) => {
    if (isRecord(body) && 'events' in body) {
      const events = body.events;
      if (!Array.isArray(events)) return E.left(['events: expected an array of events']);
      if (events.length > MaxItems) return E.left([`events: at most ${MaxItems} events per request, got ${events.length}`]);
      return E.right(events.map((ev, i) => item(`events[${i}]`, ev)));
    }
    if (!isRecord(body)) return E.left(['expected one event object or { "events": [...] }']);
    return E.right([item('event', body)]);
  },
};
