/** A gateway dies without releasing its chargers (and before it stored their chain heads); a charger reconnects to
 *  another instance, which finds the real head on the topic (scan from the dead holder's claim offset) and continues
 *  the chain: seq and prevHash unbroken across instances. */
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { createGateway } from '../../services/ocpp-gateway/gateway';
import { quoteIdent } from '../../services/common/db';
import { uniq } from '../support/stack';
import { checkChain, configureFleet, dropSchema, ensureContractTopics, FrameRec, gatewayContext, ocppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_takeover');
const cp = uniq('takeover');

afterAll(async () => {
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

test('chain continues on another instance after the holder died uncleanly', async () => {
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  const from = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const opts = (name: string) => ({ gatewayId: uniq(name), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry(), leaseTtlMs: 3000 });
  const a = await createGateway(ctx, opts('gw-dies'));
  const b = await createGateway(ctx, opts('gw-takes-over'));

  const c1 = ocppClient({ endpoint: a.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
  await c1.connect();
  await c1.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' });
  await c1.call('Heartbeat', {});
  await c1.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
  await a.kill();
  // As if it died before its head write: the new holder can only learn the head from the topic.
  await ctx.pool.query(`DELETE FROM ${quoteIdent(schema)}.chain_heads WHERE charge_point_id = $1`, [cp]);
  await c1.close({ force: true }).catch(() => undefined);

  const c2 = ocppClient({ endpoint: b.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
  await c2.connect();
  await c2.call('Heartbeat', {});
  await c2.close();
  await b.stop();

  const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, from, (k) => k === cp, (r) => r.some((f) => f.kind === 'DISCONNECTED'))).sort((x, y) => Number(x.seq) - Number(y.seq));
  checkChain(frames);
  expect(frames.map((f) => `${f.gatewayId === a.gatewayId ? 'A' : 'B'} ${f.direction} ${f.kind}`)).toEqual([
    'A IN CONNECTED',
    ...Array(3).fill(['A IN CALL', 'A OUT CALLRESULT']).flat(),
    'B IN CONNECTED',
    'B IN CALL',
    'B OUT CALLRESULT',
    'B IN DISCONNECTED',
  ]);
});

test('a second connection of the same charger to the same instance replaces the first; the chain goes on', async () => {
  const id = uniq('twice');
  await configureFleet(ctx.kafka, ctx.serde, [{ id, password: 'pw' }]);
  const from = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const gw = await createGateway(ctx, { gatewayId: uniq('gw-twice'), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry() });
  const first = ocppClient({ endpoint: gw.url, identity: id, password: 'pw', protocols: ['ocpp2.0.1'] });
  await first.connect();
  await first.call('Heartbeat', {});
  const firstClosed = new Promise((r) => first.on('close', r));
  const second = ocppClient({ endpoint: gw.url, identity: id, password: 'pw', protocols: ['ocpp2.0.1'] });
  await second.connect();
  await firstClosed;
  await second.call('Heartbeat', {});
  await second.close();
  await waitFor('the charger to be released', () => gw.connectedCount() === 0);
  await gw.stop();
  const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, from, (k) => k === id, (r) => r.filter((f) => f.kind === 'CALLRESULT').length >= 2 && r.some((f) => f.kind === 'DISCONNECTED'))).sort((x, y) => Number(x.seq) - Number(y.seq));
  checkChain(frames);
  expect(frames.map((f) => f.kind)).toEqual(['CONNECTED', 'CALL', 'CALLRESULT', 'CONNECTED', 'CALL', 'CALLRESULT', 'DISCONNECTED']);
});
