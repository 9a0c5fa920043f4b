/** The gateway's wiring: frame log, fleet view, command router, the charger-facing listeners (charger-listeners.ts)
 *  with their handshake (handshake.ts), the internal listener for forwarded commands and fencing
 *  (internal-listener.ts), the instance lease (instance-lease.ts), and the lifecycle of each connection (claim,
 *  fencing of the previous holder, chain head, CONNECTED/DISCONNECTED). */
import { credentialPepper } from '../common/credential-pepper';
import { createKafka } from '../common/kafka';
import { createBatchQueue } from '../common/batch-queue';
import { hostPort, hostToReach } from '../common/addresses';
import { randomUUID } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { ServiceContext } from '../common/service';
import { startChargerListeners } from './charger-listeners';
import { loadClientTrust } from './client-trust';
import { GatewaySettings, decodeSettings } from './config';
import { ChargerConnection, Rejection } from './connection';
import { createCommandRouter, CommandRouter } from './commands';
import { createCommandLedger } from './command-ledger';
import { followFleet, FleetFollower } from './fleet-follower';
import { createFrameLog, FrameLog, frameLogClientTimeouts } from './frame-log';
import { createSilentBrokers } from './silent-brokers';
import { connectionDraft } from './frames';
import { createHandshake } from './handshake';
import { createHeadsWriter } from './heads-writer';
import { FenceRequest, startInternalListener } from './internal-listener';
import { createInstanceLease, InstanceLease, leaseOutageFromEnv, leasePoolOptions, leaseTtlFromEnv, unreachable } from './instance-lease';
import { resolveToken } from './internal-token';
import { createMetrics, GatewayMetrics } from './metrics';
import { Protocol, protocols } from './protocol';
import { Claim, ClaimBounds, ClaimRequest, createGatewayStore, GatewayStore, isLockTimeout } from './store';
import { createTransactionIds } from './transaction-ids';

/** A claim batch waits at most this long for a row another session holds, and runs at most this long in all. */
const CLAIM_BOUNDS: ClaimBounds = { lockWaitMs: 1000, statementMs: 15000 };

export interface GatewayOptions {
  readonly gatewayId?: string;
  /** Plain WebSocket port (0: any free port). Default ctx.config.ocppPort. */
  readonly port?: number;
  readonly settings?: Partial<GatewaySettings>;
  /** Consumer group shared by all instances for ocpp.commands. */
  readonly commandsGroupId?: string;
  /** Whether this instance reads ocpp.commands (default true); one that doesn't still takes forwarded commands. */
  readonly consumeCommands?: boolean;
  /** Which chargers' commands this deployment handles (default all). */
  readonly acceptsCommandsFor?: (chargePointId: string) => boolean;
  /** Metrics registry (default ctx.metrics); two instances in one process need two. */
  readonly metrics?: Registry;
  /** Instance lease (default OCPP_LEASE_TTL_MS, else 10 s): how long a dead instance's chargers and commands wait. */
  readonly leaseTtlMs?: number;
  /** How long past its lease an instance cut off from PostgreSQL serves on (default OCPP_LEASE_OUTAGE_MS, else 60 s). */
  readonly leaseOutageMs?: number;
  /** The lease's own connection to PostgreSQL (default: one more connection with the settings of ctx.pool). */
  readonly leasePool?: Pool;
}

export interface Gateway {
  readonly gatewayId: string;
  readonly port: number;
  readonly tlsPort: number | undefined;
  readonly url: string;
  /** The internal listener (forwarded commands), as other instances reach it. */
  readonly internalUrl: string;
  /** This process's incarnation, as the lease table and the commands ledger name it. */
  readonly instanceId: string;
  readonly metrics: Registry;
  connectedCount(): number;
  /** Handshakes being worked on and waiting for a slot. */
  handshakes(): { active: number; waiting: number };
  stop(): Promise<void>;
  /** For tests: stop as if the process had died: sockets dropped, nothing released, no more head writes. */
  kill(): Promise<void>;
}

interface Entry {
  readonly conn: ChargerConnection;
  readonly ws: WebSocket;
  /** Resolves with the claim's fencing epoch once the connection is set up. */
  readonly epoch: Promise<number>;
  /** Set when the socket closed: resolves once the charger is released. */
  closing?: Promise<void>;
  /** Pong (or any frame) seen since the last ping. */
  alive: boolean;
}

