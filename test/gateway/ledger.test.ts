/** The commands ledger and the instance leases against real PostgreSQL: a command is admitted once, decided once,
 *  taken over only from instances whose lease ran out; an instance cut off from PostgreSQL claims nothing new but keeps
 *  writing the chains it holds (outage) until it stalls (instance-lease.ts). */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { createPool } from '../../services/common/db';
import { createLogger } from '../../services/common/log';
import { createCommandLedger, CommandResult } from '../../services/ocpp-gateway/command-ledger';
import { Command } from '../../services/ocpp-gateway/connection';
import { createInstanceLease } from '../../services/ocpp-gateway/instance-lease';
import { createGatewayStore, isLockTimeout } from '../../services/ocpp-gateway/store';
import { dropSchema, gatewayContext, pgSchemaName, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_ledger');
const log = createLogger('ledger-test', 'error');

beforeAll(async () => {
  await createGatewayStore(ctx.pool, schema);
});

afterAll(async () => {
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

const command = (): Command => ({ commandId: randomUUID(), chargePointId: 'cp-ledger', action: 'Reset', payloadJson: '{"type":"Soft"}', issuedBy: 'test', issuedAt: Date.now(), expiresAt: null, planId: null });
const result = (c: Command, outcome: string, gatewayId: string): CommandResult => ({
  commandId: c.commandId, chargePointId: c.chargePointId, action: c.action, outcome, status: null, responseJson: null, detail: null, gatewayId, completedAt: Date.now(),
});

test('admitted once, decided once, published; a forward moves a pending command and cannot revive a decided one', async () => {
  const ledger = createCommandLedger(ctx.pool, schema);
  const c = command();
  expect(await ledger.admit(c, 'gw-1/a', Date.now())).toBe(true);
  // Read again after a crash before the offset commit: left to its owner.
  expect(await ledger.admit(c, 'gw-2/b', Date.now())).toBe(false);
  expect(await ledger.own(c, 'gw-2/b', Date.now())).toBe(true);
  // Two instances decide (the old owner came back): only the first outcome counts.
  const decisions = await Promise.all([ledger.decide(result(c, 'ACCEPTED', 'gw-2')), ledger.decide(result(c, 'OFFLINE', 'gw-1'))]);
  expect(decisions.filter(Boolean)).toHaveLength(1);
  expect(await ledger.state(c.commandId)).toBe('decided');
  expect(await ledger.own(c, 'gw-3/c', Date.now())).toBe(false);
  await ledger.published(c.commandId);
  expect(await ledger.state(c.commandId)).toBe('published');
  expect(await ledger.takeOver(['gw-2/b'], 'gw-3/c')).toEqual([]);
});

test('takeover moves open entries of dead instances only, with their decided results unchanged', async () => {
  const ledger = createCommandLedger(ctx.pool, schema);
  const pending = command();
  const decided = command();
  const alive = command();
  await ledger.admit(pending, 'dead/1', 1234);
  await ledger.admit(decided, 'dead/1', 1234);
  const stored = result(decided, 'REJECTED', 'dead');
  await ledger.decide(stored);
  await ledger.admit(alive, 'alive/2', 1234);
  const taken = await ledger.takeOver(['dead/1'], 'survivor/3');
  expect(taken).toHaveLength(2);
  expect(taken).toEqual(expect.arrayContaining([{ state: 'pending', command: pending, deadline: 1234 }, { state: 'decided', command: decided, result: stored }]));
  expect(await ledger.takeOver(['dead/1'], 'survivor/3')).toEqual([]);
  // The survivor republishes the decided one (decided long enough ago).
  await waitFor('the decision to age', async () => (await ledger.unpublished('survivor/3', 100)).length === 1);
  expect(await ledger.unpublished('survivor/3', 100)).toEqual([stored]);
});

test('a first renewal that PostgreSQL does not answer in time is tried again: the instance starts once it answers; an SQL error fails the start at once', async () => {
  let refused = 0;
  // The first two attempts' answers come too late (the embedded database held by a dashboard seed): the first one's
  // INSERT is done all the same, so the next attempt finds its row.
  const slowFirst = {
    query: async (...args: Parameters<Pool['query']>) => {
      if (refused++ === 0) await ctx.pool.query(...args);
      if (refused <= 2) throw new Error('Query read timeout');
      return ctx.pool.query(...args);
    },
  } as unknown as Pool;
  const a = createInstanceLease({ pool: slowFirst, lookups: ctx.pool, schema, gatewayId: 'gw-slow-start', ttlMs: 2000, outageMs: 10_000, log, onRegained: async () => undefined });
  await a.start('http://127.0.0.1:3');
  expect(refused).toBeGreaterThanOrEqual(3);
  expect([a.state(), a.holds()]).toEqual(['valid', true]);
  expect(await a.expired(a.instanceId)).toBe(false);
  await a.release();

  const wrongSchema = createInstanceLease({ pool: ctx.pool, schema: 'no_such_schema', gatewayId: 'gw-bad', ttlMs: 2000, outageMs: 10_000, log, onRegained: async () => undefined });
  await expect(wrongSchema.start('http://127.0.0.1:4')).rejects.toMatchObject({ code: '42P01' });
});

test('an instance cut off from PostgreSQL keeps what it holds (outage) but claims nothing, and stops when it stalled', async () => {
  // Its own pool, ended to cut it off from PostgreSQL.
  const cutOff = createPool({ url: ctx.config.databaseUrl!, embedded: false, max: 2 });
  const ttlMs = 2000;
  const outageMs = 60_000;
  const a = createInstanceLease({ pool: cutOff, schema, gatewayId: 'gw-cut', ttlMs, outageMs, log, onRegained: async () => undefined });
  const b = createInstanceLease({ pool: ctx.pool, schema, gatewayId: 'gw-watch', ttlMs, outageMs, log, onRegained: async () => undefined });
  await a.start('http://127.0.0.1:1');
  await b.start('http://127.0.0.1:2');
  expect([a.state(), a.holds(), a.reachable()]).toEqual(['valid', true, true]);
  expect(await b.expired(a.instanceId)).toBe(false);
  await cutOff.end();
  // It notices within a renewal or two, long before its lease runs out: no new claims from then on.
  await waitFor('the cut-off instance to stop claiming', () => !a.reachable(), 2_000, 20);
  expect(a.holds()).toBe(true);
  await waitFor('the others to see it expired', () => b.expired(a.instanceId), 10_000, 50);
  // Every renewal since it was valid failed for lack of PostgreSQL: it serves on what it holds (outage).
  expect([a.state(), a.holds(), a.reachable(), a.reachableForMs()]).toEqual(['outage', true, false, 0]);
  // So an instance that can't reach it waits OCPP_LEASE_OUTAGE_MS longer before it takes a charger from it.
  expect(await b.expired(a.instanceId, outageMs)).toBe(false);
  // A stall (no renewal attempt for longer than 80 % of the ttl): another instance may have taken a charger from it
  // meanwhile without its noticing, so it stops writing until a renewal succeeds and its holdings are checked.
  const stallUntil = performance.now() + ttlMs;
  while (performance.now() < stallUntil) {
    // the event loop stands still
  }
  expect([a.state(), a.holds()]).toEqual(['lapsed', false]);
  expect(await b.expiredInstances()).toContain(a.instanceId);
  // Owning no open command, it can be forgotten; a forgotten instance counts as expired.
  await b.prune(0);
  expect(await b.expiredInstances()).not.toContain(a.instanceId);
  expect(await b.expired(a.instanceId)).toBe(true);
  a.stop();
  await b.release();
  expect(await b.expired(b.instanceId)).toBe(true);
});

test('an instance cut off from PostgreSQL stops serving before the others count it out, lease and outage allowance both', async () => {
  const cutOff = createPool({ url: ctx.config.databaseUrl!, embedded: false, max: 2 });
  const ttlMs = 2000;
  const outageMs = 1500;
  const a = createInstanceLease({ pool: cutOff, schema, gatewayId: 'gw-cut-short', ttlMs, outageMs, log, onRegained: async () => undefined });
  const b = createInstanceLease({ pool: ctx.pool, schema, gatewayId: 'gw-watch-short', ttlMs, outageMs, log, onRegained: async () => undefined });
  await a.start('http://127.0.0.1:1');
  await b.start('http://127.0.0.1:2');
  await cutOff.end();
  let seenOutOfTimeWhileHeld = false;
  await waitFor('the cut-off instance to stop holding', async () => {
    const held = a.holds();
    if (held && (await b.expired(a.instanceId, outageMs))) seenOutOfTimeWhileHeld = true;
    return !held;
  }, 15_000, 20);
  expect(seenOutOfTimeWhileHeld).toBe(false);
  expect(a.state()).toBe('lapsed');
  expect(await b.expired(a.instanceId, outageMs)).toBe(false);
  await waitFor('the others to count it out', () => b.expired(a.instanceId, outageMs), 10_000, 50);
  a.stop();
  await b.release();
});

test('claims in one batch are the claims one by one would be: epochs, previous holders, stored heads, in the order asked', async () => {
  const store = await createGatewayStore(ctx.pool, schema);
  const [fresh, held, released] = ['cp-batch-c', 'cp-batch-a', 'cp-batch-b'].map((id) => `${id}-${randomUUID().slice(0, 8)}`) as [string, string, string];
  await store.claim(held, 'gw-old', 'inst-old', 'http://old', 7);
  const before = await store.claim(released, 'gw-old', 'inst-old', 'http://old', 3);
  await store.saveHeads(new Map([[released, { seq: 4, hash: 'h4', partition: 1, offset: 40 }]]));
  await store.release(released, before.epoch, async () => ({ seq: 5, hash: 'h5', partition: 1, offset: 41 }));

  const claims = await store.claimMany(
    [fresh, held, released].map((chargePointId) => ({ chargePointId, scanFrom: 50 })),
    'gw-new',
    'inst-new',
    'http://new',
    { lockWaitMs: 5000, statementMs: 15000 },
  );

  expect(claims.map((c) => c.epoch)).toEqual([1, 2, before.epoch + 1]);
  expect(claims[0]).toEqual({ epoch: 1, previous: undefined, head: undefined, scanFrom: undefined });
  // Held and never released: unclean, so the new holder scans from the previous holder's lower bound.
  expect(claims[1]!.previous).toMatchObject({ gatewayId: 'gw-old', instanceId: 'inst-old', connected: true, scanFrom: 7 });
  expect(claims[1]!.scanFrom).toBe(7);
  // Released cleanly: its final head is authoritative, nothing to scan.
  expect(claims[2]).toMatchObject({ head: { seq: 5, hash: 'h5', partition: 1, offset: 41 }, scanFrom: undefined });
  expect((await store.owner(held))!).toMatchObject({ gatewayId: 'gw-new', instanceId: 'inst-new', epoch: 2, connected: true });
});

test('a batch of claims gives way at once when another session holds one of its rows, and claims none of them', async () => {
  const store = await createGatewayStore(ctx.pool, schema);
  const [busy, free] = ['cp-busy', 'cp-free'].map((id) => `${id}-${randomUUID().slice(0, 8)}`) as [string, string];
  await store.claim(busy, 'gw-old', 'inst-old', 'http://old', 0);
  const holder = createPool({ url: ctx.config.databaseUrl!, embedded: false, max: 1 });
  const client = await holder.connect();
  try {
    // A release in progress: the charger's row locked while its last frame is written.
    await client.query('BEGIN');
    await client.query(`SELECT 1 FROM "${schema}".connections WHERE charge_point_id = $1 FOR UPDATE`, [busy]);
    const t0 = Date.now();
    const batch = store.claimMany([free, busy].map((chargePointId) => ({ chargePointId, scanFrom: 0 })), 'gw-new', 'inst-new', 'http://new', { lockWaitMs: 300, statementMs: 15000 });
    const failure = await batch.then(() => undefined, (e: unknown) => e);
    expect(isLockTimeout(failure)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await store.owner(free)).toBeUndefined();
  } finally {
    await client.query('ROLLBACK');
    client.release();
    await holder.end();
  }
  expect((await store.claim(busy, 'gw-new', 'inst-new', 'http://new', 0)).epoch).toBe(2);
});
