import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { ChargingEvent, toAvro } from './events';
import { ConfigEvent, configToAvro } from './fleet-config';
import { OcppFrameRecord } from './frame-chain';
import { decodePlanRecord, PlanRecord } from './plan-record';
import { CommandResult, CommandResultCodec, decodeChargingEvent, decodeConfigEvent, decodeWith, OcppFrameCodec, TelematicsReadingCodec, TelematicsReadingRecord } from './records';
import { decodeSiteMeterReading, SiteMeterReading, SiteMeterRejectionCodec } from './site-meter-record';
import { decodeSiteRouted, encodeSiteRouted, SiteRouted } from './site-routed';
import { changelogTopic, TopicSpec, topicSpecs, Topics } from './topics';
import { subjectOf } from './registry';

/** Every topic with its name, key, Avro subject, configs, decoder to the domain type, and the components that write and
 *  read it. A component imports the entries it uses, so "who reads ocpp.frames" is a search for `catalog.ocppFrames`. */
export type Component =
  | 'services/ocpp-gateway'
  | 'services/api'
  | 'services/telematics-ingest'
  | 'services/optimizer'
  | 'services/dashboard'
  | 'services/audit'
  | 'services/site-meters'
  | 'streams/normalizer'
  | 'streams/vehicle-tracker'
  | 'streams/projections'
  | 'streams/partner-router'
  | 'streams/replay';

export interface TopicEntry<A> {
  readonly name: string;
  /** The topic whose schema the values have: `name` unless the entry was renamed (tests run on their own topics). */
  readonly schemaTopic: string;
  /** What the record key is. */
  readonly key: string;
  readonly subject: string;
  readonly spec: TopicSpec;
  /** An Avro-decoded value → the domain type, or why it is not one. */
  readonly decode: (value: unknown) => E.Either<string, A>;
  /** The domain type → the Avro record the serde encodes. */
  readonly encode: (a: A) => unknown;
  readonly producers: readonly Component[];
  readonly consumers: readonly Component[];
}

/** A record that does not decode, named by where it is. */
export interface UndecodableRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly reason: string;
}

export const describeUndecodable = (e: UndecodableRecord): string => `${e.topic}[${e.partition}]@${e.offset}: ${e.reason}`;

export const decodeRecord = <A>(entry: Pick<TopicEntry<A>, 'name' | 'decode'>, at: { partition: number; offset: number }, value: unknown): E.Either<UndecodableRecord, A> =>
  pipe(
    entry.decode(value),
    E.mapLeft((reason) => ({ topic: entry.name, partition: at.partition, offset: at.offset, reason })),
  );

/** The same entry on another topic of the same schema (a test's own topics). */
export const renamed = <A>(entry: TopicEntry<A>, name: string): TopicEntry<A> => ({ ...entry, name, spec: { ...entry.spec, name } });

const specOf = (name: string): TopicSpec => {
  const spec = topicSpecs.find((s) => s.name === name);
  if (!spec) throw new Error(`no topic spec for ${name}`);
  return spec;
};

const entry = <A>(name: string, decode: (value: unknown) => E.Either<string, A>, encode: (a: A) => unknown, producers: readonly Component[], consumers: readonly Component[]): TopicEntry<A> => {
  const spec = specOf(name);
  return { name, schemaTopic: name, key: spec.key, subject: subjectOf(name), spec, decode, encode, producers, consumers };
};

const same = <A>(a: A): unknown => a;
/** Topics whose domain types live with their one writer: decoded as records of fields only. */
const fields = decodeWith(t.UnknownRecord);

export const catalog = {
  ocppFrames: entry<OcppFrameRecord>(Topics.ocppFrames, decodeWith(OcppFrameCodec), same, ['services/ocpp-gateway'], ['streams/normalizer', 'services/audit', 'services/dashboard']),
  ocppRejected: entry(Topics.ocppRejected, fields, same, ['services/ocpp-gateway'], []),
  ocppCommands: entry(Topics.ocppCommands, fields, same, ['services/optimizer', 'services/api'], ['services/ocpp-gateway', 'services/optimizer']),
  ocppCommandResults: entry<CommandResult>(Topics.ocppCommandResults, decodeWith(CommandResultCodec), same, ['services/ocpp-gateway'], ['streams/normalizer', 'services/optimizer', 'services/api']),
  telematicsReadings: entry<TelematicsReadingRecord>(Topics.telematicsReadings, decodeWith(TelematicsReadingCodec), same, ['services/telematics-ingest'], ['streams/vehicle-tracker', 'streams/projections', 'services/optimizer', 'services/dashboard']),
  telematicsRejected: entry(Topics.telematicsRejected, fields, same, ['services/telematics-ingest'], []),
  chargingEvents: entry<ChargingEvent>(Topics.chargingEvents, decodeChargingEvent, toAvro, ['streams/normalizer', 'streams/vehicle-tracker'], ['streams/vehicle-tracker', 'streams/projections', 'streams/partner-router', 'services/optimizer', 'services/dashboard']),
  optimizerPlans: entry<PlanRecord>(Topics.optimizerPlans, decodePlanRecord, same, ['services/optimizer'], ['streams/projections', 'services/api', 'services/dashboard']),
  fleetConfig: entry<ConfigEvent>(Topics.fleetConfig, decodeConfigEvent, configToAvro, ['services/api'], ['streams/vehicle-tracker', 'streams/projections', 'streams/partner-router', 'services/optimizer', 'services/ocpp-gateway', 'services/telematics-ingest', 'services/dashboard']),
  siteMeterReadings: entry<SiteMeterReading>(Topics.siteMeterReadings, decodeSiteMeterReading, same, ['services/site-meters'], ['streams/projections', 'services/optimizer']),
  siteMeterRejected: entry(Topics.siteMeterRejected, decodeWith(SiteMeterRejectionCodec), same, ['services/site-meters'], []),
  normalizerChargersChangelog: { name: changelogTopic('normalizer', 'chargers'), producers: ['streams/normalizer'], consumers: ['streams/normalizer'] },
  /** Internal: the tracker's inputs keyed by site (streams/vehicle-tracker/route.ts); the site is the record key. */
  vehicleTrackerBySite: entry<Omit<SiteRouted, 'site'>>(Topics.vehicleTrackerBySite, decodeSiteRouted, encodeSiteRouted, ['streams/vehicle-tracker'], ['streams/vehicle-tracker']),
  vehicleTrackerSitesChangelog: { name: changelogTopic('vehicle-tracker', 'sites'), producers: ['streams/vehicle-tracker'], consumers: ['streams/vehicle-tracker'] },
} as const;
