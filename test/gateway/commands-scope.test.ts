/** Two gateway deployments on one broker (each its own PostgreSQL schema: its own `connections` and ledger), as when
 *  a development stack runs beside the tests. Every deployment reads all of ocpp.commands in its own group, so one
 *  that never saw a charger answered OFFLINE at once and raced the real holder's answer (projections and waiting
 *  readers then showed "offline" for a command the charger had answered). With OCPP_COMMANDS_FOR=known a deployment
 *  leaves commands for chargers it never saw alone and still answers those of chargers it knows. */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { quoteIdent } from '../../services/common/db';
import { Topics } from '../../schemas/topics';
import { decodeSettings } from '../../services/ocpp-gateway/config';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, ocppClient, OcppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

jest.setTimeout(120_000);

const ctx = gatewayContext();
const prefix = uniq('scope');
const ids = { served: `${prefix}-served`, devOnly: `${prefix}-dev` };
const schemas = { serving: pgSchemaName('gw_scope_a'), dev: pgSchemaName('gw_scope_b') };
const groups = { serving: uniq('gw-scope-a'), dev: uniq('gw-scope-b') };
const producer = ctx.kafka.producer();
let serving: Gateway;
let dev: Gateway;
const clients: OcppClient[] = [];

interface Result {
  commandId: string;
  outcome: string;
  gatewayId: string;
}

/** Sends a Reset; returns its id and where it is on ocpp.commands. */
const sendReset = async (chargePointId: string) => {
  const commandId = randomUUID();
  const value = await ctx.serde.encode(Topics.ocppCommands, {
    commandId, chargePointId, action: 'Reset', payloadJson: JSON.stringify({ type: 'Soft' }), issuedBy: 'test', issuedAt: Date.now(), expiresAt: null, planId: null,
  });
  const [meta] = await producer.send({ topic: Topics.ocppCommands, acks: -1, messages: [{ key: chargePointId, value }] });
  return { commandId, partition: meta!.partition, offset: Number(meta!.baseOffset) };
};

const connect = async (gw: Gateway, identity: string): Promise<OcppClient> => {
  const c = ocppClient({ endpoint: gw.url, identity, password: `pw-${identity}`, protocols: ['ocpp1.6'] });
  c.handle('Reset', () => ({ status: 'Accepted' }));
  clients.push(c);
  await c.connect();
  return c;
};

/** Whether the group has committed past the record: its reader is done with it (the ledger write comes before). */
const committedPast = async (groupId: string, at: { partition: number; offset: number }) => {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [Topics.ocppCommands] });
    return Number(t!.partitions.find((p) => p.partition === at.partition)?.offset ?? -1) > at.offset;
  } finally {
    await admin.disconnect();
  }
};

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  await producer.connect();
  await configureFleet(ctx.kafka, ctx.serde, Object.values(ids).map((id) => ({ id, password: `pw-${id}` })));
  const common = { port: 0, acceptsCommandsFor: (id: string) => id.startsWith(prefix) };
  serving = await createGateway(ctx, { ...common, gatewayId: uniq('gw-serving'), metrics: new Registry(), commandsGroupId: groups.serving, settings: { dbSchema: schemas.serving, internalToken: uniq('t') } });
  dev = await createGateway(ctx, {
    ...common, gatewayId: uniq('gw-dev'), metrics: new Registry(), commandsGroupId: groups.dev, settings: { dbSchema: schemas.dev, internalToken: uniq('t'), commandsFor: 'known' },
  });
});

afterAll(async () => {
  for (const c of clients) await c.close({ force: true }).catch(() => undefined);
  await serving?.stop();
  await dev?.stop();
  await producer.disconnect();
  await dropSchema(ctx.pool, schemas.serving);
  await dropSchema(ctx.pool, schemas.dev);
  await ctx.pool.end();
});

test('a deployment that never saw the charger leaves its command to the one holding it, and still answers its own', async () => {
  await connect(serving, ids.served);
  // The development deployment knows this one (it connected there once) and it is gone now.
  const gone = await connect(dev, ids.devOnly);
  await gone.close({ force: true });
  await waitFor(`${ids.devOnly} released`, async () => (await ctx.pool.query(`SELECT 1 FROM ${quoteIdent(schemas.dev)}.connections WHERE charge_point_id = $1 AND NOT connected`, [ids.devOnly])).rowCount === 1, 30000, 100);

  const resultsFrom = await topicEnds(ctx.kafka, Topics.ocppCommandResults);
  const toServed = await sendReset(ids.served);
  const toDev = await sendReset(ids.devOnly);
  const results = await readFrom<Result>(ctx.kafka, Topics.ocppCommandResults, resultsFrom, (k) => k.startsWith(prefix), (r) => r.some((x) => x.commandId === toServed.commandId) && r.some((x) => x.commandId === toDev.commandId && x.gatewayId === dev.gatewayId), 60000);
  expect(results.filter((r) => r.commandId === toServed.commandId)).toEqual([expect.objectContaining({ outcome: 'ACCEPTED', gatewayId: serving.gatewayId })]);
  // (The serving deployment, which reads everything, says OFFLINE to this one too.)
  expect(results.find((r) => r.commandId === toDev.commandId && r.gatewayId === dev.gatewayId)).toMatchObject({ outcome: 'OFFLINE' });

  // The development deployment has read the served charger's command (its offset is committed), and took nothing.
  await waitFor('the development deployment to read both commands', () => committedPast(groups.dev, toServed), 60000, 250);
  const ledger = (schema: string) => ctx.pool.query<{ command_id: string }>(`SELECT command_id FROM ${quoteIdent(schema)}.command_ledger WHERE charge_point_id LIKE $1 ORDER BY command_id`, [`${prefix}%`]);
  expect((await ledger(schemas.dev)).rows.map((r) => r.command_id)).toEqual([toDev.commandId]);
  expect((await ledger(schemas.serving)).rows.map((r) => r.command_id)).toEqual([toServed.commandId, toDev.commandId].sort());
});

test('OCPP_COMMANDS_FOR: all by default, known on request, anything else refused', () => {
  const of = (v: string | undefined) => {
    const r = decodeSettings(v === undefined ? {} : { OCPP_COMMANDS_FOR: v });
    return r._tag === 'Right' ? r.right.commandsFor : 'refused';
  };
  expect([of(undefined), of('all'), of('known'), of('some')]).toEqual(['all', 'all', 'known', 'refused']);
});