/** fetch failed because nothing listens at the address (the process there is gone). */
export const connectionRefused = (e: unknown): boolean => (e as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED';

export const createGateway = async (ctx: ServiceContext, opts: GatewayOptions = {}): Promise<Gateway> => {
  const envSettings = decodeSettings(process.env);
  if (envSettings._tag === 'Left') throw new Error(envSettings.left);
  const settings: GatewaySettings = { ...envSettings.right, ...opts.settings };
  const loadedTrust = loadClientTrust(settings.tls, ctx.log);
  if (loadedTrust._tag === 'Left') throw new Error(loadedTrust.left);
  const trust = loadedTrust.right;
  const gatewayId = opts.gatewayId ?? ctx.config.gatewayId;
  const log = ctx.log.child({ gatewayId });
  const registry = opts.metrics ?? ctx.metrics;
  const metrics: GatewayMetrics = createMetrics(registry);
  const internalToken = resolveToken(settings.internalToken, ctx.config.home);

  const store: GatewayStore = await createGatewayStore(ctx.pool, settings.dbSchema);
  const transactionIds = createTransactionIds({ reserve: store.reserveTransactionIds });
  await transactionIds.warm();
  const ledger = createCommandLedger(ctx.pool, settings.dbSchema);
  const heads = createHeadsWriter(store, log);
  let killed = false;
  let stopping = false;
  const leaseTtl = opts.leaseTtlMs ?? leaseTtlFromEnv(process.env);
  if (typeof leaseTtl !== 'number' && leaseTtl._tag === 'Left') throw new Error(leaseTtl.left);
  const ttlMs = typeof leaseTtl === 'number' ? leaseTtl : leaseTtl.right;
  const leaseOutage = opts.leaseOutageMs ?? leaseOutageFromEnv(process.env);
  if (typeof leaseOutage !== 'number' && leaseOutage._tag === 'Left') throw new Error(leaseOutage.left);
  const outageMs = typeof leaseOutage === 'number' ? leaseOutage : leaseOutage.right;
  // After the lease ran out (PostgreSQL outage, or a lapse): close what another instance claimed meanwhile, fencing its
  // chain here first. After an outage the other chains went on meanwhile; after a lapse they wait for this.
  const recheckHoldings = async () => {
    const local = [...connections.entries()];
    const current = await store.epochs(local.map(([cp]) => cp));
    for (const [cp, e] of local) {
      const ep = await e.epoch.catch(() => undefined);
      const now = current.get(cp);
      if (ep === undefined || now?.epoch === ep) continue;
      // Claimed again by this instance (the charger reconnected here meanwhile): the new connection holds the chain,
      // and fencing the charger would refuse its frames too. Only the stale socket goes.
      if (now?.instanceId === lease.instanceId) {
        e.ws.terminate();
        continue;
      }
      log.warn('charger claimed by another instance while our lease ran out; closing', { chargePointId: cp });
      await frameLog.fence(cp);
      e.ws.terminate();
    }
  };
  // The lease renews on a connection of its own: behind a burst of claims in the shared pool its renewals came too
  // late, and the instance refused every frame until the burst was over.
  const leasePool = opts.leasePool ?? new Pool({ ...ctx.pool.options, ...leasePoolOptions(ttlMs / 5) });
  // Its idle connection lost (PostgreSQL restarted): the next renewal connects again (see createPool).
  leasePool.on('error', () => undefined);
  const endLeasePool = () => (opts.leasePool ? Promise.resolve() : leasePool.end().catch(() => undefined));
  const lease: InstanceLease = createInstanceLease({ pool: leasePool, lookups: ctx.pool, schema: settings.dbSchema, gatewayId, ttlMs, outageMs, log, onRegained: () => recheckHoldings() });
  const silentBrokers = createSilentBrokers();
  const frameLog: FrameLog = createFrameLog({
    kafka: ctx.kafka,
    producerKafka: createKafka(ctx.config, `${gatewayId}-frames`, { ...frameLogClientTimeouts(settings.kafkaRequestTimeoutMs), socketFactory: silentBrokers.socketFactory }),
    silence: silentBrokers.silence,
    requestTimeoutMs: settings.kafkaRequestTimeoutMs,
    failoverMs: settings.kafkaFailoverMs,
    serde: ctx.serde,
    log,
    metrics: registry,
    gatewayId,
    batchMs: settings.batchMs,
    batchMax: settings.batchMax,
    onHeads: heads.onHeads,
    mayWrite: () => lease.holds(),
  });
  await frameLog.start();
  const fleet: FleetFollower = await followFleet({ kafka: ctx.kafka, serde: ctx.serde, log, health: ctx.health }, gatewayId);
  const connections = new Map<string, Entry>();

  const reject = (r: Rejection) => {
    const raw = r.raw.length > settings.rejectAuditBytes ? r.raw.subarray(0, settings.rejectAuditBytes) : r.raw;
    frameLog
      .produce(Topics.ocppRejected, r.chargePointId, {
        rejectionId: randomUUID(),
        chargePointId: r.chargePointId,
        gatewayId,
        protocol: r.protocol,
        stage: r.stage,
        raw,
        rawSize: r.raw.length,
        uniqueId: r.uniqueId,
        action: r.action,
        errorCode: r.errorCode,
        reason: r.reason,
        receivedAt: r.receivedAt,
      })
      .catch((e) => log.warn('rejection not recorded', { err: e as Error, chargePointId: r.chargePointId, reason: r.reason }));
  };

  /** The socket is open and the charger already claimed (at the handshake, so the connection registry names this
   *  instance before the charger can see the connection). Make the chain head known, then CONNECTED; frames that
   *  arrive meanwhile wait in the connection's mailbox. */
  const openConnection = (ws: WebSocket, cp: string, protocol: Protocol, claim: Claim) => {
    // A charger reconnecting while its old socket still looks open here: the new connection wins (the old one's
    // release finds a newer epoch and leaves the registry alone).
    const previous = connections.get(cp);
    if (previous) previous.ws.terminate();
    const connectedAt = Date.now();
    const base = { chargePointId: cp, gatewayId, protocol };
    const epoch = (async () => {
      const t = performance.now();
      await frameLog.adopt(cp, claim.head, claim.scanFrom);
      await frameLog.append(cp, [connectionDraft(base, 'CONNECTED', connectedAt)]);
      metrics.handshake.observe({ phase: 'setup' }, (performance.now() - t) / 1000);
      return claim.epoch;
    })();
    const ready = epoch.then(() => undefined);
    // Handled where it matters (the close below, the mailbox, deliveries); a connection that never receives a frame
    // must not turn a failed set-up into an unhandled rejection, which ends the process.
    ready.catch(() => undefined);
    const conn = new ChargerConnection(cp, protocol, ws, { gatewayId, settings, fleet: fleet.view, frameLog, log, metrics, nextTransactionId: transactionIds.next, reject }, ready);
    const entry: Entry = { conn, epoch, ws, alive: true };
    ws.on('pong', () => (entry.alive = true));
    ws.on('message', () => (entry.alive = true));
    connections.set(cp, entry);
    metrics.connected.inc({ protocol });
    epoch.catch((e) => {
      log.warn('connection set-up failed; closing', { chargePointId: cp, err: e as Error });
      ws.close(1011, 'try again later');
    });
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        // ws closed the connection with 1009 without handing us the frame.
        reject({ chargePointId: cp, protocol, stage: 'FRAME', raw: Buffer.alloc(0), uniqueId: null, action: null, errorCode: '1009', reason: `frame larger than ${settings.maxFrameBytes * 4} bytes: connection closed (1009)`, receivedAt: Date.now() });
        metrics.rejected.inc({ stage: 'FRAME', reason: '1009' });
      } else log.debug('socket error', { chargePointId: cp, err: e });
    });
    ws.on('close', (code, reasonBuf) => {
      metrics.connected.dec({ protocol });
      conn.closed_();
      entry.closing = (async () => {
        if (killed) return;
        let ep: number;
        try {
          ep = await epoch;
        } catch {
          return;
        }
        await conn.drained();
        const detail = `${code}${reasonBuf.length ? ` ${reasonBuf.toString()}` : ''}`;
        // PostgreSQL unreachable: released once it is back (until then the row says connected here, and commands
        // for the charger wait rather than being told OFFLINE), unless the charger is back meanwhile.
        for (let attempt = 1; ; attempt++) {
          try {
            await store.release(cp, ep, async () => {
              if (!frameLog.healthy(cp)) throw new Error('Kafka unavailable');
              await frameLog.append(cp, [connectionDraft(base, 'DISCONNECTED', Date.now(), detail)]);
              return frameLog.headOf(cp);
            });
            break;
          } catch (e) {
            if (killed || stopping || !unreachable(e) || connections.get(cp) !== entry) {
              log.warn('release failed', { chargePointId: cp, err: e as Error });
              break;
            }
            if (attempt === 1) log.warn('release waits for PostgreSQL', { chargePointId: cp, err: e as Error });
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        if (connections.get(cp) === entry) {
          connections.delete(cp);
          frameLog.forget(cp);
        }
      })();
    });
  };

  const router: CommandRouter = createCommandRouter({
    kafka: ctx.kafka,
    serde: ctx.serde,
    log,
    gatewayId,
    store,
    ledger,
    lease,
    frameLog,
    fleet: fleet.view,
    metrics,
    groupId: opts.commandsGroupId ?? 'ocpp-gateway-commands',
    accepts: opts.acceptsCommandsFor ?? (() => true),
    knownChargersOnly: settings.commandsFor === 'known',
    internalToken,
    health: ctx.health,
    local: (cp) => connections.get(cp)?.conn,
    reject,
  });
  /** Another instance claimed `chargePointId` under a newer epoch: write nothing more of its chain, close our session. */
  const fenceLocal = async (f: FenceRequest): Promise<boolean> => {
    if (f.instanceId !== lease.instanceId) return false;
    const e = connections.get(f.chargePointId);
    const ours = e ? await e.epoch.catch(() => undefined) : undefined;
    // Our claim is newer than theirs: theirs lost, not ours.
    if (ours !== undefined && ours >= f.epoch) return false;
    await frameLog.fence(f.chargePointId);
    if (e) {
      log.info('charger connected on another instance; closing this session', { chargePointId: f.chargePointId, epoch: ours, newEpoch: f.epoch });
      e.ws.close(1000, 'connected on another gateway instance');
      setTimeout(() => e.ws.terminate(), 2000).unref();
    }
    return true;
  };
  const internal = await startInternalListener({ host: settings.internalHost, port: settings.internalPort, url: settings.internalUrl, token: internalToken, accept: router.acceptForwarded, fence: fenceLocal });
  await lease.start(internal.url);

  /** A claim that took the charger from a live holder elsewhere is only good once that holder wrote its last frame
   *  of the charger: asked over its internal listener, or, when it can't be asked, once it can no longer be writing
   *  (instance-lease.ts). Nothing listens at its address (connection refused) or another instance does (409): it is
   *  gone, or stopped writing when its lease ran out. It does not answer (timeout, unreachable host, an error): it may
   *  be alive and cut off from PostgreSQL too, serving its chargers for up to OCPP_LEASE_OUTAGE_MS after its lease ran
   *  out, so that much longer. Then the chain's end is on the topic and the claim's scan finds it. */
  const fencePrevious = async (cp: string, claim: Claim): Promise<boolean> => {
    const p = claim.previous!;
    let graceMs = outageMs;
    try {
      const res = await fetch(`${p.url}/internal/fence`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${internalToken}` },
        body: JSON.stringify({ chargePointId: cp, epoch: claim.epoch, instanceId: p.instanceId }),
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 200) return true;
      if (res.status === 409) graceMs = 0;
    } catch (e) {
      if (connectionRefused(e)) graceMs = 0;
    }
    const until = Date.now() + lease.ttlMs + 2000;
    while (Date.now() < until) {
      if (await lease.expired(p.instanceId!, graceMs)) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  };
  // A burst of handshakes shares its claims' round trips: on the embedded database one claim alone costs about what
  // a batch of 64 does (5 ms against 0.6 ms each, measured), and every batch waits in its lock queue once, not 64 times.
  // A row another session holds (a release writing the charger's last frame, another instance's claim) must not hold
  // up the whole batch: after a second the batch gives way and its chargers claim one by one, each waiting only for
  // its own row, as before batching.
  const claimOneByOne = (requests: readonly ClaimRequest[]) => Promise.all(requests.map((q) => store.claim(q.chargePointId, gatewayId, lease.instanceId, internal.url, q.scanFrom)));
  const claims = createBatchQueue(
    (requests: readonly ClaimRequest[]) =>
      store.claimMany(requests, gatewayId, lease.instanceId, internal.url, CLAIM_BOUNDS).catch((e: unknown) => {
        if (!isLockTimeout(e)) throw e;
        return claimOneByOne(requests);
      }),
    (q) => q.chargePointId,
    settings.handshakeConcurrency,
  );
  const claimCharger = async (cp: string): Promise<Claim> => {
    // During a PostgreSQL outage the claim would only wait (or fail); the charger is told 503 + Retry-After at once.
    if (!lease.reachable()) throw new Error('PostgreSQL unreachable: no new connections until it is back');
    const claim = await claims.run({ chargePointId: cp, scanFrom: frameLog.endLowerBound(frameLog.partitionOf(cp)) });
    const p = claim.previous;
    if (!p || !p.connected || p.instanceId === null || p.instanceId === lease.instanceId) return claim;
    if (await fencePrevious(cp, claim)) {
      log.info('took the charger over from another instance', { chargePointId: cp, from: p.instanceId, epoch: claim.epoch });
      return claim;
    }
    await store.restore(cp, claim).catch((e) => log.warn('claim not given back', { chargePointId: cp, err: e as Error }));
    throw new Error(`${cp} is held by ${p.instanceId}, which could not be fenced`);
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxFrameBytes * 4,
    perMessageDeflate: false,
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });
  const handshake = createHandshake({
    settings,
    pepper: credentialPepper(ctx.config.home),
    fleet,
    metrics,
    wss,
    trust,
    claim: claimCharger,
    abandon: (cp, claim) => store.abandon(cp, claim),
    open: openConnection,
    reject,
    stopping: () => stopping || killed,
  });
  const ocppHost = ctx.config.ocppHost ?? '127.0.0.1';
  const listeners = await startChargerListeners(ocppHost, opts.port ?? ctx.config.ocppPort, settings.tls, handshake.onUpgrade);

  if (opts.consumeCommands !== false) await router.start();
  // Half-open connections would keep a charger "connected" here and attract its commands: ping, and drop the silent.
  const pinger =
    settings.pingIntervalS > 0
      ? setInterval(() => {
          for (const e of connections.values()) {
            if (!e.alive) {
              e.ws.terminate();
              continue;
            }
            e.alive = false;
            e.ws.ping();
          }
        }, settings.pingIntervalS * 1000)
      : undefined;
  pinger?.unref();
  log.info('OCPP gateway listening', { port: listeners.port, tlsPort: listeners.tlsPort, internal: internal.url });

  const closeSocket = (e: Entry) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        e.ws.terminate();
        r();
      }, 2000);
      e.ws.once('close', () => {
        clearTimeout(t);
        r();
      });
    });

  return {
    gatewayId,
    port: listeners.port,
    tlsPort: listeners.tlsPort,
    url: `ws://${hostPort(hostToReach(ocppHost), listeners.port)}/ocpp`,
    internalUrl: internal.url,
    instanceId: lease.instanceId,
    metrics: registry,
    connectedCount: () => connections.size,
    handshakes: () => ({ active: handshake.admission.active, waiting: handshake.admission.waiting }),
    kill: async () => {
      killed = true;
      clearInterval(pinger);
      trust?.stop();
      heads.stop();
      lease.stop();
      await endLeasePool();
      for (const e of connections.values()) e.ws.terminate();
      connections.clear();
      await router.stop();
      wss.close();
      await listeners.close();
      await internal.close();
      await fleet.stop();
      await frameLog.stop();
    },
    stop: async () => {
      stopping = true;
      clearInterval(pinger);
      trust?.stop();
      await router.stop();
      const entries = [...connections.values()];
      for (const e of entries) e.ws.close(1001, 'gateway shutting down');
      await Promise.allSettled(
        entries.map(async (e) => {
          if (!e.closing) await closeSocket(e);
          await e.closing;
        }),
      );
      wss.close();
      await listeners.close();
      await internal.close();
      await fleet.stop();
      await frameLog.stop();
      await heads.flush();
      // A handshake still in its claim gives the claim back (handshake.ts) before the lease goes.
      for (const until = Date.now() + 10_000; handshake.admission.active > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      // Last: pending commands go to the other instances at their next sweep.
      await lease.release();
      await endLeasePool();
    },
  };
};
