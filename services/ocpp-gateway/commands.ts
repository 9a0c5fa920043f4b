/** Commands from ocpp.commands to the one connection that holds the charger; no command is ever silently lost.
 *
 *  Routing: every gateway instance consumes ocpp.commands in ONE consumer group (so each command is read by one
 *  instance, not broadcast). The reader looks the charger up in the `connections` table (store.ts): if it holds the
 *  connection it delivers the command itself; if another instance holds it, it forwards the command to that instance's
 *  internal listener (POST <internal url>/internal/commands, bearer token; internal-listener.ts), which answers 202 only
 *  when it holds a live connection and has taken the command over in the ledger. A 409 or an unreachable instance
 *  means the table was stale: the reader looks again every 250 ms until the deadline.
 *
 *  Deadlines: a command whose expiresAt has passed is EXPIRED. A charger not connected anywhere gets OFFLINE at once
 *  when the command has no expiresAt, and is waited for until expiresAt otherwise. A connection that drops while a
 *  command is queued or outstanding hands it back to routing, which delivers it to wherever the charger reconnects
 *  (within max(expiresAt, 10 s)): delivery is at least once, which the commands of ocpp.commands tolerate
 *  (SetChargingProfile replaces the profile with the same id, Clear/Get are idempotent). A failed lookup of the holder
 *  (PostgreSQL unavailable) is retried every second, never taken for OFFLINE.
 *
 *  Never lost (command-ledger.ts, instance-lease.ts): a command is written to the ledger (PostgreSQL), owned by the
 *  reading instance, BEFORE eachMessage returns, so before its offset can be committed; a PostgreSQL failure there
 *  fails eachMessage and the record is read again. From then on the ledger row is the command: its owner routes it,
 *  a forward moves ownership to the receiver (in the ledger, before the 202), and every instance sweeps the ledger
 *  for entries of instances whose lease ran out (SIGKILL, host lost, graceful stop releases its lease at once) and
 *  routes them itself, with at least RECONNECT_GRACE_MS for the charger to reconnect. An outcome is decided once:
 *  pending → decided is a conditional UPDATE, so of two instances routing the same command (the old owner came back
 *  after its lease ran out) only one outcome counts; the decided record is then published to ocpp.command-results
 *  and marked published. If the publication fails, or the owner dies between decision and publication, the owner's
 *  (or its successor's) sweep publishes the stored record again: the same record, so readers keyed by commandId see
 *  one outcome. A record read twice (crash after the ledger write, before the offset commit) finds its row and is
 *  left to the row's owner. */
import * as E from 'fp-ts/Either';
import { Kafka } from 'kafkajs';
import { Topics } from '../../schemas/topics';
import { TopicSerde } from '../../schemas/registry';
import { Health } from '../common/health';
import { Logger } from '../common/log';
import { consumerDied, Supervisor } from '../common/supervise';
import { ConsumerComponent, superviseConsumer } from '../common/supervised-consumer';
import { checkCommand } from './command-check';
import { CommandLedger, CommandResult } from './command-ledger';
import { ChargerConnection, Command, Delivery, Outcome, Rejection } from './connection';
import { FleetView } from './fleet';
import { FrameLog } from './frame-log';
import { GatewayMetrics } from './metrics';
import { InstanceLease } from './instance-lease';
import { GatewayStore, Owner } from './store';

export const RECONNECT_GRACE_MS = 10000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RouterDeps {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly gatewayId: string;
  readonly store: GatewayStore;
  readonly ledger: CommandLedger;
  readonly lease: InstanceLease;
  readonly frameLog: FrameLog;
  readonly fleet: FleetView;
  readonly metrics: GatewayMetrics;
  readonly groupId: string;
  /** Which chargers this deployment handles commands for (tests share a broker; production: all). */
  readonly accepts: (chargePointId: string) => boolean;
  /** Only chargers with a row in this deployment's `connections` (OCPP_COMMANDS_FOR=known); default false. */
  readonly knownChargersOnly?: boolean;
  /** Bearer token for the internal listener of the other instances. */
  readonly internalToken: string;
  /** The consumer of ocpp.commands reports here (part `ocpp-commands`), and is restarted when it dies. */
  readonly health: Health;
  local(chargePointId: string): ChargerConnection | undefined;
  reject(r: Rejection): void;
}

