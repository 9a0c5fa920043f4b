import { Admin } from 'kafkajs';
import { LIMITS } from './model';

/** Where the dashboard starts reading ocpp.frames: the recent traffic it shows is the last LIMITS.trafficPerCharger
 *  frames of each charger, so a partition's tail of twice that per live charger (chargers spread over the partitions
 *  by key), and never before the look-back, holds it. Its cost grows with live chargers, not with the log. */
export const framesPerPartition = (liveChargers: number, partitions: number): number =>
  Math.max(100, Math.ceil((2 * LIMITS.trafficPerCharger * liveChargers) / Math.max(1, partitions)));

/** Pure: the first offset to read of one partition. */
export const tailStart = (p: { low: number; high: number; sinceOffset: number }, perPartition: number): number => Math.max(p.low, p.sinceOffset, p.high - perPartition);

/** Next offset per `topic:partition` of `topic`'s tail. */
export const framesTail = async (admin: Admin, topic: string, liveChargers: number, since: number): Promise<Map<string, number>> => {
  const offsets = await admin.fetchTopicOffsets(topic);
  const bySince = new Map((await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((p) => [p.partition, Number(p.offset)]));
  const perPartition = framesPerPartition(liveChargers, offsets.length);
  return new Map(
    offsets.map((p) => {
      const high = Number(p.high);
      const sinceOffset = bySince.get(p.partition) ?? high;
      return [`${topic}:${p.partition}`, tailStart({ low: Number(p.low), high, sinceOffset: sinceOffset < 0 ? high : sinceOffset }, perPartition)];
    }),
  );
};
