/** The WebSocket handshake of a charger: OCPP path, subprotocol, known charger, security profile and credentials, then
 *  the claim in `connections` before the upgrade completes. Handshakes are admitted through a bounded line
 *  (admission.ts); one beyond it is refused with 503 + Retry-After, the only "busy" answer OCPP-J chargers know. */
import * as http from 'node:http';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { verifySecret } from '../common/password';
import { Admission, createAdmission, retryAfterSeconds } from './admission';
import { GatewaySettings } from './config';
import { Rejection } from './connection';
import { createCredentialCache } from './credential-cache';
import { FleetFollower } from './fleet-follower';
import { GatewayMetrics } from './metrics';
import { Protocol, protocols } from './protocol';
import { Claim } from './store';

const OCPP_PATH = /^\/ocpp\/([^/?#]+)\/?$/;

export type Verdict = { ok: true; protocol: Protocol } | { ok: false; status: number; text: string; reason: string; headers?: Record<string, string> };

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

export interface HandshakeDeps {
  readonly settings: GatewaySettings;
  readonly fleet: FleetFollower;
  readonly metrics: GatewayMetrics;
  readonly wss: WebSocketServer;
  claim(chargePointId: string): Promise<Claim>;
  abandon(chargePointId: string, claim: Claim): Promise<void>;
  open(ws: WebSocket, chargePointId: string, protocol: Protocol, claim: Claim): void;
  reject(r: Rejection): void;
}

export interface Handshake {
  onUpgrade(tls: boolean): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly admission: Admission;
}

export const createHandshake = (d: HandshakeDeps): Handshake => {
  const { settings, fleet } = d;
  const checkPassword = createCredentialCache(verifySecret, settings.authCacheTtlS * 1000);
  const admission = createAdmission(settings.handshakeConcurrency, settings.handshakeQueue, settings.handshakeWaitS * 1000);

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

  const onUpgrade = (tls: boolean) => (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://x');
    const cp = chargePointOf(url.pathname);
    const refuse = (status: number, text: string, reason: string, headers?: Record<string, string>) => {
      d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: String(status) });
      d.reject({ chargePointId: cp || url.pathname.slice(0, 200), protocol: null, stage: 'HANDSHAKE', raw: Buffer.from(`${req.method} ${req.url}`), uniqueId: null, action: null, errorCode: String(status), reason, receivedAt: at });
      refuseUpgrade(socket, status, text, headers);
    };
    if (!cp) return refuse(404, 'Not Found', `not an OCPP endpoint: ${url.pathname}`);
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
    let t = performance.now();
    void admission.enter().then(async (release) => {
      if (!release) return busy();
      t = phase('wait', t);
      try {
        if (socket.destroyed) {
          d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: 'gone' });
          return;
        }
        const v = await authorize(req, cp, tls);
        t = phase('authorize', t);
        if (!v.ok) return refuse(v.status, v.text, v.reason, v.headers);
        const claim = await d.claim(cp);
        phase('claim', t);
        // A charger that gave up while we checked it would otherwise leave a claim no one releases, and make its
        // next connection scan ocpp.frames for its chain head.
        if (socket.destroyed) {
          d.metrics.rejected.inc({ stage: 'HANDSHAKE', reason: 'abandoned' });
          return await d.abandon(cp, claim);
        }
        d.wss.handleUpgrade(req, socket, head, (ws) => d.open(ws, cp, v.protocol, claim));
      } catch (e) {
        refuse(503, 'Service Unavailable', `handshake failed: ${(e as Error).message}`, { 'Retry-After': String(retryAfterSeconds(settings.retryAfterS)) });
      } finally {
        release();
      }
    });
  };

  return { onUpgrade, admission };
};
