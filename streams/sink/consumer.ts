import { Batch } from 'kafkajs';

/** What both sinks (pg-sink, kafka-processor) need from kafkajs beyond its typed API. */

/** Consumer group timeouts: how long a crashed member holds its partitions (default 30 s), heartbeats well inside. */
export const groupTimeouts = (sessionTimeoutMs = 30000): { sessionTimeout: number; heartbeatInterval: number } => ({
  sessionTimeout: sessionTimeoutMs,
  heartbeatInterval: Math.min(3000, sessionTimeoutMs / 3),
});

/** The offset a batch's fetch started at (kafkajs keeps it on the batch, untyped); Infinity when unknown. A fetch that
 *  started at our position and returns later offsets only skipped what kafkajs doesn't show: transaction markers and
 *  aborted records. */
export const fetchedOffsetOf = (batch: Batch): number => Number((batch as unknown as { fetchedOffset?: string }).fetchedOffset ?? Infinity);
