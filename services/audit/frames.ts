import * as E from 'fp-ts/Either';
import { Kafka, KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { catalog, decodeRecord, describeUndecodable } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { startPartitionReader } from '../../streams/runtime/partition-reader';
import { createLogger, Logger } from '../common/log';
import { Topics } from '../../schemas/topics';
import { ChainedContent } from '../../schemas/frame-chain';

/** ocpp.frames records as the audit tools see them, and where each came from (a Kafka offset or a line of a file). */
export interface FrameRecord extends ChainedContent {
  readonly frameId: string;
  readonly gatewayId: string;
  readonly protocol: string;
  readonly messageTypeId: number | null;
  readonly errorDescription: string | null;
  readonly commandId: string | null;
  readonly prevHash: string;
  readonly hash: string;
}

export type Origin = { readonly partition: number; readonly offset: string } | { readonly file: string; readonly line: number };

export interface LocatedFrame {
  readonly origin: Origin;
  readonly frame: FrameRecord;
}

export const describeOrigin = (o: Origin): string => ('file' in o ? `${o.file}:${o.line}` : `ocpp.frames partition ${o.partition} offset ${o.offset}`);

const num = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A decoded Avro record (or a JSON line of an export) → FrameRecord with plain numbers for seq and receivedAt. */
export const toFrameRecord = (r: Record<string, unknown>): FrameRecord => ({
  frameId: String(r.frameId),
  chargePointId: String(r.chargePointId),
  gatewayId: String(r.gatewayId),
  protocol: String(r.protocol),
  direction: String(r.direction),
  kind: String(r.kind),
  messageTypeId: r.messageTypeId === null || r.messageTypeId === undefined ? null : Number(r.messageTypeId),
  uniqueId: strOrNull(r.uniqueId),
  action: strOrNull(r.action),
  payloadJson: strOrNull(r.payloadJson),
  errorCode: strOrNull(r.errorCode),
  errorDescription: strOrNull(r.errorDescription),
  raw: String(r.raw ?? ''),
  seq: num(r.seq),
  receivedAt: num(r.receivedAt),
  commandId: strOrNull(r.commandId),
  prevHash: String(r.prevHash),
  hash: String(r.hash),
});

export interface ReadOptions {
  readonly chargePointId?: string;
  /** Only frames received at or after (epoch ms). Starts reading at the broker offset for that time. */
  readonly fromMs?: number;
  /** Only frames received before (epoch ms). */
  readonly toMs?: number;
  readonly topic?: string;
  /** Called now and then with (records read, records to read), for a progress bar. */
  readonly progress?: (done: number, total: number) => void;
  readonly log?: Logger;
}

/** A record of ocpp.frames through its catalog entry; one that does not decode is an error naming where it is. */
const decodeFrame = async (serde: TopicSerde, topic: string, partition: number, m: KafkaMessage): Promise<FrameRecord> => {
  const raw = await serde.decode(m.value!);
  const frame = decodeRecord({ name: topic, decode: catalog.ocppFrames.decode }, { partition, offset: Number(m.offset) }, raw);
  if (E.isLeft(frame)) throw new Error(`ocpp.frames record does not decode: ${describeUndecodable(frame.left)}`);
  return frame.right;
};

/** Reads ocpp.frames from the beginning (or from `fromMs`) up to the end offsets of the moment the call starts, in log
 *  order per partition (partition by partition), committed records only, on the fold runtime's partition reader
 *  (streams/runtime/partition-reader.ts: a throw-away group that commits nothing). */
export const readFrames = async (kafka: Kafka, serde: TopicSerde, opts: ReadOptions = {}): Promise<LocatedFrame[]> => {
  const topic = opts.topic ?? Topics.ocppFrames;
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  let starts: Map<number, string>;
  try {
    ends = await admin.fetchTopicOffsets(topic);
    starts = new Map(ends.map((p) => [p.partition, p.low]));
    if (opts.fromMs !== undefined) {
      for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, opts.fromMs)) {
        const end = ends.find((e) => e.partition === p.partition)!;
        // -1: no record at or after that time.
        starts.set(p.partition, p.offset === '-1' ? end.high : p.offset);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const ranges = ends
    .map((e) => ({ partition: e.partition, from: Number(starts.get(e.partition) ?? e.low), until: Number(e.high) }))
    .filter((r) => r.until > r.from)
    .sort((a, b) => a.partition - b.partition);
  const total = ranges.reduce((n, r) => n + r.until - r.from, 0);
  if (ranges.length === 0) return [];

  const reader = await startPartitionReader({ kafka, groupId: `voltstream-audit-${randomUUID()}`, topics: [topic], log: opts.log ?? createLogger('audit', 'warn') });
  const found = new Map<number, LocatedFrame[]>(ranges.map((r) => [r.partition, []]));
  let read = 0;
  try {
    const reading = Promise.all(
      ranges.map((r) =>
        reader.read(topic, r.partition, r.from, r.until, async (records) => {
          for (const m of records) {
            read++;
            if (!m.value || (opts.chargePointId && m.key?.toString() !== opts.chargePointId)) continue;
            const frame = await decodeFrame(serde, topic, r.partition, m);
            const inRange = (!opts.chargePointId || frame.chargePointId === opts.chargePointId) &&
              (opts.fromMs === undefined || frame.receivedAt >= opts.fromMs) && (opts.toMs === undefined || frame.receivedAt < opts.toMs);
            if (inRange) found.get(r.partition)!.push({ origin: { partition: r.partition, offset: m.offset }, frame });
          }
          opts.progress?.(read, total);
        }),
      ),
    );
    await Promise.race([reading, reader.died.then((e) => Promise.reject(e))]);
    opts.progress?.(total, total);
  } finally {
    await reader.stop();
  }
  return ranges.flatMap((r) => found.get(r.partition)!);
};

/** One JSON line per frame: `{ "partition", "offset", "frame": {...} }`, the format of `verify --export` and
 *  `transcript --json`, read back by `verify --file`. */
export const toExportLine = (f: LocatedFrame): string =>
  JSON.stringify({ ...('file' in f.origin ? {} : { partition: f.origin.partition, offset: f.origin.offset }), frame: f.frame });

export const parseExport = (text: string, file: string): { frames: LocatedFrame[]; problems: string[] } => {
  const frames: LocatedFrame[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const o = JSON.parse(line) as { frame?: Record<string, unknown> };
      if (!o.frame || typeof o.frame !== 'object') throw new Error('no "frame" object');
      frames.push({ origin: { file, line: i + 1 }, frame: toFrameRecord(o.frame) });
    } catch (e) {
      problems.push(`${file}:${i + 1}: unreadable line (${(e as Error).message})`);
    }
  });
  return { frames, problems };
};
