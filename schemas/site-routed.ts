import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { ChargingEvent, SourceRef, toAvro } from './events';
import { ConfigEvent, configToAvro } from './fleet-config';
import { decodeChargingEvent, decodeConfigEvent, decodeWith, TelematicsReadingCodec, TelematicsReadingRecord } from './records';

/** What the vehicle tracker folds, whichever topic it came from. */
export type TrackerInput =
  | { readonly kind: 'event'; readonly event: ChargingEvent }
  | { readonly kind: 'reading'; readonly reading: TelematicsReadingRecord }
  | { readonly kind: 'config'; readonly config: ConfigEvent };

/** A tracker input re-keyed by the site it concerns (vehicle-tracker.by-site, schemas/avro/vehicle-tracker.by-site.avsc).
 *  `source` is where it was first read, so that decisions keep ids derived from the original record. */
export interface SiteRouted {
  readonly site: string;
  readonly source: SourceRef;
  readonly input: TrackerInput;
}

const SiteRoutedRecord = t.type({ sourceTopic: t.string, sourcePartition: t.number, sourceOffset: t.number, kind: t.keyof({ event: null, reading: null, config: null }), valueJson: t.string });

const parse = (json: string): E.Either<string, unknown> =>
  E.tryCatch(
    (): unknown => JSON.parse(json),
    (e) => `valueJson is not JSON: ${(e as Error).message}`,
  );

/** The Avro record → the routed input. The site is the record's key, which the Avro value does not hold: the caller
 *  passes it (the runtime gives the key with every input). */
export const decodeSiteRouted = (u: unknown): E.Either<string, Omit<SiteRouted, 'site'>> =>
  pipe(
    decodeWith(SiteRoutedRecord)(u),
    E.chain((r) =>
      pipe(
        parse(r.valueJson),
        E.chain((value): E.Either<string, TrackerInput> => {
          switch (r.kind) {
            case 'event':
              return E.map((event: ChargingEvent): TrackerInput => ({ kind: 'event', event }))(decodeChargingEvent(value));
            case 'reading':
              return E.map((reading: TelematicsReadingRecord): TrackerInput => ({ kind: 'reading', reading }))(decodeWith(TelematicsReadingCodec)(value));
            case 'config':
              return E.map((config: ConfigEvent): TrackerInput => ({ kind: 'config', config }))(decodeConfigEvent(value));
          }
        }),
        E.map((input) => ({ source: { topic: r.sourceTopic, partition: r.sourcePartition, offset: r.sourceOffset }, input })),
      ),
    ),
  );

const avroOf = (i: TrackerInput): unknown => (i.kind === 'event' ? toAvro(i.event) : i.kind === 'config' ? configToAvro(i.config) : i.reading);

export const encodeSiteRouted = (r: Omit<SiteRouted, 'site'>): unknown => ({
  sourceTopic: r.source.topic,
  sourcePartition: r.source.partition,
  sourceOffset: r.source.offset,
  kind: r.input.kind,
  valueJson: JSON.stringify(avroOf(r.input)),
});
