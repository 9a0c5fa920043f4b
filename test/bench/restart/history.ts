import { Kafka } from 'kafkajs';
import { TopicSerde } from '../../../schemas/registry';
import { Topics } from '../../../schemas/topics';
import { OcppFrame } from '../../../streams/normalizer/frame';
import { session16, session201 } from '../../../streams/normalizer/fixtures';
import { progress } from '../benchmark';

/** A history of ocpp.frames for many chargers: each charger's frames are sessions one after the other (1.6 and 2.0.1
 *  alternately), cut to `perCharger` frames. Chargers are written in blocks, the frames of a block's chargers
 *  interleaved as live traffic would be. */
const chargerFrames = (cp: string, index: number, perCharger: number, t0: number): OcppFrame[] => {
  const frames: OcppFrame[] = [];
  for (let s = 0; frames.length < perCharger; s++) {
    const script = { chargePointId: cp, t0: t0 + s * 4 * 3600_000 + index * 1000, idTag: `TAG-${index}`, meterStartWh: 30_000 * s, energyWh: 20_000 + (index % 97) * 100, minutes: 60, transactionId: String(s + 1), socStartPct: 20 };
    frames.push(...(s % 2 === 0 ? session16(script) : session201(script)));
  }
  return frames.slice(0, perCharger).map((f, i) => ({ ...f, seq: i + 1 }));
};

/** A send that a topic created a moment ago may refuse (its partitions not yet known to every broker thread): retried. */
const sendRetrying = async (send: () => Promise<unknown>): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
};

export const chargerId = (prefix: string, i: number): string => `${prefix}-${String(i).padStart(5, '0')}`;

export const produceHistory = async (kafka: Kafka, serde: TopicSerde, topic: string, o: { records: number; chargers: number; prefix: string; block?: number }): Promise<number> => {
  const perCharger = Math.max(1, Math.floor(o.records / o.chargers));
  const block = o.block ?? 2000;
  const t0 = Date.UTC(2026, 0, 1);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const bar = progress(`producing ${perCharger * o.chargers} frames`, perCharger * o.chargers);
  let sent = 0;
  try {
    for (let first = 0; first < o.chargers; first += block) {
      const lists: OcppFrame[][] = [];
      for (let i = first; i < Math.min(o.chargers, first + block); i++) lists.push(chargerFrames(chargerId(o.prefix, i), i, perCharger, t0));
      let batch: { key: string; value: Buffer }[] = [];
      for (let k = 0; k < perCharger; k++) {
        for (const list of lists) {
          const f = list[k]!;
          batch.push({ key: f.chargePointId, value: await serde.encode(Topics.ocppFrames, f) });
          if (batch.length >= 4000) {
            await sendRetrying(() => producer.send({ topic, messages: batch, acks: -1 }));
            sent += batch.length;
            bar.tick(sent);
            batch = [];
          }
        }
      }
      if (batch.length > 0) await sendRetrying(() => producer.send({ topic, messages: batch, acks: -1 }));
      sent += batch.length;
      bar.tick(sent);
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
};

/** New records after the history (a heartbeat each from `n` chargers), so that "caught up" means having processed them. */
export const produceTail = async (kafka: Kafka, serde: TopicSerde, topic: string, o: { n: number; prefix: string; at: number }): Promise<void> => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages: { key: string; value: Buffer }[] = [];
    for (let i = 0; i < o.n; i++) {
      const cp = chargerId(o.prefix, i);
      const uid = `tail-${i}`;
      const frame: OcppFrame = {
        frameId: `${cp}-tail`, chargePointId: cp, gatewayId: 'gw-bench', protocol: 'ocpp1.6', direction: 'IN', kind: 'CALL', messageTypeId: 2, uniqueId: uid, action: 'Heartbeat',
        payloadJson: '{}', errorCode: null, errorDescription: null, raw: `[2,"${uid}","Heartbeat",{}]`, seq: 1_000_000, receivedAt: o.at, commandId: null, prevHash: '', hash: '',
      };
      messages.push({ key: cp, value: await serde.encode(Topics.ocppFrames, frame) });
    }
    await sendRetrying(() => producer.send({ topic, messages, acks: -1 }));
  } finally {
    await producer.disconnect();
  }
};
