import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import * as E from 'fp-ts/Either';
import { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { WebSocket, WebSocketServer } from 'ws';
import { Logger } from '../common/log';
import { RouteParams } from '../common/http';
import { TopicSerde } from '../../schemas/registry';
import { fromAvro } from '../../schemas/events';
import { partnerTopic } from '../../schemas/topics';
import { committedMessagesOf } from '../../streams/runtime/committed-records';
import { principalOf } from './server';
import { decodeFeedLimits, FeedLimits } from './partner-feed-limits';
import { upgradeProblem } from './upgrade-request';

/** A partner's feed over WebSocket: the records of partner.{id}.events, from a given position on, as JSON text
 *  messages. The first message is `{ "type": "ready", "position" }`; then one `{ "type": "event", "position",
 *  "partition", "offset", "event" }` per record, where `position` is an opaque token that resumes right after that
 *  record (`?from=<token>`). `from` also takes `earliest` (default), `latest` or an ISO 8601 time.
 *
 *  The server has checked the key and its scope `partner:{id}` before this runs. Everything else is checked before a
 *  Kafka consumer exists: the handshake itself, the number of feeds the key has open (FeedLimits), that the partner's
 *  topic exists, and `from`. A reader that falls behind by more than the outbound cap is closed, not buffered. */
export type Position = Readonly<Record<string, string>>;

export const encodePosition = (p: ReadonlyMap<number, string>): string =>
  Buffer.from(JSON.stringify(Object.fromEntries([...p].sort((a, b) => a[0] - b[0])))).toString('base64url');

export const decodePosition = (token: string): Map<number, string> | undefined => {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    const m = new Map<number, string>();
    for (const [k, v] of Object.entries(o)) {
      if (!/^\d+$/.test(k) || typeof v !== 'string' || !/^\d{1,19}$/.test(v)) return undefined;
      m.set(Number(k), v);
    }
    return m;
  } catch {
    return undefined;
  }
};

type Start = { ok: true; offsets: Map<number, string> } | { ok: false; status: number; problem: string };

export const resolveStart = async (admin: Admin, topic: string, from: string | null): Promise<Start> => {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) return { ok: false, status: 404, problem: `no feed yet: ${topic} does not exist (configure the partner first)` };
  const ends = await admin.fetchTopicOffsets(topic);
  const offsets = new Map<number, string>();
  const spec = from ?? 'earliest';
  if (spec === 'earliest' || spec === 'latest') {
    for (const e of ends) offsets.set(e.partition, spec === 'earliest' ? e.low : e.high);
    return { ok: true, offsets };
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(spec) && !Number.isNaN(Date.parse(spec))) {
    for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, Date.parse(spec))) {
      offsets.set(p.partition, p.offset === '-1' ? ends.find((e) => e.partition === p.partition)!.high : p.offset);
    }
    return { ok: true, offsets };
  }
  const token = decodePosition(spec);
  if (!token) return { ok: false, status: 400, problem: 'from: expected earliest, latest, an ISO 8601 time or a position token from this feed' };
  for (const e of ends) {
    const want = token.get(e.partition);
    // A position older than what the topic still keeps starts at the oldest record kept; one past the end, at the end.
    offsets.set(e.partition, want === undefined || BigInt(want) < BigInt(e.low) ? e.low : BigInt(want) > BigInt(e.high) ? e.high : want);
  }
  return { ok: true, offsets };
};

const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error' };

/** Feeds open per API key: a slot is taken before any Kafka work and given back exactly once. */
const createFeedSlots = (maxPerKey: number) => {
  const open = new Map<string, number>();
  return {
    take: (keyId: string): (() => void) | undefined => {
      const n = open.get(keyId) ?? 0;
      if (n >= maxPerKey) return undefined;
      open.set(keyId, n + 1);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        const left = (open.get(keyId) ?? 1) - 1;
        if (left > 0) open.set(keyId, left);
        else open.delete(keyId);
      };
    },
  };
};

