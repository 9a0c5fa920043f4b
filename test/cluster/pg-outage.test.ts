/** PostgreSQL stopped for 30 s under OCPP load (issue 15). Two gateway processes share Kafka (the shared broker) and a
 *  PostgreSQL of this test's own (a private embedded TimescaleDB, never the shared one), each with ocpp-rpc chargers
 *  sending MeterValues in a loop. PostgreSQL is frozen with SIGSTOP for 30 s (a hung server: connections stay open,
 *  nothing answers), then SIGCONT; with PG_OUTAGE=restart it is stopped cleanly instead (SIGTERM: connections closed,
 *  new ones refused) and started again on the same port and data 30 s later. Commands for connected chargers are sent
 *  before, during and after.
 *
 *  Asserted: the chargers are served throughout (the lease is in outage, not lapsed: CALLs acknowledged after Kafka's
 *  durable write while PostgreSQL is down, long after the 10 s lease ran out); every acknowledged frame is in
 *  ocpp.frames exactly once, in one unbroken chain per charger; a new handshake during the outage is refused (no claim
 *  without PostgreSQL) and succeeds once it is back; every command reaches its charger and has exactly one outcome,
 *  ACCEPTED, never OFFLINE; afterwards both leases run, every charger's row names the instance that holds it, and the
 *  ledger has every command published. */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Topics } from '../../schemas/topics';
import { uniq } from '../support/stack';
import { configureFleet, ensureContractTopics, gatewayContext, Json, ocppClient, OcppClient, readFrom, topicEnds, waitFor } from '../gateway/support';
import { acked, checkFramesExactlyOnce, failed, GatewayProcess, LoadCharger, PrivateDatabase, startChargerAt, startGatewayProcess, startPrivateDatabase, stopChargers } from './support';

jest.setTimeout(240_000);

const log = (s: string) => process.stderr.write(`[pg outage] ${s}\n`);
const ctx = gatewayContext();
const prefix = uniq('pgout');
const OUTAGE_MS = 30_000;
const MODE: 'freeze' | 'restart' = process.env.PG_OUTAGE === 'restart' ? 'restart' : 'freeze';
const LEASE_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly profileId: number;
  readonly phase: 'before' | 'during' | 'after';
  readonly sentAt: number;
}
interface Result {
  commandId: string;
  chargePointId: string;
  outcome: string;
  completedAt: number;
}

let db: PrivateDatabase | undefined;
const gateways: GatewayProcess[] = [];

afterAll(async () => {
  for (const g of gateways) await g.stop(5000).catch(() => undefined);
  await db?.stop();
  await ctx.pool.end();
});

