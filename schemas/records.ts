import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { OcppFrameRecord } from './frame-chain';
import { ChargingEvent, fromAvro } from './events';
import { ConfigEvent, configFromAvro } from './fleet-config';

/** io-ts codecs of the Avro records as the registry client hands them over (after Avro decoding): the boundary
 *  between Kafka bytes and the domain types. Each decoder returns the domain type or the reasons it is not one. */

/** Avro long / timestamp-millis arrive as number, Long-like or Date depending on the reader: the domain wants epoch ms. */
export const Millis = new t.Type<number, number, unknown>(
  'Millis',
  (u): u is number => typeof u === 'number',
  (u, c) => {
    if (typeof u === 'number' && Number.isFinite(u)) return t.success(u);
    if (u instanceof Date && Number.isFinite(u.getTime())) return t.success(u.getTime());
    if (typeof u === 'bigint') return t.success(Number(u));
    if (typeof u === 'object' && u !== null && 'toNumber' in u && typeof u.toNumber === 'function') {
      const n: unknown = u.toNumber();
      if (typeof n === 'number') return t.success(n);
    }
    return t.failure(u, c, 'expected epoch milliseconds');
  },
  (n) => n,
);

const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

export const OcppFrameCodec: t.Type<OcppFrameRecord, unknown, unknown> = t.type({
  frameId: t.string,
  chargePointId: t.string,
  gatewayId: t.string,
  protocol: t.string,
  direction: t.keyof({ IN: null, OUT: null }),
  kind: t.keyof({ CALL: null, CALLRESULT: null, CALLERROR: null, CONNECTED: null, DISCONNECTED: null }),
  messageTypeId: nullable(t.number),
  uniqueId: nullable(t.string),
  action: nullable(t.string),
  payloadJson: nullable(t.string),
  errorCode: nullable(t.string),
  errorDescription: nullable(t.string),
  raw: t.string,
  seq: Millis,
  receivedAt: Millis,
  commandId: nullable(t.string),
  prevHash: t.string,
  hash: t.string,
});

/** A decoded ocpp.command-results record. */
export const CommandResultCodec = t.type({
  commandId: t.string,
  chargePointId: t.string,
  action: t.string,
  outcome: t.keyof({ ACCEPTED: null, REJECTED: null, CALLERROR: null, TIMEOUT: null, OFFLINE: null, INVALID: null, EXPIRED: null }),
  status: nullable(t.string),
  responseJson: nullable(t.string),
  detail: nullable(t.string),
  gatewayId: t.string,
  completedAt: Millis,
});
export type CommandResult = t.TypeOf<typeof CommandResultCodec>;

export const TelematicsReadingCodec = t.type({
  readingId: t.string,
  vehicleId: t.string,
  provider: t.string,
  providerReadingId: t.string,
  readingAt: Millis,
  receivedAt: Millis,
  socPct: nullable(t.number),
  rangeKm: nullable(t.number),
  odometerKm: nullable(t.number),
  latitude: nullable(t.number),
  longitude: nullable(t.number),
  chargingState: nullable(t.string),
  pluggedIn: nullable(t.boolean),
  batteryCapacityKwh: nullable(t.number),
  etaAt: nullable(Millis),
});
export type TelematicsReadingRecord = t.TypeOf<typeof TelematicsReadingCodec>;

/** One union branch, wrapped as Avro readers give it: `{ "<full.name>": {...} }`. */
const OneBranch = t.refinement(t.UnknownRecord, (r) => Object.keys(r).length === 1, 'one union branch');

const ChargingEventEnvelope = t.type({
  eventId: t.string,
  chargePointId: t.string,
  occurredAt: Millis,
  source: nullable(t.type({ topic: t.string, partition: t.number, offset: Millis })),
  body: OneBranch,
});

const ConfigEventEnvelope = t.type({ eventId: t.string, at: Millis, actor: t.string, body: OneBranch });

/** Reasons a value is not of the codec's type, one line per problem. */
export const formatDecodeErrors = (errors: t.Errors): string =>
  errors
    .map((e) => {
      const path = e.context
        .map((c) => c.key)
        .filter((k) => k !== '')
        .join('.');
      return e.message ? `${path}: ${e.message}` : `${path || '(root)'}: expected ${e.context[e.context.length - 1]?.type.name ?? 'value'}, got ${JSON.stringify(e.value) ?? 'undefined'}`;
    })
    .join('; ');

export const decodeWith =
  <A>(codec: t.Type<A, unknown, unknown>) =>
  (u: unknown): E.Either<string, A> =>
    pipe(codec.decode(u), E.mapLeft(formatDecodeErrors));

/** The envelope is checked field by field; the body's fields are the event schema's (the registry already enforced
 *  them when the record was written), taken over by schemas/events.ts's fromAvro. */
export const decodeChargingEvent = (u: unknown): E.Either<string, ChargingEvent> =>
  pipe(
    decodeWith(ChargingEventEnvelope)(u),
    E.map((env) => ({ ...fromAvro(env), occurredAt: env.occurredAt, source: env.source })),
  );

export const decodeConfigEvent = (u: unknown): E.Either<string, ConfigEvent> =>
  pipe(
    decodeWith(ConfigEventEnvelope)(u),
    E.map((env) => ({ ...configFromAvro(env), at: env.at })),
  );
