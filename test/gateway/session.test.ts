/** A third-party OCPP client (ocpp-rpc's RPCClient in strict mode, which validates every answer against the official
 *  schemas) through a full 1.6J session and a full 2.0.1 transaction; then every frame is read back from ocpp.frames
 *  with a plain registry client, in order, with an unbroken hash chain, also across a gateway restart. */
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { checkChain, configureFleet, FrameRec, dropSchema, ensureContractTopics, gatewayContext, ocppClient, pgSchemaName, readFrom, topicEnds } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_session');
const prefix = uniq('sess');
const cp16 = `${prefix}-16`;
const cp201 = `${prefix}-201`;
const tag = uniq('TAG').slice(0, 20);
let gw: Gateway;
let start: Map<number, number>;

const startGateway = () =>
  createGateway(ctx, { gatewayId: uniq('gw-sess'), port: 0, settings: { dbSchema: schema, heartbeatIntervalS: 120 }, commandsGroupId: uniq('cmds'), acceptsCommandsFor: (id) => id.startsWith(prefix) });

const client = (identity: string, protocol: string) =>
  ocppClient({ endpoint: gw.url, identity, password: 'secret-' + identity, protocols: [protocol] });

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp16, password: 'secret-' + cp16 }, { id: cp201, password: 'secret-' + cp201 }], [{ id: uniq('veh'), idTags: [tag] }]);
  start = await topicEnds(ctx.kafka, Topics.ocppFrames);
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

const now = () => new Date().toISOString();