test(`PostgreSQL ${MODE === 'freeze' ? 'frozen' : 'stopped'} for 30 s: connected chargers are served, no acknowledged frame lost, commands delivered (never OFFLINE), everything resumes`, async () => {
  await ensureContractTopics(ctx.kafka);
  const onA = [0, 1, 2].map((i) => `${prefix}-a${i}`);
  const onB = [0, 1, 2].map((i) => `${prefix}-b${i}`);
  const late = `${prefix}-late`;
  const starter = `${prefix}-start`;
  await configureFleet(ctx.kafka, ctx.serde, [...onA, ...onB, late, starter].map((id) => ({ id, password: `pw-${id}` })));
  const framesFrom = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const resultsFrom = await topicEnds(ctx.kafka, Topics.ocppCommandResults);

  db = await startPrivateDatabase(log);
  const schema = 'gw_pg_outage';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    DATABASE_URL: db.url,
    GW_SCHEMA: schema,
    GW_COMMANDS_GROUP: uniq('gw-pg-outage-commands'),
    GW_CHARGER_PREFIX: prefix,
    GW_LEASE_MS: String(LEASE_MS),
    OCPP_INTERNAL_TOKEN: randomUUID(),
  };
  // One after the other: both migrate the same schema.
  const a = await startGatewayProcess('gw-A', env, log);
  gateways.push(a);
  const b = await startGatewayProcess('gw-B', env, log);
  gateways.push(b);
  const holder = new Map<string, GatewayProcess>([...onA.map((id) => [id, a] as const), ...onB.map((id) => [id, b] as const), [starter, a]]);

  // Commands: ClearChargingProfile, answered Accepted; which profile ids each charger received, and when.
  const received = new Map<string, { profileId: number; at: number }[]>([...onA, ...onB, late].map((id) => [id, []]));
  const answerCommands = (id: string, client: OcppClient) =>
    client.handle('ClearChargingProfile', ({ params }) => {
      received.get(id)!.push({ profileId: Number(params.id ?? params.chargingProfileId), at: Date.now() });
      return { status: 'Accepted' };
    });
  const chargers: LoadCharger[] = [];
  for (const [i, id] of [...onA, ...onB].entries()) {
    const c = await startChargerAt(holder.get(id)!.url, id, i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1');
    answerCommands(id, c.client);
    chargers.push(c);
  }
  const protocolOf = (id: string) => chargers.find((c) => c.id === id)?.protocol ?? 'ocpp1.6';

  const producer = ctx.kafka.producer();
  await producer.connect();
  const sent: Sent[] = [];
  let nextProfile = 1;
  const send = async (chargePointId: string, phase: Sent['phase']) => {
    const commandId = randomUUID();
    const profileId = nextProfile++;
    const payload = protocolOf(chargePointId) === 'ocpp1.6' ? { id: profileId } : { chargingProfileId: profileId };
    const value = await ctx.serde.encode(Topics.ocppCommands, {
      commandId, chargePointId, action: 'ClearChargingProfile', payloadJson: JSON.stringify(payload), issuedBy: 'pg-outage-test', issuedAt: Date.now(), expiresAt: null, planId: null,
    });
    await producer.send({ topic: Topics.ocppCommands, acks: -1, messages: [{ key: chargePointId, value }] });
    sent.push({ commandId, chargePointId, profileId, phase, sentAt: Date.now() });
  };
  // Outcomes as they arrive, read until every command sent has one (the last command sent closes the reading).
  const arrived = new Map<string, number>();
  let allSent = false;
  const results = readFrom<Result>(ctx.kafka, Topics.ocppCommandResults, resultsFrom, (k) => k.startsWith(prefix), (rs) => {
    for (const r of rs) if (!arrived.has(r.commandId)) arrived.set(r.commandId, Date.now());
    return allSent && sent.every((s) => arrived.has(s.commandId));
  }, 200_000);
  const outcomesIn = async (phase: Sent['phase'], timeoutMs: number) =>
    waitFor(`outcomes of the commands sent ${phase}`, () => sent.filter((s) => s.phase === phase).every((s) => arrived.has(s.commandId)), timeoutMs, 100);

  let lateClient: OcppClient | undefined;
  // A 1.6 charger that starts transactions while PostgreSQL is down: its transactionIds come from the block its gateway
  // reserved ahead (services/ocpp-gateway/transaction-ids.ts).
  const starterClient = ocppClient({ endpoint: a.url, identity: starter, password: `pw-${starter}`, protocols: ['ocpp1.6'] });
  await starterClient.connect();
  await starterClient.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
  try {
    await waitFor('steady load', () => chargers.every((c) => acked(c).length >= 20), 60_000, 100);
    for (const c of chargers) await send(c.id, 'before');
    await outcomesIn('before', 30_000);
    log(`load steady; commands before the outage answered in ${Math.max(...sent.map((s) => arrived.get(s.commandId)! - s.sentAt))} ms at most`);

    // The outage.
    const downAt = Date.now();
    if (MODE === 'freeze') db.pause();
    else await db.shutDown();
    log(MODE === 'freeze' ? `PostgreSQL frozen (SIGSTOP pid ${db.pid()})` : `PostgreSQL stopped (SIGTERM pid ${db.pid()}) in ${Date.now() - downAt} ms`);
    const during = (async () => {
      for (const at of [3_000, 12_000, 22_000]) {
        await sleep(downAt + at - Date.now());
        for (const c of chargers) await send(c.id, 'during');
      }
    })();
    // A new charger while PostgreSQL is down: its handshake can't be claimed, so it is refused.
    await sleep(downAt + 15_000 - Date.now());
    const refusedAt = Date.now();
    const probe = ocppClient({ endpoint: a.url, identity: late, password: `pw-${late}`, protocols: ['ocpp1.6'] });
    const duringHandshake = await Promise.race([
      probe.connect().then(
        () => 'connected',
        (e: Error) => `refused: ${e.message}`,
      ),
      sleep(10_000).then(() => 'no answer within 10 s'),
    ]);
    await probe.close({ force: true }).catch(() => undefined);
    log(`new handshake during the outage: ${duringHandshake} (${Date.now() - refusedAt} ms)`);
    const startedDuring = await Promise.all(
      [1, 2].map((connectorId) =>
        starterClient.call('StartTransaction', { connectorId, idTag: 'FLEET', meterStart: 0, timestamp: new Date().toISOString() }).then(
          (r: Json) => r.transactionId as unknown,
          (e: Error) => `failed: ${e.message}`,
        ),
      ),
    );
    log(`1.6 StartTransaction during the outage: transactionIds ${startedDuring.join(', ')}`);
    await during;
    await sleep(downAt + OUTAGE_MS - Date.now());
    if (MODE === 'freeze') db.resume();
    else await db.startAgain();
    const upAt = Date.now();
    log(`PostgreSQL back after ${upAt - downAt} ms`);
    const inOutage = (c: LoadCharger) => acked(c).filter((r) => r.sentAt >= downAt && r.answeredAt <= upAt);
    const afterLease = (c: LoadCharger) => acked(c).filter((r) => r.sentAt >= downAt + LEASE_MS && r.answeredAt <= upAt);
    const errorsInOutage = chargers.flatMap((c) => failed(c)).filter((r) => r.answeredAt >= downAt);
    log(
      `frames during the outage: ${chargers.map((c) => inOutage(c).length).join('/')} CALLs acknowledged (of them after the lease's ${LEASE_MS} ms: ${chargers.map((c) => afterLease(c).length).join('/')}); ` +
        `errors: ${errorsInOutage.length} (${[...new Set(errorsInOutage.map((e) => e.error))].join(', ') || 'none'}${errorsInOutage.length ? `, from ${Math.min(...errorsInOutage.map((e) => e.answeredAt)) - downAt} ms` : ''})`,
    );

    // A new handshake succeeds again once PostgreSQL is back.
    let handshakeBackMs = NaN;
    for (;;) {
      const c = ocppClient({ endpoint: a.url, identity: late, password: `pw-${late}`, protocols: ['ocpp1.6'] });
      answerCommands(late, c);
      const ok = await c.connect().then(
        () => true,
        () => false,
      );
      if (ok) {
        lateClient = c;
        handshakeBackMs = Date.now() - upAt;
        break;
      }
      if (Date.now() - upAt > 60_000) throw new Error('no handshake accepted within 60 s of PostgreSQL coming back');
      await sleep(250);
    }
    await lateClient.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    log(`new handshake accepted ${handshakeBackMs} ms after PostgreSQL came back`);

    await outcomesIn('during', 90_000);
    for (const id of [...onA, ...onB, late]) await send(id, 'after');
    allSent = true;
    await outcomesIn('after', 30_000);
    const tail = chargers.map((c) => acked(c).length);
    await waitFor('10 more acknowledgements per charger', () => chargers.every((c, i) => acked(c).length >= tail[i]! + 10), 30_000, 100);

    const duringCmds = sent.filter((s) => s.phase === 'during');
    const deliveredAt = (s: Sent) => received.get(s.chargePointId)!.find((r) => r.profileId === s.profileId)?.at ?? NaN;
    log(
      `commands during the outage: ${duringCmds.length}; delivered to the charger ${Math.round(Math.min(...duringCmds.map((s) => deliveredAt(s) - upAt)))}..${Math.round(Math.max(...duringCmds.map((s) => deliveredAt(s) - upAt)))} ms after PostgreSQL came back; ` +
        `outcome recorded ${Math.min(...duringCmds.map((s) => arrived.get(s.commandId)! - upAt))}..${Math.max(...duringCmds.map((s) => arrived.get(s.commandId)! - upAt))} ms after`,
    );

    // Served throughout: acknowledged after Kafka's write while PostgreSQL was down, beyond the lease.
    for (const c of chargers) expect({ id: c.id, afterLease: afterLease(c).length > 5 }).toEqual({ id: c.id, afterLease: true });
    expect(duringHandshake).toMatch(/^refused/);
    expect(startedDuring.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(startedDuring).size).toBe(2);
    expect(handshakeBackMs).toBeLessThan(30_000);

    // The leases and claims, with PostgreSQL back: both instances alive, each charger held by its instance.
    const check = new Pool({ connectionString: db.url, max: 1 });
    try {
      const leases = await check.query<{ instance_id: string; alive: boolean }>(`SELECT instance_id, lease_until > now() AS alive FROM ${schema}.gateway_instances`);
      expect(leases.rows.filter((r) => r.alive).map((r) => r.instance_id).sort()).toEqual([a.instanceId, b.instanceId].sort());
      const rows = await check.query<{ charge_point_id: string; instance_id: string; connected: boolean }>(`SELECT charge_point_id, instance_id, connected FROM ${schema}.connections WHERE charge_point_id LIKE $1`, [`${prefix}%`]);
      const expected = [...onA, ...onB, late, starter].map((id) => ({ charge_point_id: id, instance_id: (holder.get(id) ?? a).instanceId, connected: true }));
      expect(rows.rows.sort((x, y) => x.charge_point_id.localeCompare(y.charge_point_id))).toEqual(expected.sort((x, y) => x.charge_point_id.localeCompare(y.charge_point_id)));
      await waitFor('every command published in the ledger', async () => {
        const r = await check.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.command_ledger WHERE state = 'published' AND command_id = ANY($1::text[])`, [sent.map((s) => s.commandId)]);
        return Number(r.rows[0]!.n) === sent.length;
      }, 15_000, 200);
    } finally {
      await check.end();
    }
  } finally {
    allSent = true;
    await stopChargers(chargers).catch(() => undefined);
    await lateClient?.close().catch(() => undefined);
    await starterClient.close().catch(() => undefined);
    await producer.disconnect();
  }
  for (const g of gateways) await g.stop();

  // Every command: exactly one outcome, ACCEPTED, and the charger got it.
  const all = await results;
  const outcomes = new Map<string, string[]>();
  for (const r of all) outcomes.set(r.commandId, [...(outcomes.get(r.commandId) ?? []), r.outcome]);
  for (const s of sent) {
    expect({ ...s, outcomes: [...new Set(outcomes.get(s.commandId) ?? [])] }).toEqual({ ...s, outcomes: ['ACCEPTED'] });
    expect(received.get(s.chargePointId)!.map((r) => r.profileId)).toContain(s.profileId);
  }
  log(`commands: ${sent.length} sent (${sent.filter((s) => s.phase === 'during').length} during the outage), outcomes ${[...new Set(all.map((r) => r.outcome))].join(', ')}; deliveries of the same command more than once: ${sent.filter((s) => received.get(s.chargePointId)!.filter((r) => r.profileId === s.profileId).length > 1).length}`);

  // Every acknowledged frame exactly once, one chain per charger, ended by the clean stop's DISCONNECTED.
  const ids = [...onA, ...onB];
  const frames = await readFrom<Json>(ctx.kafka, Topics.ocppFrames, framesFrom, (k) => k.startsWith(prefix), (r) => ids.every((id) => r.some((f: Json) => f.chargePointId === id && f.kind === 'DISCONNECTED')), 60_000);
  for (const c of chargers) {
    const mine = frames.filter((f: Json) => f.chargePointId === c.id);
    const n = checkFramesExactlyOnce(c, mine);
    expect(mine.sort((x: Json, y: Json) => Number(x.seq) - Number(y.seq))[n - 1].kind).toBe('DISCONNECTED');
    log(`${c.id}: ${acked(c).length} acknowledged, ${failed(c).length} errors, ${n} records`);
  }
});
