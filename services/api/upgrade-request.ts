import { IncomingMessage } from 'node:http';

/** The checks of RFC 6455 §4.2.1 on a WebSocket opening handshake, made before the API spends anything on it (a
 *  Kafka consumer, a feed slot): undefined when the request is a valid upgrade, else what is wrong with it. */
export const upgradeProblem = (req: IncomingMessage): string | undefined => {
  if (req.method !== 'GET') return `a WebSocket upgrade is a GET, not ${req.method}`;
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'Upgrade: websocket is missing';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) return 'Sec-WebSocket-Key must be 16 random bytes in base64';
  if (req.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version must be 13';
  return undefined;
};
