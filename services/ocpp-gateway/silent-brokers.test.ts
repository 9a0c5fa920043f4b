/** silent-brokers.ts without a broker: a silenced broker's new connections fail as kafkajs' dead-broker path expects,
 *  for the time given, and only that broker's. */
import * as net from 'node:net';
import { createSilentBrokers } from './silent-brokers';

const connectError = (socket: net.Socket): Promise<string | undefined> =>
  new Promise((resolve) => {
    socket.once('error', (e: Error & { code?: string }) => resolve(e.code));
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
  });

test('given a broker silenced for 3 s, then connections to it are refused until then, and other brokers are not', async () => {
  let now = 1_000;
  const brokers = createSilentBrokers(() => now);
  // Nothing listens on a port the system gave and took back: a connection attempt there is refused by the kernel too,
  // so only the code (and that nothing connected) tells the two apart; the silenced one fails without a SYN.
  brokers.silence('127.0.0.1:1', 3_000);
  const refused = brokers.socketFactory({ host: '127.0.0.1', port: 1, ssl: undefined as never, onConnect: () => undefined });
  expect(await connectError(refused)).toBe('ECONNREFUSED');
  expect(refused.remoteAddress).toBeUndefined();
  now = 4_001;
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const open = brokers.socketFactory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => undefined });
  expect(await connectError(open)).toBeUndefined();
  await new Promise((r) => server.close(r));
});

test('given an open connection to a broker that is then silenced, then the connection fails with an error (what kafkajs listens for)', async () => {
  const brokers = createSilentBrokers();
  const server = net.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const socket = brokers.socketFactory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => undefined });
  await new Promise((r) => socket.once('connect', r));
  const failed = new Promise<string | undefined>((r) => socket.once('error', (e: Error & { code?: string }) => r(e.code)));
  brokers.silence(`127.0.0.1:${port}`, 1_000);
  expect(await failed).toBe('ECONNRESET');
  await new Promise((r) => server.close(r));
});
