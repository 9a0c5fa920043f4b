/** The gateway's I/O: WebSocket listeners (plain for security profile 1, TLS for profiles 2 and 3), the handshake
 *  (known charger, subprotocol, credentials), connection lifecycle (claim, chain head, CONNECTED/DISCONNECTED),
 *  the internal command endpoint, and wiring of the frame log, fleet view and command router. */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { ServiceContext } from '../common/service';
import { verifySecret } from '../common/password';
import { readBody } from '../common/http';
import { GatewaySettings, decodeSettings } from './config';
import { ChargerConnection, Command, Rejection } from './connection';
import { createCommandRouter, CommandRouter } from './commands';
import { followFleet, FleetFollower } from './fleet-follower';
import { createFrameLog, FrameLog } from './frame-log';
import { connectionDraft } from './frames';
import { createMetrics, GatewayMetrics } from './metrics';
import { Protocol, protocols } from './protocol';
import { Claim, createGatewayStore, GatewayStore, StoredHead } from './store';

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
}

export interface Gateway {
  readonly gatewayId: string;
  readonly port: number;
  readonly tlsPort: number | undefined;
  readonly url: string;
  readonly metrics: Registry;
  connectedCount(): number;
  stop(): Promise<void>;
  /** For tests: stop as if the process had died: sockets dropped, nothing released, no more head writes. */
  kill(): Promise<void>;
}

