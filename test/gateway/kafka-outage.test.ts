/** Kafka stops in the middle of traffic and comes back: every frame the gateway acknowledged is in ocpp.frames exactly
 *  once, chargers got InternalError while it was down, the hash chain is unbroken, and the gateway recovered without a
 *  restart. Runs its own broker (ports 19092-19094) so the shared one is never touched. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBroker, stopBroker } from '../../infra/kafka/broker';
import { createKafka } from '../../services/common/kafka';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { checkChain, configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, meterValuesPayload, ocppClient, OcppClient, pgSchemaName, readFrom, waitFor } from './support';

jest.setTimeout(300000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-outage-'));
const broker = { dir, port: 19092, controllerPort: 19093, partnerPort: 19094, heapMb: 384 };
const ctx = gatewayContext({ kafkaBrokers: ['127.0.0.1:19092'] });
const schema = pgSchemaName('gw_outage');
const prefix = uniq('out');
let gw: Gateway | undefined;
const log = (s: string) => process.stderr.write(`[outage test] ${s}\n`);

beforeAll(async () => {
  await startBroker(broker, log);
  await ensureContractTopics(createKafka({ kafkaBrokers: ['127.0.0.1:19092'] }, 'outage-admin'));
});

afterAll(async () => {
  await gw?.stop().catch(() => undefined);
  await stopBroker(broker);
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Charger {
  readonly id: string;
  readonly client: OcppClient;
  readonly acked: number[];
  readonly errors: string[];
  running: boolean;
  loop?: Promise<void>;
}

const meter = meterValuesPayload;

const drive = (c: Charger, protocol: string) => {
  let n = 0;
  c.running = true;
  c.loop = (async () => {
    while (c.running) {
      const k = ++n;
      try {
        await c.client.call('MeterValues', meter(protocol, k), { callTimeoutMs: 60000 });
        c.acked.push(k);
        await new Promise((r) => setTimeout(r, 20));
      } catch (e) {
        c.errors.push((e as { rpcErrorCode?: string }).rpcErrorCode ?? (e as Error).message);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
};

test('Kafka stops mid-traffic and returns: acknowledged frames all there once, InternalError meanwhile, self-recovery', async () => {
  const ids = [`${prefix}-16`, `${prefix}-201`];
  await configureFleet(ctx.kafka, ctx.serde, ids.map((id) => ({ id, password: `pw-${id}` })));
  gw = await createGateway(ctx, { gatewayId: uniq('gw-outage'), port: 0, settings: { dbSchema: schema }, consumeCommands: false });
  const chargers: Charger[] = [];
  for (const [i, id] of ids.entries()) {
    const protocol = i === 0 ? 'ocpp1.6' : 'ocpp2.0.1';
    const client = ocppClient({ endpoint: gw.url, identity: id, password: `pw-${id}`, protocols: [protocol] });
    await client.connect();
    const c: Charger = { id, client, acked: [], errors: [], running: false };
    chargers.push(c);
    drive(c, protocol);
  }
  await waitFor('traffic before the outage', () => chargers.every((c) => c.acked.length >= 20));

  log('stopping the broker');
  await stopBroker(broker);
  const ackedAtStop = chargers.map((c) => c.acked.length);
  await waitFor('InternalErrors while Kafka is down', () => chargers.every((c) => c.errors.length >= 3), 60000);
  log('starting the broker again');
  await startBroker(broker, log);
  // The same gateway, not restarted, acknowledges again.
  await waitFor('acknowledgements after the outage', () => chargers.every((c, i) => c.acked.length >= ackedAtStop[i]! + 20), 120000, 200);
  for (const c of chargers) c.running = false;
  await Promise.all(chargers.map((c) => c.loop));
  for (const c of chargers) await c.client.close();
  await gw.stop();
  gw = undefined;

  for (const c of chargers) {
    expect(c.errors.length).toBeGreaterThan(0);
    expect([...new Set(c.errors)]).toEqual(['InternalError']);
    const frames = (await readFrom<Json>(ctx.kafka, Topics.ocppFrames, new Map([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0]]), (k) => k === c.id, (r) => r.some((f: Json) => f.kind === 'DISCONNECTED'), 60000)).sort(
      (a: Json, b: Json) => Number(a.seq) - Number(b.seq),
    );
    // One record per seq (nothing twice) and an unbroken chain over the outage.
    expect(new Set(frames.map((f: Json) => Number(f.seq))).size).toBe(frames.length);
    checkChain(frames);
    const written = frames
      .filter((f: Json) => f.kind === 'CALL' && f.action === 'MeterValues')
      .map((f: Json) => Number(JSON.parse(f.payloadJson).meterValue[0].sampledValue[0].value));
    expect(new Set(written).size).toBe(written.length);
    const missing = c.acked.filter((k) => !written.includes(k));
    expect(missing).toEqual([]);
    // Every acknowledged CALL has its CALLRESULT right after it in the log.
    const results = new Set(frames.filter((f: Json) => f.kind === 'CALLRESULT').map((f: Json) => f.uniqueId));
    const calls = frames.filter((f: Json) => f.kind === 'CALL');
    expect(calls.filter((f: Json) => c.acked.includes(Number(JSON.parse(f.payloadJson).meterValue[0].sampledValue[0].value))).every((f: Json) => results.has(f.uniqueId))).toBe(true);
    log(`${c.id}: ${c.acked.length} acknowledged, ${c.errors.length} InternalErrors, ${frames.length} records`);
  }
});
