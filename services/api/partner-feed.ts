import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { Admin, Consumer, Kafka } from 'kafkajs';
import { WebSocket, WebSocketServer } from 'ws';
import { Logger } from '../common/log';
import { RouteParams } from '../common/http';
import { TopicSerde } from '../../schemas/registry';
import { fromAvro } from '../../schemas/events';
import { partnerTopic } from '../../schemas/topics';

/** A partner's feed over WebSocket: the records of partner.{id}.events, from a given position on, as JSON text
 *  messages. The first message is `{ "type": "ready", "position" }`; then one `{ "type": "event", "position",
 *  "partition", "offset", "event" }` per record, where `position` is an opaque token that resumes right after that
 *  record (`?from=<token>`). `from` also takes `earliest` (default), `latest` or an ISO 8601 time. */
export type Position = Readonly<Record<string, string>>;

export const encodePosition = (p: ReadonlyMap<number, string>): string =>
  Buffer.from(JSON.stringify(Object.fromEntries([...p].sort((a, b) => a[0] - b[0])))).toString('base64url');

export const decodePosition = (token: string): Map<number, string> | undefined => {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    const m = new Map<number, string>();
    for (const [k, v] of Object.entries(o)) {
      if (!/^\d+$/.test(k) || typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
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
    // A position older than what the topic still keeps starts at the oldest record kept.
    offsets.set(e.partition, want === undefined || BigInt(want) < BigInt(e.low) ? e.low : want);
  }
  return { ok: true, offsets };
};

export const createPartnerFeed = (deps: { kafka: Kafka; admin: Admin; serde: TopicSerde; log: Logger }) => {
  const wss = new WebSocketServer({ noServer: true });
  const open = new Set<{ ws: WebSocket; consumer: Consumer }>();

  const refuse = (socket: Duplex, status: number, title: string, problem: string) => {
    const body = JSON.stringify({ type: 'about:blank', status, title, problems: [problem] });
    socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, params: RouteParams, url: URL): void => {
    const partnerId = params.partnerId!;
    const topic = partnerTopic(partnerId);
    void (async () => {
      const start = await resolveStart(deps.admin, topic, url.searchParams.get('from'));
      if (!start.ok) return refuse(socket, start.status, start.status === 404 ? 'Not Found' : 'Bad Request', start.problem);
      const positions = new Map(start.offsets);
      const consumer = deps.kafka.consumer({ groupId: `voltstream-feed-${partnerId}-${randomUUID()}`, maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = { ws, consumer };
        open.add(conn);
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
        const close = () => {
          clearInterval(ping);
          if (!open.delete(conn)) return;
          consumer.disconnect().catch(() => undefined);
        };
        ws.on('close', close);
        ws.on('error', close);
        ws.send(JSON.stringify({ type: 'ready', partnerId, topic, position: encodePosition(positions) }));
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              if (ws.readyState !== WebSocket.OPEN || !message.value) return;
              const event = fromAvro(await deps.serde.decode<Record<string, unknown>>(message.value));
              positions.set(partition, (BigInt(message.offset) + 1n).toString());
              ws.send(JSON.stringify({ type: 'event', position: encodePosition(positions), partition, offset: message.offset, event }));
              // Back-pressure: a slow reader pauses the consumer instead of growing the send buffer.
              while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 50));
            },
          })
          .catch((e: unknown) => {
            deps.log.warn('partner feed consumer failed', { partnerId, err: e });
            ws.close(1011, 'feed failed');
          });
        for (const [partition, offset] of start.offsets) consumer.seek({ topic, partition, offset });
      });
    })().catch((e: unknown) => {
      deps.log.error('partner feed upgrade failed', { partnerId, err: e });
      refuse(socket, 500, 'Internal Server Error', 'the feed could not be opened; see the server log');
    });
  };

  return {
    upgrade,
    close: async () => {
      for (const c of [...open]) {
        c.ws.terminate();
        await c.consumer.disconnect().catch(() => undefined);
      }
      open.clear();
      wss.close();
    },
  };
};