const OCPP_PATH = /^\/ocpp\/([^/?#]+)\/?$/;

const refuseUpgrade = (socket: Duplex, status: number, text: string, headers: Record<string, string> = {}) => {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
};

export const createGateway = async (ctx: ServiceContext, opts: GatewayOptions = {}): Promise<Gateway> => {
  const envSettings = decodeSettings(process.env);
  if (envSettings._tag === 'Left') throw new Error(envSettings.left);
  const settings: GatewaySettings = { ...envSettings.right, ...opts.settings };
  const gatewayId = opts.gatewayId ?? ctx.config.gatewayId;
  const log = ctx.log.child({ gatewayId });
  const registry = opts.metrics ?? ctx.metrics;
  const metrics: GatewayMetrics = createMetrics(registry);

  const store: GatewayStore = await createGatewayStore(ctx.pool, settings.dbSchema);

  // Heads are saved after acknowledgement, coalesced over HEADS_EVERY_MS, one write at a time. They only shorten the
  // scan after an unclean takeover (a clean release stores its final head itself), so they need not be current.
  const HEADS_EVERY_MS = 500;
  let pendingHeads = new Map<string, StoredHead>();
  let headsWriting: Promise<void> = Promise.resolve();
  let headsTimer: NodeJS.Timeout | undefined;
  let killed = false;
  const writeHeads = () => {
    headsTimer = undefined;
    headsWriting = headsWriting.then(async () => {
      const batch = pendingHeads;
      pendingHeads = new Map();
      if (batch.size && !killed) await store.saveHeads(batch).catch((e) => log.warn('chain heads not saved', { err: e as Error }));
    });
  };
  const onHeads = (heads: ReadonlyMap<string, StoredHead>) => {
    if (killed) return;
    for (const [cp, h] of heads) {
      const prev = pendingHeads.get(cp);
      if (!prev || prev.seq < h.seq) pendingHeads.set(cp, h);
    }
    headsTimer ??= setTimeout(writeHeads, HEADS_EVERY_MS);
  };
  const frameLog: FrameLog = createFrameLog({ kafka: ctx.kafka, serde: ctx.serde, log, metrics: registry, gatewayId, batchMs: settings.batchMs, batchMax: settings.batchMax, lanes: settings.kafkaLanes, onHeads });
  await frameLog.start();
  const fleet: FleetFollower = await followFleet(ctx.kafka, ctx.serde, log, gatewayId);

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

  // Successful Basic credentials, so a reconnect does not pay for scrypt again. Keyed by the stored hash too, so a new
  // password (new hash on fleet.config) invalidates it.
  const verified = new Set<string>();
  const verifying = new Map<string, Promise<boolean>>();
  const checkPassword = async (password: string, stored: string): Promise<boolean> => {
    const key = createHash('sha256').update(stored).update('\0').update(password).digest('hex');
    if (verified.has(key)) return true;
    // Chargers reconnecting together (after a gateway restart) share one scrypt per distinct secret.
    let p = verifying.get(key);
    if (!p) {
      p = verifySecret(password, stored).finally(() => verifying.delete(key));
      verifying.set(key, p);
    }
    const ok = await p;
    if (ok) {
      if (verified.size > 200000) verified.clear();
      verified.add(key);
    }
    return ok;
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxFrameBytes * 4,
    perMessageDeflate: false,
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });

  const basicCredentials = (req: http.IncomingMessage): { user: string; password: string } | undefined => {
    const h = req.headers.authorization;
    if (!h || !/^Basic /i.test(h)) return undefined;
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return undefined;
    return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
  };

  type Verdict = { ok: true; protocol: Protocol } | { ok: false; status: number; text: string; reason: string; headers?: Record<string, string> };

  const authorize = async (req: http.IncomingMessage, cp: string, tls: boolean): Promise<Verdict> => {
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const protocol = protocols.find((p) => offered.includes(p));
    if (!protocol) return { ok: false, status: 400, text: 'Bad Request', reason: `no supported subprotocol offered (${offered.join(', ') || 'none'}); supported: ${protocols.join(', ')}` };
    let charger = fleet.view.chargers.get(cp);
    if (!charger) {
      await fleet.catchUp(2000);
      charger = fleet.view.chargers.get(cp);
    }
    if (!charger) return { ok: false, status: 404, text: 'Not Found', reason: 'unknown charge point id' };
    const profile = charger.securityProfile;
    if (profile >= 2 && !tls) return { ok: false, status: 403, text: 'Forbidden', reason: `security profile ${profile} requires TLS` };
    if (profile === 3) {
      const socket = req.socket as TLSSocket;
      if (!socket.authorized) return { ok: false, status: 401, text: 'Unauthorized', reason: `client certificate missing or not trusted (${String(socket.authorizationError ?? 'none presented')})` };
      const cn = socket.getPeerCertificate()?.subject?.CN;
      if (cn !== cp) return { ok: false, status: 401, text: 'Unauthorized', reason: `client certificate CN ${String(cn)} does not match ${cp}` };
      return { ok: true, protocol };
    }
    const creds = basicCredentials(req);
    const challenge = { 'WWW-Authenticate': 'Basic realm="ocpp"' };
    if (!creds) return { ok: false, status: 401, text: 'Unauthorized', reason: 'Basic credentials required', headers: challenge };
    if (creds.user !== cp) return { ok: false, status: 401, text: 'Unauthorized', reason: 'Basic user must be the charge point id', headers: challenge };
    if (!charger.passwordHash || !(await checkPassword(creds.password, charger.passwordHash)))
      return { ok: false, status: 401, text: 'Unauthorized', reason: 'wrong password', headers: challenge };
    return { ok: true, protocol };
  };

  let plainPort = 0;
  let internalUrl = '';

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
      await frameLog.adopt(cp, claim.head, claim.scanFrom);
      await frameLog.append(cp, [connectionDraft(base, 'CONNECTED', connectedAt)]);
      return claim.epoch;
    })();
    const ready = epoch.then(() => undefined);
    const conn = new ChargerConnection(cp, protocol, ws, { gatewayId, settings, fleet: fleet.view, frameLog, log, metrics, nextTransactionId: store.nextTransactionId, reject }, ready);
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
        try {
          await store.release(cp, ep, async () => {
            if (!frameLog.healthy()) throw new Error('Kafka unavailable');
            await frameLog.append(cp, [connectionDraft(base, 'DISCONNECTED', Date.now(), detail)]);
            return frameLog.headOf(cp);
          });
        } catch (e) {
          log.warn('release failed', { chargePointId: cp, err: e as Error });
        }
        if (connections.get(cp) === entry) {
          connections.delete(cp);
          frameLog.forget(cp);
        }
      })();
    });
  };

  const onUpgrade = (tls: boolean) => (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://x');
    const m = OCPP_PATH.exec(url.pathname);
    let cp = '';
    try {
      cp = m ? decodeURIComponent(m[1]!) : '';
    } catch {
      cp = '';
    }
    const refuse = (status: number, text: string, reason: string, headers?: Record<string, string>) => {
      metrics.rejected.inc({ stage: 'HANDSHAKE', reason: String(status) });
      reject({ chargePointId: cp || url.pathname.slice(0, 200), protocol: null, stage: 'HANDSHAKE', raw: Buffer.from(`${req.method} ${req.url}`), uniqueId: null, action: null, errorCode: String(status), reason, receivedAt: at });
      refuseUpgrade(socket, status, text, headers);
    };
    if (!m || !cp) return refuse(404, 'Not Found', `not an OCPP endpoint: ${url.pathname}`);
    socket.on('error', () => undefined);
    authorize(req, cp, tls)
      .then(async (v) => {
        if (!v.ok) return refuse(v.status, v.text, v.reason, v.headers);
        const claim = await store.claim(cp, gatewayId, internalUrl, frameLog.endLowerBound(frameLog.partitionOf(cp)));
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => openConnection(ws, cp, v.protocol, claim));
      })
      .catch((e) => refuse(503, 'Service Unavailable', `handshake failed: ${(e as Error).message}`));
  };

  const router: CommandRouter = createCommandRouter({
    kafka: ctx.kafka,
    serde: ctx.serde,
    log,
    gatewayId,
    store,
    frameLog,
    fleet: fleet.view,
    metrics,
    groupId: opts.commandsGroupId ?? 'ocpp-gateway-commands',
    accepts: opts.acceptsCommandsFor ?? (() => true),
    internalToken: settings.internalToken,
    local: (cp) => connections.get(cp)?.conn,
    reject,
  });
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'POST' && req.url === '/internal/commands') {
      if (settings.internalToken && req.headers.authorization !== `Bearer ${settings.internalToken}`) {
        res.writeHead(401).end();
        return;
      }
      readBody(req, 1024 * 1024)
        .then((body) => {
          const { command, deadline } = JSON.parse(body.toString('utf8')) as { command: Command; deadline: number };
          const ok = router.acceptForwarded(command, deadline);
          res.writeHead(ok ? 202 : 409).end();
        })
        .catch(() => res.writeHead(400).end());
      return;
    }
    res.writeHead(404).end();
  };

  const plain = http.createServer(onRequest);
  plain.on('upgrade', onUpgrade(false));
  await new Promise<void>((resolve, reject) => {
    plain.once('error', reject);
    plain.listen(opts.port ?? ctx.config.ocppPort, '127.0.0.1', () => resolve());
  });
  plainPort = (plain.address() as { port: number }).port;
  internalUrl = settings.internalUrl ?? `http://127.0.0.1:${plainPort}`;

  let secure: https.Server | undefined;
  if (settings.tls) {
    const t = settings.tls;
    secure = https.createServer(
      { cert: fs.readFileSync(t.cert), key: fs.readFileSync(t.key), ...(t.ca ? { ca: fs.readFileSync(t.ca) } : {}), requestCert: true, rejectUnauthorized: false },
      (_req, res) => res.writeHead(404).end(),
    );
    secure.on('upgrade', onUpgrade(true));
    await new Promise<void>((resolve, reject) => {
      secure!.once('error', reject);
      secure!.listen(t.port, '127.0.0.1', () => resolve());
    });
  }
  const tlsPort = secure ? (secure.address() as { port: number }).port : undefined;

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
  log.info('OCPP gateway listening', { port: plainPort, tlsPort });

  return {
    gatewayId,
    port: plainPort,
    tlsPort,
    url: `ws://127.0.0.1:${plainPort}/ocpp`,
    metrics: registry,
    connectedCount: () => connections.size,
    kill: async () => {
      killed = true;
      clearInterval(pinger);
      if (headsTimer) clearTimeout(headsTimer);
      for (const e of connections.values()) e.ws.terminate();
      connections.clear();
      await router.stop();
      wss.close();
      plain.closeAllConnections();
      await new Promise<void>((r) => plain.close(() => r()));
      if (secure) {
        secure.closeAllConnections();
        await new Promise<void>((r) => secure!.close(() => r()));
      }
      await fleet.stop();
      await frameLog.stop();
    },
    stop: async () => {
      clearInterval(pinger);
      await router.stop();
      const entries = [...connections.values()];
      for (const e of entries) e.ws.close(1001, 'gateway shutting down');
      await Promise.allSettled(
        entries.map(async (e) => {
          if (!e.closing) {
            await new Promise<void>((r) => {
              const t = setTimeout(() => {
                e.ws.terminate();
                r();
              }, 2000);
              e.ws.once('close', () => {
                clearTimeout(t);
                r();
              });
            });
          }
          await e.closing;
        }),
      );
      wss.close();
      const closed = new Promise<void>((r) => plain.close(() => r()));
      plain.closeAllConnections();
      await closed;
      if (secure) {
        const closedTls = new Promise<void>((r) => secure!.close(() => r()));
        secure.closeAllConnections();
        await closedTls;
      }
      await fleet.stop();
      await frameLog.stop();
      if (headsTimer) clearTimeout(headsTimer);
      writeHeads();
      await headsWriting;
    },
  };
};
