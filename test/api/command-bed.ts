/** What the API's command tests stand on: a real gateway that follows the real fleet.config and delivers this test's
 *  commands (ids under `prefix`), chargers driven by the third-party ocpp-rpc client (strict mode), and projections
 *  of this test's own charging.events topic, written the way the normalizer would (the normalizer reads all of
 *  ocpp.frames, which other tests share). The test brings its API and its handlers. */
import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { EventBody, toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { GatewaySettings } from '../../services/ocpp-gateway/config';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { freshPgSchema, uniq, waitForValue } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, OcppClient, pgSchemaName } from '../gateway/support';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics } from '../streams/support';

export interface Received {
  readonly action: string;
  readonly params: Json;
}

/** A charger's answer to one CALL action, given its payload. */
export type Answer = (params: Json) => Json;

export interface CommandBedOptions {
  /** Names the test's Kafka client, schemas and groups. */
  readonly name: string;
  /** Every charger id starts with it; the gateway takes commands for these only. */
  readonly prefix: string;
  /** Registered on the real fleet.config with the password `pw-<id>`. */
  readonly chargerIds: readonly string[];
  readonly gatewaySettings?: Partial<GatewaySettings>;
  /** The fleet.config the projections read (default: the real one, where the API writes). */
  readonly projectionsConfigTopic?: (topics: TestTopics) => string;
  /** Before the projections start: e.g. this test's own copy of fleet.config. */
  readonly beforeProjections?: (kafka: Kafka, topics: TestTopics) => Promise<void>;
}

export interface CommandBed {
  readonly kafka: Kafka;
  readonly topics: TestTopics;
  readonly db: Awaited<ReturnType<typeof freshPgSchema>>;
  readonly gateway: Gateway;
  readonly projections: RunningProjections;
  /** Every CALL each charger received, in order. */
  readonly received: Record<string, Received[]>;
  /** Connects a charger that answers each action in `answers` and records what it received. */
  connect(id: string, protocol: string, answers: Record<string, Answer>): Promise<OcppClient>;
  /** What the normalizer would write to charging.events. */
  emit(chargePointId: string, body: EventBody): Promise<void>;
  /** ChargerConnected, as the normalizer writes it, until the projections know the charger's version. */
  announce(id: string, protocol: string): Promise<void>;
  /** Waits until this test's projections hold a row (the API reads them). */
  projected(what: string, sql: string, params: unknown[]): Promise<true>;
  stop(): Promise<void>;
}

export const answering = (answer: Json): Answer => () => answer;

/** Each action answered with its fixed payload. */
export const answeringAll = (answers: Record<string, Json>): Record<string, Answer> => Object.fromEntries(Object.entries(answers).map(([action, a]) => [action, answering(a)]));

export const startCommandBed = async (o: CommandBedOptions): Promise<CommandBed> => {
  const ctx = gatewayContext();
  const serde = testSerde();
  const gwSchema = pgSchemaName(`gw_${o.name.replace(/-/g, '_')}`);
  const kafka = testKafka(o.name);
  await ensureContractTopics(ctx.kafka);
  const topics = await createTestTopics(kafka);
  const db = await freshPgSchema(`${o.name.replace(/-/g, '_')}_proj`);
  await configureFleet(ctx.kafka, ctx.serde, o.chargerIds.map((id) => ({ id, password: `pw-${id}` })));
  await o.beforeProjections?.(kafka, topics);
  const gateway = await createGateway(ctx, {
    port: 0,
    gatewayId: uniq(`gw-${o.name}`),
    metrics: new Registry(),
    settings: { dbSchema: gwSchema, callTimeoutMs: 5000, internalToken: uniq('token'), ...o.gatewaySettings },
    commandsGroupId: uniq(`gw-${o.name}`),
    acceptsCommandsFor: (id) => id.startsWith(o.prefix),
  });
  const projections = await startProjections({
    kafka, serde, pool: db.pool, log: quietLog, schema: db.schema, groupId: uniq(`${o.name}-proj`),
    topics: { events: topics.events, readings: topics.readings, config: o.projectionsConfigTopic?.(topics) ?? Topics.fleetConfig, commands: Topics.ocppCommands, commandResults: Topics.ocppCommandResults },
  });
  const clients: OcppClient[] = [];
  const received: Record<string, Received[]> = {};

  const projected = (what: string, sql: string, params: unknown[]) =>
    waitForValue(what, async () => ((await db.pool.query(sql, params)).rowCount ? (true as const) : undefined), 60_000, 100);
  const emit = (chargePointId: string, body: EventBody) =>
    produce(kafka, serde, topics.events, Topics.chargingEvents, [{ key: chargePointId, value: toAvro({ eventId: randomUUID(), chargePointId, occurredAt: Date.now(), source: null, body }) }]);

  for (const id of o.chargerIds) await projected(`the configuration of ${id}`, `SELECT 1 FROM ${db.schema}.fleet_chargers WHERE charge_point_id = $1`, [id]);

  return {
    kafka, topics, db, gateway, projections, received, projected, emit,
    connect: async (id, protocol, answers) => {
      const c = ocppClient({ endpoint: gateway.url, identity: id, password: `pw-${id}`, protocols: [protocol] });
      const log: Received[] = (received[id] = []);
      for (const [action, answer] of Object.entries(answers))
        c.handle(action, ({ params }) => {
          log.push({ action, params });
          return answer(params);
        });
      clients.push(c);
      await c.connect();
      return c;
    },
    announce: async (id, protocol) => {
      await emit(id, { type: 'ChargerConnected', protocol, gatewayId: gateway.gatewayId });
      await projected(`the version of ${id}`, `SELECT 1 FROM ${db.schema}.charger_status WHERE charge_point_id = $1 AND protocol = $2`, [id, protocol]);
    },
    stop: async () => {
      for (const c of clients) await c.close({ force: true }).catch(() => undefined);
      await gateway.stop();
      await projections.stop();
      await db.drop();
      await deleteTestTopics(kafka, topics);
      await dropSchema(ctx.pool, gwSchema);
      await ctx.pool.end();
    },
  };
};
