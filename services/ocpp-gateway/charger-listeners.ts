/** The charger-facing listeners: plain WebSocket (security profile 1) and TLS (profiles 2 and 3). They serve OCPP
 *  upgrades only: any plain HTTP request gets 404, whatever its path. A TLS listener serving profile 3 without a CA
 *  bundle is refused (config.ts tlsProblem). */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { Duplex } from 'node:stream';
import { TlsSettings, tlsProblem } from './config';

type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ChargerListeners {
  readonly port: number;
  readonly tlsPort: number | undefined;
  close(): Promise<void>;
}

const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => void res.writeHead(404, { 'Content-Length': '0' }).end();

const listen = (server: http.Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    // A burst of connects beyond the default backlog (511) would be reset by the kernel before we could answer 503.
    server.listen({ port, host, backlog: 4096 }, () => resolve((server.address() as { port: number }).port));
  });

const closeServer = async (server: http.Server) => {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  await closed;
};

/** `host`: the address the charger-facing listeners bind (OCPP_HOST, default 127.0.0.1). */
export const startChargerListeners = async (host: string, port: number, tls: TlsSettings | undefined, onUpgrade: (tls: boolean) => UpgradeHandler): Promise<ChargerListeners> => {
  const problem = tlsProblem(tls);
  if (problem) throw new Error(problem);
  const plain = http.createServer(notFound);
  plain.on('upgrade', onUpgrade(false));
  const plainPort = await listen(plain, port, host);
  let secure: https.Server | undefined;
  let tlsPort: number | undefined;
  if (tls) {
    // Client certificates are asked for (profile 3) and checked against `ca` only, never the system's public CAs; an
    // untrusted or missing one still completes TLS, so that the handshake can refuse it with an HTTP answer and audit it.
    const clientCerts = tls.profile3 !== false;
    secure = https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key), ...(clientCerts && tls.ca ? { ca: fs.readFileSync(tls.ca) } : {}), requestCert: clientCerts, rejectUnauthorized: false }, notFound);
    secure.on('upgrade', onUpgrade(true));
    tlsPort = await listen(secure, tls.port, host);
  }
  return {
    port: plainPort,
    tlsPort,
    close: async () => {
      await closeServer(plain);
      if (secure) await closeServer(secure);
    },
  };
};
