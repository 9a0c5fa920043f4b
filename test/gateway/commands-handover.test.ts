/** A gateway instance stopped (a restart, a deploy) while a command waits at its charger: the instance ends its lease
 *  as it stops, the other instance takes the command over from the ledger and delivers it when the charger reconnects
 *  there. Before the ledger, the command's offset was already committed and it vanished without an outcome. */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { createGateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, ocppClient, OcppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_handover');
const prefix = uniq('handover');

afterAll(async () => {
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

test('a command outstanding on a stopped instance is delivered by the other one after the charger reconnects there', async () => {
  const cp = `${prefix}-cp`;
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  const resultsFrom = await topicEnds(ctx.kafka, Topics.ocppCommandResults);
  const common = { port: 0, settings: { dbSchema: schema, callTimeoutMs: 60000, internalToken: uniq('token') }, commandsGroupId: uniq('gw-handover'), acceptsCommandsFor: (id: string) => id.startsWith(prefix), leaseTtlMs: 3000 };
  const a = await createGateway(ctx, { ...common, gatewayId: uniq('gw-stops'), metrics: new Registry() });
  const b = await createGateway(ctx, { ...common, gatewayId: uniq('gw-stays'), metrics: new Registry() });
  const got: string[] = [];
  const connect = async (url: string, answer: boolean): Promise<OcppClient> => {
    const c = ocppClient({ endpoint: url, identity: cp, password: 'pw', protocols: ['ocpp2.0.1'] });
    c.handle('Reset', ({ params }) => {
      got.push(String(params.type));
      return answer ? { status: 'Accepted' } : new Promise(() => undefined);
    });
    await c.connect();
    return c;
  };
  let second: OcppClient | undefined;
  try {
    const first = await connect(a.url, false);
    const commandId = randomUUID();
    const producer = ctx.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: Topics.ocppCommands,
      acks: -1,
      messages: [{ key: cp, value: await ctx.serde.encode(Topics.ocppCommands, { commandId, chargePointId: cp, action: 'Reset', payloadJson: JSON.stringify({ type: 'OnIdle' }), issuedBy: 'test', issuedAt: Date.now(), expiresAt: null, planId: null }) }],
    });
    await producer.disconnect();
    await waitFor('the charger to hold the command on A', () => got.length === 1);
    const closed = new Promise((r) => first.on('close', r));
    await a.stop();
    await closed;
    second = await connect(b.url, true);
    const results = await readFrom<{ commandId: string; outcome: string; gatewayId: string }>(ctx.kafka, Topics.ocppCommandResults, resultsFrom, (k) => k === cp, (r) => r.some((x) => x.commandId === commandId), 30_000);
    expect(results.filter((r) => r.commandId === commandId).map((r) => [r.outcome, r.gatewayId])).toEqual([['ACCEPTED', b.gatewayId]]);
    expect(got).toEqual(['OnIdle', 'OnIdle']);
  } finally {
    await second?.close().catch(() => undefined);
    await b.stop();
  }
});
