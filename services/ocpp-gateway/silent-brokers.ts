/** Makes a broker that stopped answering (a frozen process: the kernel still accepts its connections, nothing answers)
 *  look to the frame log's Kafka client like one that is down, for a while. kafkajs asks again who leads a partition
 *  after a connection fails, never after a request times out, so a frozen leader was asked until it thawed, long after
 *  the controller had moved its partitions (issue 15: 39 InternalErrors in one 30 s freeze). A dead broker costs
 *  nothing of the kind (test/cluster/leader-kill.test.ts).
 *
 *  `silence(broker)` after a request to it timed out closes this client's connections to it and refuses new ones
 *  for `ms`: kafkajs then takes the path it takes for a dead broker (drops it, reads the metadata from another broker,
 *  rotates its seed broker). Requests are sent again unchanged by the same producers (same producer id and sequence
 *  numbers), so a broker that was only slow and answers afterwards still keeps one copy. */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

export interface SilentBrokers {
  readonly socketFactory: ISocketFactory;
  /** `hostPort` ("host:port", as kafkajs names a broker) timed out a request. */
  silence(hostPort: string, ms: number): void;
}

const KEEP_ALIVE_DELAY = 60000;

export const createSilentBrokers = (now: () => number = Date.now): SilentBrokers => {
  const open = new Map<string, Set<net.Socket>>();
  const until = new Map<string, number>();
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    const key = `${host}:${port}`;
    if ((until.get(key) ?? 0) > now()) {
      const refused = new net.Socket();
      process.nextTick(() => refused.destroy(Object.assign(new Error(`connect ECONNREFUSED ${key}: it did not answer a request in time`), { code: 'ECONNREFUSED' })));
      return refused;
    }
    // kafkajs' own socket factory, plus the bookkeeping.
    const socket = ssl ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect) : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY);
    const set = open.get(key) ?? new Set<net.Socket>();
    set.add(socket);
    open.set(key, set);
    socket.once('close', () => set.delete(socket));
    return socket;
  };
  return {
    socketFactory,
    silence: (hostPort, ms) => {
      until.set(hostPort, now() + ms);
      // With an error: kafkajs learns of a closed socket from 'error' or 'end', not from 'close'.
      for (const s of open.get(hostPort) ?? []) s.destroy(Object.assign(new Error(`${hostPort} did not answer a request in time`), { code: 'ECONNRESET' }));
    },
  };
};

/** The broker ("host:port") a kafkajs request timeout names, however deep kafkajs wrapped it. */
export const silentBrokerOf = (e: unknown): string | undefined => {
  let c = e as { name?: string; broker?: unknown; cause?: unknown };
  for (let i = 0; i < 10 && c; i++) {
    if (c.name === 'KafkaJSRequestTimeoutError' && typeof c.broker === 'string') return c.broker;
    if (!c.cause || c.cause === c) break;
    c = c.cause as typeof c;
  }
  return undefined;
};
