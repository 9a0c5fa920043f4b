import { Producer } from 'kafkajs';
import { ChargingEvent, EventBody, toAvro } from '../../schemas/events';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { plainRegistryClient, ReadRecord, testKafka, uniq } from '../support/stack';

/** What the optimizer's integration tests share: the records they read back, a collector of them, the OCPP schema
 *  check of a SetChargingProfile, and the writers of the optimizer's inputs as the other services write them. */

const validators = require('ocpp-rpc/lib/standard-validators') as { subprotocol: string; validate(schemaId: string, payload: unknown): boolean }[];
/** Whether a SetChargingProfile payload is valid for the OCPP version (`ocpp1.6`, `ocpp2.0.1`). */
export const validate = (protocol: string, payload: unknown): boolean => validators.find((v) => v.subprotocol === protocol)!.validate('urn:SetChargingProfile.req', payload);

/** An `ocpp.commands` record (the fields the tests read). */
export interface CommandRecord {
  commandId: string;
  chargePointId: string;
  action: string;
  payloadJson: string;
  issuedBy: string;
  planId: string | null;
}

/** An `optimizer.plans` record (the fields the tests read). */
export interface PlanRecord {
  planId: string;
  horizonStart: number;
  siteId: string;
  trigger: string;
  status: string;
  gridLimitKw: number;
  siteKw: number[];
  vehicles: { vehicleId: string; chargePointId: string | null; powerKw: number[]; shortfallKwh: number }[];
  inputsJson: string;
}

/** The chargingProfilePurpose of a SetChargingProfile command, either OCPP version. */
export const purposeOf = (c: CommandRecord): string => {
  const p = JSON.parse(c.payloadJson) as { csChargingProfiles?: { chargingProfilePurpose: string }; chargingProfile?: { chargingProfilePurpose: string } };
  return (p.csChargingProfiles ?? p.chargingProfile)!.chargingProfilePurpose;
};

export interface Collector {
  /** The records of `topic` read so far, once `done` holds of them or after timeoutMs. */
  until<T>(topic: string, done: (rs: ReadRecord<T>[]) => boolean, timeoutMs?: number): Promise<ReadRecord<T>[]>;
  stop(): Promise<void>;
}

/** Reads `topics` from their current end (joined before anything is produced), keeping records whose key `keep` accepts:
 *  the shared topics are long, reading them from the beginning would take minutes. */
export const collector = async (topics: string[], keep: (key: string) => boolean): Promise<Collector> => {
  const registry = plainRegistryClient();
  const consumer = testKafka('optimizer-reader').consumer({ groupId: uniq('optimizer-reader'), maxWaitTimeInMs: 200 });
  const records = new Map<string, ReadRecord<Record<string, unknown>>[]>(topics.map((t) => [t, []]));
  await consumer.connect();
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.subscribe({ topics, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const key = message.key?.toString() ?? '';
      if (!keep(key)) return;
      const value = (await registry.decode(message.value!)) as Record<string, unknown>;
      records.get(topic)!.push({ key, value, partition, offset: message.offset, headers: message.headers });
    },
  });
  await joined;
  // The first fetch resolves the partitions' end offsets; give it a moment before anything is produced.
  await new Promise((r) => setTimeout(r, 1500));
  return {
    until: async <T>(topic: string, done: (rs: ReadRecord<T>[]) => boolean, timeoutMs = 60000): Promise<ReadRecord<T>[]> => {
      const end = Date.now() + timeoutMs;
      const rs = () => records.get(topic)! as unknown as ReadRecord<T>[];
      while (!done(rs()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return [...rs()];
    },
    stop: () => consumer.disconnect(),
  };
};

/** Writers of configuration (fleet.config) and charging events (charging.events) as the API and the normalizer write
 *  them. `ctx` and `producer` are read at each call (tests assign them in beforeAll). */
export const inputWriters = (get: () => { ctx: ServiceContext; producer: Producer }) => ({
  sendConfig: async (...bodies: ConfigBody[]) => {
    const { ctx, producer } = get();
    return producer.send({
      topic: Topics.fleetConfig,
      acks: DURABLE_ACKS,
      messages: await Promise.all(bodies.map(async (b) => ({ key: configKey(b), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro({ eventId: uniq('cfg'), at: Date.now(), actor: 'test', body: b })) }))),
    });
  },
  sendEvents: async (chargePointId: string, ...bodies: EventBody[]) => {
    const { ctx, producer } = get();
    return producer.send({
      topic: Topics.chargingEvents,
      acks: DURABLE_ACKS,
      messages: await Promise.all(
        bodies.map(async (body) => {
          const e: ChargingEvent = { eventId: uniq('ev'), chargePointId, occurredAt: Date.now(), source: null, body };
          return { key: chargePointId, value: await ctx.serde.encode(Topics.chargingEvents, toAvro(e)) };
        }),
      ),
    });
  },
});
