import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { decodeWith, Millis } from './records';

/** A site.meter-readings record (schemas/avro/site.meter-readings.avsc) as the domain reads it. kW, A, V.
 *  Written by services/site-meters; read by streams/projections (site_meter_readings, building_load_15m) and the
 *  optimizer (building load and its forecast: streams/site-load/forecast.ts). */
const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

export const MeterRoleCodec = t.keyof({ connection: null, submeter: null });
export type MeterRole = t.TypeOf<typeof MeterRoleCodec>;
export const MeterSourceCodec = t.keyof({ push: null, modbus: null });
export type MeterSource = t.TypeOf<typeof MeterSourceCodec>;

export const SiteMeterReadingCodec = t.type({
  readingId: t.string,
  siteId: t.string,
  meterId: t.string,
  role: MeterRoleCodec,
  panelId: nullable(t.string),
  measuredAt: Millis,
  receivedAt: Millis,
  importKw: t.number,
  l1A: nullable(t.number),
  l2A: nullable(t.number),
  l3A: nullable(t.number),
  voltageV: nullable(t.number),
  source: MeterSourceCodec,
});
export type SiteMeterReading = t.TypeOf<typeof SiteMeterReadingCodec>;

export const decodeSiteMeterReading = (u: unknown): E.Either<string, SiteMeterReading> => decodeWith(SiteMeterReadingCodec)(u);

/** A site.meter-rejected record: input refused at the edge, for audit. */
export const SiteMeterRejectionCodec = t.type({
  rejectionId: t.string,
  siteId: t.string,
  meterId: nullable(t.string),
  source: MeterSourceCodec,
  raw: t.unknown,
  problems: t.array(t.string),
  httpStatus: nullable(t.number),
  receivedAt: Millis,
});
export type SiteMeterRejection = Omit<t.TypeOf<typeof SiteMeterRejectionCodec>, 'raw'> & { readonly raw: Buffer };
