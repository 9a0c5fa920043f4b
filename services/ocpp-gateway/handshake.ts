/** The WebSocket handshake of a charger: OCPP path, subprotocol, known charger, security profile and credentials, then
 *  the claim in `connections` before the upgrade completes. Handshakes are admitted through a bounded line
 *  (admission.ts); one beyond it is refused with 503 + Retry-After, the only "busy" answer OCPP-J chargers know. */
import * as http from 'node:http';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { randomBytes, X509Certificate } from 'node:crypto';
import { hashChargerSecret, schemeOf, verifyChargerSecret, verifySecret } from '../common/password';
import { createFailureGuard } from './failure-guard';
import { Admission, createAdmission, retryAfterSeconds } from './admission';
import { GatewaySettings } from './config';
import { Rejection } from './connection';
import { ClientTrust } from './client-trust';
import { createCredentialCache, limitChecks } from './credential-cache';
import { FleetFollower } from './fleet-follower';
import { GatewayMetrics } from './metrics';
import { Protocol, protocols } from './protocol';
import { Claim } from './store';

const OCPP_PATH = /^\/ocpp\/([^/?#]+)\/?$/;

export type Verdict = { ok: true; protocol: Protocol; chain?: readonly X509Certificate[] } | { ok: false; status: number; text: string; reason: string; headers?: Record<string, string> };

export const refuseUpgrade = (socket: Duplex, status: number, text: string, headers: Record<string, string> = {}) => {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
};

/** The charge point id of an OCPP path, '' when the path is not one. */
export const chargePointOf = (pathname: string): string => {
  const m = OCPP_PATH.exec(pathname);
  try {
    return m ? decodeURIComponent(m[1]!) : '';
  } catch {
    return '';
  }
};

const basicCredentials = (req: http.IncomingMessage): { user: string; password: string } | undefined => {
  const h = req.headers.authorization;
  if (!h || !/^Basic /i.test(h)) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
};

/** ws completes or aborts an upgrade synchronously, and aborts it without calling back when the charger has half-closed
 *  (sent its FIN) since: true when the upgrade completed and `open` ran. */
const upgraded = (wss: WebSocketServer, req: http.IncomingMessage, socket: Duplex, head: Buffer, open: (ws: WebSocket) => void): boolean => {
  if (socket.destroyed) return false;
  let opened = false;
  wss.handleUpgrade(req, socket, head, (ws) => {
    opened = true;
    open(ws);
  });
  return opened;
};

export interface HandshakeDeps {
  readonly settings: GatewaySettings;
  /** The key of `hmac-sha256` charger password hashes (services/common/credential-pepper.ts). */
  readonly pepper: Buffer;
  readonly fleet: FleetFollower;
  readonly metrics: GatewayMetrics;
  readonly wss: WebSocketServer;
  /** Profile 3: CA, certificate rules, revocation; undefined when this gateway serves no profile 3. */
  readonly trust: ClientTrust | undefined;
  claim(chargePointId: string): Promise<Claim>;
  abandon(chargePointId: string, claim: Claim): Promise<void>;
  open(ws: WebSocket, chargePointId: string, protocol: Protocol, claim: Claim): void;
  reject(r: Rejection): void;
  /** True once the gateway is shutting down: a new charger is told 503 + Retry-After, to come back to an instance
   *  that serves (it would otherwise be claimed here and closed again at once, or refused by ws without a Retry-After). */
  stopping(): boolean;
}

export interface Handshake {
  onUpgrade(tls: boolean): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly admission: Admission;
}

export const createHandshake = (d: HandshakeDeps): Handshake => {
  const { settings, fleet } = d;
  const admission = createAdmission(settings.handshakeConcurrency, settings.handshakeQueue, settings.handshakeWaitS * 1000);
  const passwordSlots = createAdmission(settings.passwordChecks, settings.handshakeConcurrency, settings.handshakeWaitS * 1000);
  const checkScrypt = createCredentialCache(limitChecks(verifySecret, passwordSlots), settings.authCacheTtlS * 1000);
  // Hashes the API makes now cost microseconds to check; scrypt ones (made before 2026-12-07, until the password is
  // set again) keep their slots and cache.
  const checkPassword = async (password: string, stored: string): Promise<boolean> =>
    schemeOf(stored) === 'hmac-sha256' ? verifyChargerSecret(password, stored, d.pepper) : checkScrypt(password, stored);
  const guard = createFailureGuard({ perSource: settings.failedHandshakesPerSource, perCharger: settings.failedHandshakesPerCharger, windowMs: 60_000 });
  // An unknown id pays the same password check as a known one, so neither the answer nor its time tells them apart.
  const decoy = hashChargerSecret(randomBytes(16).toString('hex'), d.pepper);

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
    const challenge = { 'WWW-Authenticate': 'Basic realm="ocpp"' };
    if (!charger) {
      const creds = basicCredentials(req);
      if (creds) await checkPassword(creds.password, decoy);
      return { ok: false, status: 401, text: 'Unauthorized', reason: 'unknown charge point id', headers: challenge };
    }
    const profile = charger.securityProfile;
    if (profile >= 2 && !tls) return { ok: false, status: 403, text: 'Forbidden', reason: `security profile ${profile} requires TLS` };
    if (profile === 3) {
      if (!d.trust) return { ok: false, status: 403, text: 'Forbidden', reason: 'security profile 3 requires client certificates, which this gateway does not take (OCPP_TLS_PROFILE3=off)' };
      const socket = req.socket as TLSSocket;
      if (!socket.authorized) return { ok: false, status: 401, text: 'Unauthorized', reason: `client certificate missing or not trusted (${String(socket.authorizationError ?? 'none presented')})` };
      const checked = d.trust.verify(socket, cp);
      if (checked._tag === 'Left') return { ok: false, status: 401, text: 'Unauthorized', reason: checked.left };
      return { ok: true, protocol, chain: checked.right };
    }
    const creds = basicCredentials(req);
    if (!creds) return { ok: false, status: 401, text: 'Unauthorized', reason: 'Basic credentials required', headers: challenge };
    if (creds.user !== cp) return { ok: false, status: 401, text: 'Unauthorized', reason: 'Basic user must be the charge point id', headers: challenge };
    if (!charger.passwordHash || !(await checkPassword(creds.password, charger.passwordHash)))
      return { ok: false, status: 401, text: 'Unauthorized', reason: 'wrong password', headers: challenge };
    return { ok: true, protocol };
  };

  const onUpgrade = (tls: boolean) => (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://x');
    const cp = chargePointOf(url.pathname).slice(0, 200);
    const source = req.socket.remoteAddress ?? 'unknown';
    // One audit record per source and reason per minute, its size capped, the peer address in its reason.
    const audit = (status: number, reason: string) => {
      const a = guard.audit(source, String(status), Date.now());
      if (!a.record) return;
      const more = a.suppressed ? `; ${a.suppressed} more like it from this source not recorded` : '';
      d.reject({ chargePointId: cp || url.pathname.slice(0, 200), protocol: null, stage: 'HANDSHAKE', raw: Buffer.from(`${req.method} ${req.url}`.slice(0, 512)), uniqueId: null, action: null, errorCode: String(status), reason: `${reason} (peer ${source}${more})`, receivedAt: at });
    };
    const refuse = (status: number, text: string, reason: string, headers?: Record<string, string>) => {
      d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: String(status) });
      if (status < 500) guard.failed(source, cp || url.pathname.slice(0, 200), Date.now());
      audit(status, reason);
      refuseUpgrade(socket, status, text, headers);
    };
    /** Refused outright (429 + Retry-After, no password check) while the source or the id has failed too often. */
    const tooMany = (): boolean => {
      const wait = guard.blockedFor(source, cp, Date.now());
      if (wait === undefined) return false;
      d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: '429' });
      audit(429, `too many failed handshakes from ${source} or for ${cp || 'this path'}: refused for ${wait} s`);
      refuseUpgrade(socket, 429, 'Too Many Requests', { 'Retry-After': String(wait) });
      return true;
    };
    if (tooMany()) return;
    if (!cp) return refuse(404, 'Not Found', `not an OCPP endpoint: ${url.pathname.slice(0, 200)}`);
    socket.on('error', () => undefined);
    const busy = () => {
      // Not audited in ocpp.rejected: under a burst that would add a Kafka write per refusal.
      d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: '503' });
      refuseUpgrade(socket, 503, 'Service Unavailable', { 'Retry-After': String(retryAfterSeconds(settings.retryAfterS)) });
    };
    const phase = (name: string, since: number) => {
      const now = performance.now();
      d.metrics.handshake.observe({ phase: name }, (now - since) / 1000);
      return now;
    };
    if (d.stopping()) return busy();
    let t = performance.now();
    void admission.enter().then(async (release) => {
      if (!release) return busy();
      t = phase('wait', t);
      try {
        if (socket.destroyed) {
          d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: 'gone' });
          return;
        }
        if (d.stopping()) return busy();
        // It may have failed too often while it waited in line.
        if (tooMany()) return;
        const v = await authorize(req, cp, tls);
        t = phase('authorize', t);
        if (!v.ok) return refuse(v.status, v.text, v.reason, v.headers);
        const claim = await d.claim(cp);
        phase('claim', t);
        if (d.stopping()) {
          await d.abandon(cp, claim);
          return busy();
        }
        const opened = upgraded(d.wss, req, socket, head, (ws) => {
          if (v.chain && d.trust) {
            const unwatch = d.trust.watch(v.chain, (why) => {
              d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: 'revoked' });
              d.reject({ chargePointId: cp, protocol: v.protocol, stage: 'HANDSHAKE', raw: Buffer.alloc(0), uniqueId: null, action: null, errorCode: '1008', reason: `connection closed: ${why} (peer ${source})`, receivedAt: Date.now() });
              ws.close(1008, 'client certificate revoked');
            });
            ws.once('close', unwatch);
          }
          d.open(ws, cp, v.protocol, claim);
        });
        // A charger that gave up while we checked it would otherwise leave a claim no one releases, and make its
        // next connection scan ocpp.frames for its chain head.
        if (!opened) {
          d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: 'abandoned' });
          return await d.abandon(cp, claim);
        }
      } catch (e) {
        refuse(503, 'Service Unavailable', `handshake failed: ${(e as Error).message}`, { 'Retry-After': String(retryAfterSeconds(settings.retryAfterS)) });
      } finally {
        release();
      }
    });
  };

  return { onUpgrade, admission };
};