test('OCPP 1.6J: Boot, Status, Authorize, Start, MeterValues, Stop; frames durable and chained across a restart', async () => {
  const c = client(cp16, 'ocpp1.6');
  await c.connect();
  const boot = await c.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' });
  expect(boot.status).toBe('Accepted');
  expect(boot.interval).toBe(120);
  expect(await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' })).toEqual({});
  expect(await c.call('Heartbeat', {})).toHaveProperty('currentTime');
  expect((await c.call('Authorize', { idTag: tag })).idTagInfo.status).toBe('Accepted');
  expect((await c.call('Authorize', { idTag: 'NOT-A-TAG' })).idTagInfo.status).toBe('Invalid');
  const started = await c.call('StartTransaction', { connectorId: 1, idTag: tag, meterStart: 1000, timestamp: now() });
  expect(Number.isInteger(started.transactionId)).toBe(true);
  expect(started.idTagInfo.status).toBe('Accepted');
  await c.call('MeterValues', {
    connectorId: 1,
    transactionId: started.transactionId,
    meterValue: [{ timestamp: now(), sampledValue: [{ value: '1500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
  });
  const stopped = await c.call('StopTransaction', { transactionId: started.transactionId, meterStop: 5000, timestamp: now(), idTag: tag, reason: 'Local' });
  expect(stopped.idTagInfo.status).toBe('Accepted');
  await c.call('FirmwareStatusNotification', { status: 'Idle' });
  await c.call('DiagnosticsStatusNotification', { status: 'Idle' });
  await c.close();

  // Restart the gateway: the chain and the transaction ids continue.
  await gw.stop();
  gw = await startGateway();
  const c2 = client(cp16, 'ocpp1.6');
  await c2.connect();
  const again = await c2.call('StartTransaction', { connectorId: 1, idTag: tag, meterStart: 5000, timestamp: now() });
  expect(again.transactionId).toBeGreaterThan(started.transactionId);
  await c2.close();

  const expected = 2 /* CONNECTED, DISCONNECTED */ * 2 + 10 * 2 + 1 * 2;
  const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, start, (k) => k === cp16, (r) => r.length >= expected)).sort((a, b) => Number(a.seq) - Number(b.seq));
  expect(frames).toHaveLength(expected);
  checkChain(frames);
  expect(frames.map((f) => `${f.direction} ${f.kind} ${f.action ?? ''}`.trim())).toEqual([
    'IN CONNECTED',
    ...['BootNotification', 'StatusNotification', 'Heartbeat', 'Authorize', 'Authorize', 'StartTransaction', 'MeterValues', 'StopTransaction', 'FirmwareStatusNotification', 'DiagnosticsStatusNotification'].flatMap(
      (a) => [`IN CALL ${a}`, `OUT CALLRESULT ${a}`],
    ),
    'IN DISCONNECTED',
    'IN CONNECTED',
    'IN CALL StartTransaction',
    'OUT CALLRESULT StartTransaction',
    'IN DISCONNECTED',
  ]);
  // Raw text as it crossed the wire, and the answer that reached the charger.
  const startResult = frames.find((f) => f.kind === 'CALLRESULT' && f.action === 'StartTransaction')!;
  expect(JSON.parse(startResult.raw)[2].transactionId).toBe(started.transactionId);
  expect(frames.every((f) => f.protocol === 'ocpp1.6')).toBe(true);
  const call = frames.find((f) => f.kind === 'CALL')!;
  expect(JSON.parse(call.raw)).toEqual([2, call.uniqueId, 'BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' }]);
});

test('OCPP 2.0.1: Boot, Status, Authorize, TransactionEvent Started/Updated/Ended, MeterValues, NotifyEVChargingNeeds', async () => {
  const c = client(cp201, 'ocpp2.0.1');
  await c.connect();
  const boot = await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'X2', vendorName: 'Acme' } });
  expect(boot.status).toBe('Accepted');
  expect(boot.interval).toBe(120);
  await c.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  expect((await c.call('Authorize', { idToken: { idToken: tag, type: 'ISO14443' } })).idTokenInfo.status).toBe('Accepted');
  expect((await c.call('Authorize', { idToken: { idToken: 'NOPE', type: 'ISO14443' } })).idTokenInfo.status).toBe('Invalid');
  const tx = { transactionId: uniq('tx') };
  const ev = (eventType: string, seqNo: number, extra: Record<string, unknown> = {}) =>
    c.call('TransactionEvent', { eventType, timestamp: now(), triggerReason: eventType === 'Started' ? 'Authorized' : 'MeterValuePeriodic', seqNo, transactionInfo: tx, ...extra });
  const startedAns = await ev('Started', 0, { idToken: { idToken: tag, type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } });
  expect(startedAns.idTokenInfo.status).toBe('Accepted');
  await ev('Updated', 1, { meterValue: [{ timestamp: now(), sampledValue: [{ value: 2500, measurand: 'Energy.Active.Import.Register' }] }] });
  await c.call('MeterValues', { evseId: 1, meterValue: [{ timestamp: now(), sampledValue: [{ value: 2600 }] }] });
  expect((await c.call('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_three_phase' } })).status).toBe('Accepted');
  await ev('Ended', 2, { triggerReason: 'EVCommunicationLost', transactionInfo: { ...tx, stoppedReason: 'EVDisconnected' } });
  await c.call('Heartbeat', {});
  await c.close();

  const expected = 2 + 10 * 2;
  const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, start, (k) => k === cp201, (r) => r.length >= expected)).sort((a, b) => Number(a.seq) - Number(b.seq));
  expect(frames).toHaveLength(expected);
  checkChain(frames);
  expect(frames.filter((f) => f.kind === 'CALL').map((f) => f.action)).toEqual([
    'BootNotification',
    'StatusNotification',
    'Authorize',
    'Authorize',
    'TransactionEvent',
    'TransactionEvent',
    'MeterValues',
    'NotifyEVChargingNeeds',
    'TransactionEvent',
    'Heartbeat',
  ]);
  expect(frames.every((f) => f.protocol === 'ocpp2.0.1' && f.gatewayId === gw.gatewayId)).toBe(true);
  const metrics = await gw.metrics.metrics();
  expect(metrics).toMatch(/ocpp_gateway_frames_in_total\{action="TransactionEvent",kind="CALL"\} 3/);
  expect(metrics).toMatch(/ocpp_gateway_frames_out_total\{action="TransactionEvent",kind="CALLRESULT"\} 3/);
  expect(metrics).toMatch(/ocpp_gateway_call_result_seconds_count\{action="BootNotification"\} [1-9]/);
  expect(metrics).toMatch(/ocpp_gateway_kafka_produce_seconds_count [1-9]/);
  expect(metrics).toContain('ocpp_gateway_connected_chargers');
  // Every CALL is followed by its CALLRESULT (same unique id), and the answer was written before it was sent.
  for (let i = 1; i < frames.length - 1; i += 2) {
    expect(frames[i]!.kind).toBe('CALL');
    expect(frames[i + 1]!.kind).toBe('CALLRESULT');
    expect(frames[i + 1]!.uniqueId).toBe(frames[i]!.uniqueId);
  }
});
