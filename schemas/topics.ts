import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every Kafka topic of the system: who writes it, what its key is, how long it keeps data.
 *  Partition count and replication come from the environment (KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR,
 *  KAFKA_MIN_INSYNC_REPLICAS). */
export interface TopicSpec {
  readonly name: string;
  /** Avro schema file under schemas/avro, registered as `<topic>-value`. */
  readonly schemaFile: string;
  readonly key: string;
  readonly producer: string;
  readonly configs: Readonly<Record<string, string>>;
  /** Fixed partition count, for topics that need one total order (configuration). */
  readonly partitions?: number;
}

const forever = { 'retention.ms': '-1', 'retention.bytes': '-1' };
/** An out-of-sync replica never becomes leader: it would drop writes that were acknowledged. min.insync.replicas is the
 *  cluster's (services/common/kafka.ts: ensureTopics, KAFKA_MIN_INSYNC_REPLICAS). */
const durable = { 'unclean.leader.election.enable': 'false' };

export const Topics = {
  ocppFrames: 'ocpp.frames',
  ocppRejected: 'ocpp.rejected',
  ocppCommands: 'ocpp.commands',
  ocppCommandResults: 'ocpp.command-results',
  telematicsReadings: 'telematics.readings',
  telematicsRejected: 'telematics.rejected',
  chargingEvents: 'charging.events',
  optimizerPlans: 'optimizer.plans',
  fleetConfig: 'fleet.config',
  siteMeterReadings: 'site.meter-readings',
  siteMeterRejected: 'site.meter-rejected',
  deadLetter: 'streams.dead-letter',
  vehicleTrackerBySite: 'vehicle-tracker.by-site',
} as const;

/** The compacted changelog of a fold's keyed store (streams/runtime): one record per key and change, plus the next
 *  input offset under the key `\0input-position`, in the same transaction as the fold's outputs, so a restart restores
 *  the store from it instead of re-reading the input. */
export const changelogTopic = (processor: string, store: string): string => `${processor}.${store}.changelog`;

/** Compaction keeps the last record per key; small segments let the cleaner reach the changes of the last minutes
 *  (the active segment is never compacted), so a restore reads little more than the live keys. */
const compacted = { 'cleanup.policy': 'compact', 'segment.bytes': String(8 * 1024 * 1024), 'segment.ms': '300000', 'min.cleanable.dirty.ratio': '0.1', ...durable };

export const partnerTopic = (partnerId: string): string => `partner.${partnerId}.events`;
export const partnerIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export const topicSpecs: readonly TopicSpec[] = [
  { name: Topics.ocppFrames, schemaFile: 'ocpp.frames.avsc', key: 'chargePointId', producer: 'services/ocpp-gateway', configs: { ...forever, ...durable } },
  { name: Topics.ocppRejected, schemaFile: 'ocpp.rejected.avsc', key: 'chargePointId', producer: 'services/ocpp-gateway', configs: { ...forever, ...durable } },
  { name: Topics.ocppCommands, schemaFile: 'ocpp.commands.avsc', key: 'chargePointId', producer: 'services/optimizer, services/api', configs: { 'retention.ms': String(30 * 24 * 3600 * 1000), ...durable } },
  { name: Topics.ocppCommandResults, schemaFile: 'ocpp.command-results.avsc', key: 'chargePointId', producer: 'services/ocpp-gateway', configs: { ...forever, ...durable } },
  { name: Topics.telematicsReadings, schemaFile: 'telematics.readings.avsc', key: 'vehicleId', producer: 'services/telematics-ingest', configs: { ...forever, ...durable } },
  { name: Topics.telematicsRejected, schemaFile: 'telematics.rejected.avsc', key: 'provider', producer: 'services/telematics-ingest', configs: { ...forever, ...durable } },
  { name: Topics.chargingEvents, schemaFile: 'charging.events.avsc', key: 'chargePointId', producer: 'streams/normalizer, streams/vehicle-tracker', configs: { ...forever, ...durable } },
  { name: Topics.optimizerPlans, schemaFile: 'optimizer.plans.avsc', key: 'siteId', producer: 'services/optimizer', configs: { ...forever, ...durable } },
  { name: Topics.siteMeterReadings, schemaFile: 'site.meter-readings.avsc', key: 'siteId', producer: 'services/site-meters', configs: { ...forever, ...durable } },
  { name: Topics.siteMeterRejected, schemaFile: 'site.meter-rejected.avsc', key: 'siteId', producer: 'services/site-meters', configs: { ...forever, ...durable } },
  { name: Topics.fleetConfig, schemaFile: 'fleet.config.avsc', key: '<kind>:<id>', producer: 'services/api', configs: { ...forever, ...durable }, partitions: 1 },
  // Records a stream processor could not apply, with the reason: their partition goes on without them.
  { name: Topics.deadLetter, schemaFile: 'streams.dead-letter.avsc', key: '<topic>/<partition>/<offset>', producer: 'streams/projections', configs: { ...forever, ...durable } },
  // Same partition count as its input (ocpp.frames): partition p holds the state of the chargers of frames partition p.
  { name: changelogTopic('normalizer', 'chargers'), schemaFile: 'store.changelog.avsc', key: 'chargePointId', producer: 'streams/normalizer', configs: compacted },
  // The vehicle tracker's inputs re-keyed by site (streams/vehicle-tracker/route.ts): kept like its inputs, so a store
  // whose shape changed can be rebuilt from it.
  { name: Topics.vehicleTrackerBySite, schemaFile: 'vehicle-tracker.by-site.avsc', key: 'siteId', producer: 'streams/vehicle-tracker', configs: { ...forever, ...durable } },
  // Same partition count as vehicle-tracker.by-site: partition p holds the tracker state of the sites of partition p.
  { name: changelogTopic('vehicle-tracker', 'sites'), schemaFile: 'store.changelog.avsc', key: 'siteId', producer: 'streams/vehicle-tracker', configs: compacted },
];

export const partnerTopicSpec = (partnerId: string): TopicSpec => ({
  name: partnerTopic(partnerId),
  schemaFile: 'charging.events.avsc',
  key: 'chargePointId',
  producer: 'streams/partner-router',
  configs: { ...forever, ...durable },
});

export const schemaDir = path.join(__dirname, 'avro');

export const readSchema = (file: string): string => fs.readFileSync(path.join(schemaDir, file), 'utf8');
