/** One session per charger across gateway instances: the same charger connecting to instance B while instance A still
 *  holds a live session of it makes A close that session and stop writing the charger's chain; B continues the chain
 *  from A's last record. The old charger keeps sending while B takes over: whatever A could not write any more is
 *  refused, never appended, so ocpp.frames holds one chain (seq 1..n, each prevHash the hash before), verified as
 *  `voltstream verify` does. Before, both sessions ran at once and the chain forked. */
import * as net from 'node:net';
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { createGateway } from '../../services/ocpp-gateway/gateway';
import { createPool } from '../../services/common/db';
import { uniq } from '../support/stack';
import { checkChain, configureFleet, dropSchema, ensureContractTopics, FrameRec, gatewayContext, ocppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_owner');

afterAll(async () => {
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

test('a second connection on another instance closes the first; the chain goes on from its last record, unforked', async () => {
  const cp = uniq('owner');
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  const from = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const opts = (name: string) => ({ gatewayId: uniq(name), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry(), leaseTtlMs: 3000 });
  const a = await createGateway(ctx, opts('gw-first'));
  const b = await createGateway(ctx, opts('gw-second'));
  try {
    const old = ocppClient({ endpoint: a.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await old.connect();
    await old.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' });
    const oldClosed = new Promise<number>((r) => old.on('close', ({ code }: { code: number }) => r(code)));
    // The old session keeps writing while the new one takes over.
    let closed = false;
    void oldClosed.then(() => (closed = true));
    let answered = 0;
    let refused = 0;
    const chatter = (async () => {
      while (!closed) {
        await old.call('Heartbeat', {}, { callTimeoutMs: 3000 }).then(
          () => answered++,
          () => refused++,
        );
      }
    })();

    const next = ocppClient({ endpoint: b.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await next.connect();
    expect(await oldClosed).toBe(1000);
    await chatter;
    await next.call('Heartbeat', {});
    await next.close();
    await waitFor('B to release the charger', () => b.connectedCount() === 0);
    expect(a.connectedCount()).toBe(0);

    const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, from, (k) => k === cp, (r) => r.some((f) => f.kind === 'DISCONNECTED'))).sort((x, y) => Number(x.seq) - Number(y.seq));
    checkChain(frames);
    const who = (f: FrameRec) => (f.gatewayId === a.gatewayId ? 'A' : 'B');
    const firstOfB = frames.findIndex((f) => who(f) === 'B');
    // Nothing of A after B's CONNECTED, and A's session wrote no DISCONNECTED (its release was fenced by the epoch).
    expect(frames.slice(firstOfB).map((f) => `${who(f)} ${f.kind}`)).toEqual(['B CONNECTED', 'B CALL', 'B CALLRESULT', 'B DISCONNECTED']);
    expect(frames.slice(0, firstOfB).every((f) => who(f) === 'A' && f.kind !== 'DISCONNECTED')).toBe(true);
    // Every Heartbeat A answered is in the chain (answers leave only after the write).
    expect(frames.filter((f) => who(f) === 'A' && f.kind === 'CALL' && f.action === 'Heartbeat')).toHaveLength(answered);
    process.stderr.write(`[single owner] old session: ${answered} Heartbeats answered, ${refused} refused or unanswered while B took over\n`);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('A → B → A: each move closes the session before it and continues the one chain', async () => {
  const cp = uniq('owner-back');
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  const from = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const opts = (name: string) => ({ gatewayId: uniq(name), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry(), leaseTtlMs: 3000 });
  const a = await createGateway(ctx, opts('gw-a'));
  const b = await createGateway(ctx, opts('gw-b'));
  try {
    // A → B → A: each move closes the previous session and continues the same chain.
    for (const gw of [a, b, a]) {
      const c = ocppClient({ endpoint: gw.url, identity: cp, password: 'pw', protocols: ['ocpp2.0.1'] });
      await c.connect();
      await c.call('Heartbeat', {});
      // Left open on purpose: the next instance must close it.
      c.on('close', () => undefined);
    }
    await waitFor('one session left', () => a.connectedCount() + b.connectedCount() === 1);
  } finally {
    await a.stop();
    await b.stop();
  }
  const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, from, (k) => k === cp, (r) => r.some((f) => f.kind === 'DISCONNECTED'))).sort((x, y) => Number(x.seq) - Number(y.seq));
  checkChain(frames);
  expect(frames.map((f) => `${f.gatewayId === a.gatewayId ? 'A' : 'B'} ${f.kind}`)).toEqual(['A CONNECTED', 'A CALL', 'A CALLRESULT', 'B CONNECTED', 'B CALL', 'B CALLRESULT', 'A CONNECTED', 'A CALL', 'A CALLRESULT', 'A DISCONNECTED']);
});

test('an instance that can be neither asked nor reach PostgreSQL stops writing before its charger is taken over: its frames are refused, not appended', async () => {
  const cp = uniq('owner-cut');
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  const from = await topicEnds(ctx.kafka, Topics.ocppFrames);
  // A: its own pools (ended below to cut it off from PostgreSQL) and an internal URL that takes connections and never
  // answers (a black hole, as a cut-off host is: a refused connection would say A is gone).
  const sockets = new Set<net.Socket>();
  const blackHole = net.createServer((sock) => void sockets.add(sock));
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  const cutPool = createPool({ url: ctx.config.databaseUrl!, embedded: false, max: 4 });
  const cutLeasePool = createPool({ url: ctx.config.databaseUrl!, embedded: false, max: 1 });
  // Cut off from PostgreSQL, A serves on for up to leaseOutageMs after its lease ran out; B waits out both.
  const lease = { leaseTtlMs: 3000, leaseOutageMs: 2000 };
  const a = await createGateway(gatewayContext({}, cutPool), { gatewayId: uniq('gw-cut'), port: 0, settings: { dbSchema: schema, internalUrl: `http://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}` }, consumeCommands: false, metrics: new Registry(), ...lease, leasePool: cutLeasePool });
  const b = await createGateway(ctx, { gatewayId: uniq('gw-new'), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry(), ...lease });
  try {
    const old = ocppClient({ endpoint: a.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await old.connect();
    await old.call('Heartbeat', {});
    await Promise.all([cutPool.end(), cutLeasePool.end()]);
    // The old session stays open (A cannot learn it lost the charger) and keeps calling; A serves it through the outage
    // allowance, then refuses.
    let stop = false;
    let answered = 1;
    let refused = 0;
    const chatter = (async () => {
      while (!stop) {
        await old.call('Heartbeat', {}, { callTimeoutMs: 3000 }).then(
          () => answered++,
          () => refused++,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const next = ocppClient({ endpoint: b.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await next.connect();
    await next.call('Heartbeat', {});
    const refusedAtTakeover = refused;
    await waitFor('the old session to be refused after the takeover too', () => refused > refusedAtTakeover + 2);
    stop = true;
    await chatter;
    await next.close();
    await waitFor('B to release the charger', () => b.connectedCount() === 0);
    await old.close({ force: true }).catch(() => undefined);
    const frames = (await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, from, (k) => k === cp, (r) => r.some((f) => f.kind === 'DISCONNECTED'))).sort((x, y) => Number(x.seq) - Number(y.seq));
    checkChain(frames);
    const who = (f: FrameRec) => (f.gatewayId === a.gatewayId ? 'A' : 'B');
    const firstOfB = frames.findIndex((f) => who(f) === 'B');
    expect(frames.slice(firstOfB).map((f) => `${who(f)} ${f.kind}`)).toEqual(['B CONNECTED', 'B CALL', 'B CALLRESULT', 'B DISCONNECTED']);
    expect(frames.filter((f) => who(f) === 'A' && f.kind === 'CALL')).toHaveLength(answered);
    process.stderr.write(`[single owner] cut-off instance: ${answered} Heartbeats answered before its lease and outage allowance ran out, ${refused} refused\n`);
  } finally {
    await a.kill();
    await b.stop();
    for (const sock of sockets) sock.destroy();
    blackHole.close();
  }
});