export interface CommandRouter {
  start(): Promise<void>;
  /** A command forwarded by another instance: accepted (and owned in the ledger) only with a live local connection. */
  acceptForwarded(command: Command, deadline: number): Promise<boolean>;
  /** One pass of the ledger sweep (it also runs every ttl/4, at most every second, once started). */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export const decodeCommand = (r: Record<string, unknown>): Command => ({
  commandId: String(r.commandId),
  chargePointId: String(r.chargePointId),
  action: String(r.action),
  payloadJson: String(r.payloadJson),
  issuedBy: String(r.issuedBy),
  issuedAt: Number(r.issuedAt),
  expiresAt: r.expiresAt === null || r.expiresAt === undefined ? null : Number(r.expiresAt),
  planId: (r.planId as string | null) ?? null,
});

export const createCommandRouter = (d: RouterDeps): CommandRouter => {
  let consuming: Supervisor | undefined;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const p = work.catch((e) => d.log.error('command routing failed', { err: e as Error }));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** Publishes a decided outcome (again, after a failure or a dead owner: the stored record, unchanged). */
  const publish = async (r: CommandResult): Promise<boolean> => {
    try {
      await d.frameLog.produce(Topics.ocppCommandResults, r.chargePointId, r);
      await d.ledger.published(r.commandId);
      return true;
    } catch (e) {
      d.log.warn('command outcome not published yet; the ledger sweep retries', { err: e as Error, commandId: r.commandId, outcome: r.outcome });
      return false;
    }
  };

  const record = async (c: Command, outcome: Outcome, status: string | null, responseJson: string | null, detail: string | null) => {
    const result: CommandResult = { commandId: c.commandId, chargePointId: c.chargePointId, action: c.action, outcome, status, responseJson, detail, gatewayId: d.gatewayId, completedAt: Date.now() };
    // Decided in the ledger first (exactly once); PostgreSQL down: keep trying, the command stays pending meanwhile.
    for (;;) {
      try {
        if (!(await d.ledger.decide(result))) {
          d.log.info('command outcome already decided elsewhere', { commandId: c.commandId, outcome });
          return;
        }
        break;
      } catch (e) {
        if (stopped) return;
        d.log.warn('command outcome not decided yet (ledger unavailable)', { err: e as Error, commandId: c.commandId });
        await sleep(1000);
      }
    }
    d.metrics.commands.inc({ action: c.action, outcome });
    await publish(result);
  };

  /** Takes over the open entries of dead instances, republishes our own stuck publications, prunes old entries. */
  const sweep = async () => {
    // Right after a PostgreSQL outage every lease has run out by its clock; the live instances renew within ttl/5.
    const dead = d.lease.reachableForMs() < d.lease.ttlMs ? [] : (await d.lease.expiredInstances()).filter((i) => i !== d.lease.instanceId);
    const taken = await d.ledger.takeOver(dead, d.lease.instanceId);
    for (const en of taken) {
      if (en.state === 'decided') track(publish(en.result).then(() => undefined));
      else {
        d.log.info('taking over a command of a dead instance', { commandId: en.command.commandId, chargePointId: en.command.chargePointId });
        track(route(en.command, Math.max(en.deadline, Date.now() + RECONNECT_GRACE_MS)));
      }
    }
    for (const r of await d.ledger.unpublished(d.lease.instanceId, 5000)) track(publish(r).then(() => undefined));
    // Now and then (about every 100 sweeps): published entries after a week, dead instances after a day.
    if (Math.random() < 0.01) {
      await d.ledger.prune(7 * 24 * 3600 * 1000);
      await d.lease.prune(24 * 3600 * 1000);
    }
  };
  let sweeper: NodeJS.Timeout | undefined;
  const sweepLoop = () => {
    if (stopped) return;
    sweeper = setTimeout(() => {
      // PostgreSQL unreachable (the last renewal failed): nothing to sweep until it is back.
      if (d.lease.reachableForMs() === 0) return sweepLoop();
      void sweep()
        .catch((e) => d.log.warn('commands ledger sweep failed', { err: e as Error }))
        .finally(sweepLoop);
    }, Math.max(250, Math.min(1000, d.lease.ttlMs / 4)));
  };

  /** Validates and delivers on a local connection; 'disconnected' goes back to routing. */
  const deliverLocal = async (c: Command, conn: ChargerConnection): Promise<Delivery> => {
    const invalid = async (reason: string): Promise<Delivery> => {
      d.reject({ chargePointId: c.chargePointId, protocol: conn.protocol, stage: 'COMMAND', raw: Buffer.from(c.payloadJson), uniqueId: null, action: c.action, errorCode: 'INVALID', reason, receivedAt: Date.now() });
      return { kind: 'done', outcome: 'INVALID', status: null, responseJson: null, detail: reason };
    };
    let payload: unknown;
    try {
      payload = JSON.parse(c.payloadJson);
    } catch (e) {
      return invalid(`payloadJson is not JSON: ${(e as Error).message}`);
    }
    const charger = d.fleet.chargers.get(c.chargePointId);
    if (!charger) return invalid('charger is not configured');
    const checked = checkCommand(conn.protocol, c.action, payload, charger);
    if (E.isLeft(checked)) return invalid(checked.left);
    return conn.deliver(c, payload as Record<string, unknown>);
  };

  /** accepted (202: the holder owns it now), absent (409: the holder has no live connection of the charger), or
   *  unanswered (unreachable, or it could not take it over, e.g. its PostgreSQL is down: 503). */
  const forward = async (url: string, c: Command, deadline: number): Promise<'accepted' | 'absent' | 'unanswered'> => {
    try {
      const res = await fetch(`${url}/internal/commands`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${d.internalToken}` },
        body: JSON.stringify({ command: c, deadline }),
        signal: AbortSignal.timeout(3000),
      });
      return res.status === 202 ? 'accepted' : res.status === 409 ? 'absent' : 'unanswered';
    } catch (e) {
      // Nothing listens there: the holder is gone.
      return (e as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED' ? 'absent' : 'unanswered';
    }
  };

  /** Commands this instance is routing now: a forward that arrives again (its sender timed out on our answer while
   *  our ledger write waited for PostgreSQL) is not delivered twice. */
  const routing = new Set<string>();

  const route = async (c: Command, deadline: number): Promise<void> => {
    if (routing.has(c.commandId)) return;
    routing.add(c.commandId);
    try {
      await routeOnce(c, deadline);
    } finally {
      routing.delete(c.commandId);
    }
  };

  /** Whether a charger whose row says it is connected to another instance that did not take the command may still be
   *  connected there: the holder did not answer, and its lease runs (or ran out less than OCPP_LEASE_OUTAGE_MS ago:
   *  cut off from PostgreSQL, it may serve on), or this instance has not seen PostgreSQL long enough to tell a dead
   *  holder from one that has not renewed since PostgreSQL came back. Such a command waits, never OFFLINE. */
  const mayBeConnected = (owner: Owner, answer: 'absent' | 'unanswered'): boolean =>
    answer === 'unanswered' && (owner.holderAlive || d.lease.reachableForMs() < d.lease.ttlMs);

  const routeOnce = async (c: Command, deadline: number): Promise<void> => {
    for (;;) {
      if (stopped) return;
      const now = Date.now();
      if (c.expiresAt !== null && now > c.expiresAt) return record(c, 'EXPIRED', null, null, `expired at ${new Date(c.expiresAt).toISOString()}`);
      let owner: Owner | undefined;
      let answer: 'absent' | 'unanswered' = 'absent';
      try {
        owner = await d.store.owner(c.chargePointId, d.lease.outageMs);
      } catch (e) {
        // PostgreSQL unavailable says nothing about the charger: not OFFLINE, ask again (the ledger keeps it meanwhile).
        d.log.warn('charger lookup failed; retrying', { err: e as Error, commandId: c.commandId });
        await sleep(1000);
        continue;
      }
      if (owner?.connected) {
        if (owner.gatewayId === d.gatewayId) {
          const conn = d.local(c.chargePointId);
          if (conn && !conn.closed) {
            const r = await deliverLocal(c, conn);
            if (r.kind === 'done') return record(c, r.outcome, r.status, r.responseJson, r.detail);
            deadline = Math.max(deadline, Date.now() + RECONNECT_GRACE_MS);
            d.log.info('charger disconnected with a command in flight; routing it again', { commandId: c.commandId, sent: r.sent });
          }
        } else {
          const f = await forward(owner.url, c, deadline);
          if (f === 'accepted') return;
          answer = f;
        }
      }
      if (Date.now() >= deadline) {
        if (c.expiresAt !== null && Date.now() >= c.expiresAt) return record(c, 'EXPIRED', null, null, 'charger did not connect before expiresAt');
        if (!(owner?.connected && owner.gatewayId !== d.gatewayId && mayBeConnected(owner, answer)))
          return record(c, 'OFFLINE', null, null, 'charger is not connected to any gateway instance');
      }
      await sleep(250);
    }
  };

  /** The ocpp.commands consumer, as the supervisor runs it: a new one after a crash, in the same group. */
  const startConsumer = async (): Promise<ConsumerComponent> => {
    // A dead instance's partitions go to the others after the session timeout: commands on them wait that long.
    const consumer = d.kafka.consumer({ groupId: d.groupId, maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 1000 });
    const died = consumerDied(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: Topics.ocppCommands, fromBeginning: false });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          let c: Command;
          try {
            c = decodeCommand(await d.serde.decode<Record<string, unknown>>(message.value));
          } catch (e) {
            d.log.warn('unreadable ocpp.commands record skipped', { err: e as Error, offset: message.offset });
            return;
          }
          if (!d.accepts(c.chargePointId)) return;
          // Another deployment on the same broker serves chargers we never saw; an OFFLINE from us would race its answer.
          // Throws while PostgreSQL is unavailable, like the ledger write below.
          if (d.knownChargersOnly && !(await d.store.owner(c.chargePointId))) {
            d.log.debug('command for a charger this deployment never saw; left to the one that serves it', { commandId: c.commandId, chargePointId: c.chargePointId });
            return;
          }
          // Throws while PostgreSQL is unavailable: the offset is not committed and the record is read again.
          if (await d.ledger.admit(c, d.lease.instanceId, c.expiresAt ?? Date.now())) track(route(c, c.expiresAt ?? Date.now()));
          else d.log.info('command read again; its ledger entry is already owned', { commandId: c.commandId });
        },
      });
      await joined;
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    return { topics: [Topics.ocppCommands], groupId: d.groupId, consumers: [consumer], died, stop: () => consumer.disconnect().catch(() => undefined) };
  };

  return {
    start: async () => {
      // A new group starts at the end of the topic, decided now rather than whenever a member first fetches a
      // partition (which, during the first rebalances, would silently skip commands produced in between).
      const admin = d.kafka.admin();
      await admin.connect();
      try {
        const committed = await admin.fetchOffsets({ groupId: d.groupId, topics: [Topics.ocppCommands] });
        const fresh = committed.every((t) => t.partitions.every((p) => p.offset === '-1'));
        if (fresh) {
          const ends = await admin.fetchTopicOffsets(Topics.ocppCommands);
          await admin.setOffsets({ groupId: d.groupId, topic: Topics.ocppCommands, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) }).catch(() => undefined);
        }
      } finally {
        await admin.disconnect();
      }
      consuming = await superviseConsumer({ kafka: d.kafka, health: d.health, log: d.log }, 'ocpp-commands', startConsumer);
      sweepLoop();
    },
    sweep,
    acceptForwarded: async (c, deadline) => {
      const conn = d.local(c.chargePointId);
      if (!conn || conn.closed) return false;
      // Already decided: nothing left to deliver, and the sender must stop routing it.
      if (!(await d.ledger.own(c, d.lease.instanceId, deadline))) return true;
      // Forwarded again while we route it (the sender gave up waiting for our answer): ours now, delivered once.
      if (routing.has(c.commandId)) return true;
      routing.add(c.commandId);
      track(
        (async () => {
          try {
            const r = await deliverLocal(c, conn);
            if (r.kind === 'done') return await record(c, r.outcome, r.status, r.responseJson, r.detail);
          } finally {
            routing.delete(c.commandId);
          }
          return route(c, Math.max(deadline, Date.now() + RECONNECT_GRACE_MS));
        })(),
      );
      return true;
    },
    stop: async () => {
      await consuming?.stop();
      stopped = true;
      if (sweeper) clearTimeout(sweeper);
      await Promise.race([Promise.allSettled([...inFlight]), sleep(2000)]);
    },
  };
};