export const createPartnerFeed = (deps: { kafka: Kafka; admin: Admin; serde: TopicSerde; log: Logger; limits?: FeedLimits }) => {
  const limits = deps.limits ?? E.getOrElseW((message: string) => {
    throw new Error(message);
  })(decodeFeedLimits(process.env));
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const slots = createFeedSlots(limits.maxPerKey);
  /** Open feeds, each with its stop (idempotent); consumers being disconnected, awaited by close(). */
  const open = new Set<{ ws: WebSocket; stop: () => void }>();
  const disconnecting = new Set<Promise<void>>();

  const refuse = (socket: Duplex, status: number, problem: string, headers: Record<string, string> = {}) => {
    const body = JSON.stringify({ type: 'about:blank', status, title: titles[status], problems: [problem] });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(`HTTP/1.1 ${status} ${titles[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
  };

  /** Follows the topic from `offsets` into the open socket, until either side ends it. */
  const follow = async (ws: WebSocket, partnerId: string, topic: string, offsets: Map<number, string>, release: () => void) => {
    const consumer: Consumer = deps.kafka.consumer({ groupId: `voltstream-feed-${partnerId}-${randomUUID()}`, maxWaitTimeInMs: 200 });
    let stopped = false;
    let setUp: Promise<void> = Promise.resolve();
    const stop = () => {
      release();
      if (stopped) return;
      stopped = true;
      open.delete(conn);
      // After the set-up, whatever stage it reached; and never awaited here, as this may run inside eachBatch.
      const p = setUp.catch(() => undefined).then(() => consumer.disconnect()).catch(() => undefined);
      disconnecting.add(p);
      void p.finally(() => disconnecting.delete(p));
    };
    const conn = { ws, stop };
    open.add(conn);
    ws.on('close', stop);
    ws.on('error', stop);
    const closeSlowReader = () => {
      ws.close(1008, 'reader too slow: reconnect with from= the last position received');
      stop();
    };
    const positions = new Map(offsets);
    const send = async (partition: number, message: KafkaMessage, heartbeat: () => Promise<void>) => {
      if (stopped || ws.readyState !== WebSocket.OPEN || !message.value) return;
      const event = fromAvro(await deps.serde.decode<Record<string, unknown>>(message.value));
      positions.set(partition, (BigInt(message.offset) + 1n).toString());
      ws.send(JSON.stringify({ type: 'event', position: encodePosition(positions), partition, offset: message.offset, event }));
      // Back-pressure with a bound: the consumer waits while the reader drains its backlog, for a while.
      const waitUntil = Date.now() + limits.slowReaderMs;
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > limits.maxBufferedBytes) {
        if (Date.now() >= waitUntil) return closeSlowReader();
        await new Promise((r) => setTimeout(r, 50));
        await heartbeat();
      }
    };
    setUp = (async () => {
      await consumer.connect();
      if (stopped) return;
      await consumer.subscribe({ topic, fromBeginning: true });
      if (stopped) return;
      ws.send(JSON.stringify({ type: 'ready', partnerId, topic, position: encodePosition(positions) }));
      await consumer.run({
        autoCommit: false,
        // Resolved record by record, as eachMessage did.
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          for (const message of committedMessagesOf(batch)) {
            if (!isRunning() || isStale()) return;
            await send(batch.partition, message, heartbeat);
            resolveOffset(message.offset);
            await heartbeat();
          }
          if (isRunning() && !isStale()) resolveOffset(batch.lastOffset());
        },
      });
      for (const [partition, offset] of offsets) consumer.seek({ topic, partition, offset });
    })();
    await setUp;
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, params: RouteParams, url: URL): void => {
    const partnerId = params.partnerId!;
    const topic = partnerTopic(partnerId);
    const malformed = upgradeProblem(req);
    if (malformed) return refuse(socket, 400, malformed);
    const keyId = principalOf(req)?.id ?? 'anonymous';
    const release = slots.take(keyId);
    if (!release) return refuse(socket, 429, `this API key has ${limits.maxPerKey} feed(s) open, the most allowed at once: close one first`, { 'Retry-After': '5' });
    socket.once('close', release);
    void (async () => {
      const start = await resolveStart(deps.admin, topic, url.searchParams.get('from'));
      if (!start.ok) {
        release();
        return refuse(socket, start.status, start.problem);
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Keep-alive through proxies, and a dead peer noticed: ping every 30 s, drop it when no pong came back.
        let alive = true;
        ws.on('pong', () => {
          alive = true;
        });
        const ping = setInterval(() => {
          if (!alive) return ws.terminate();
          alive = false;
          ws.ping();
        }, 30_000);
        ping.unref();
        ws.on('close', () => clearInterval(ping));
        follow(ws, partnerId, topic, start.offsets, release).catch((e: unknown) => {
          deps.log.warn('partner feed consumer failed', { partnerId, err: e });
          ws.close(1011, 'feed failed');
        });
      });
    })().catch((e: unknown) => {
      release();
      deps.log.error('partner feed upgrade failed', { partnerId, err: e });
      refuse(socket, 500, 'the feed could not be opened; see the server log');
    });
  };

  return {
    upgrade,
    close: async () => {
      for (const c of [...open]) {
        c.ws.terminate();
        c.stop();
      }
      await Promise.all([...disconnecting]);
      wss.close();
    },
  };
};
