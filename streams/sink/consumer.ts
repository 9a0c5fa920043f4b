import { Batch } from 'kafkajs';

/** What both sinks (pg-sink, kafka-processor) need from kafkajs beyond its typed API. */

/** Consumer group timeouts: how long a crashed member holds its partitions (default 30 s), heartbeats well inside. */
export const groupTimeouts = (sessionTimeoutMs = 30000): { sessionTimeout: number; heartbeatInterval: number } => ({
  sessionTimeout: sessionTimeoutMs,
  heartbeatInterval: Math.min(3000, sessionTimeoutMs / 3),
});

/** Fetches of a processor's group consumer: the broker answers once 16 KiB (some 20 frames) are there, or after 100 ms.
 *  With the default of one byte a loaded processor fetched a few records at a time, and each such batch cost a Kafka
 *  transaction (run-fold.ts, kafka-processor.ts) or a database transaction (pg-sink.ts): the broker's CPU went to
 *  transaction markers, not records. The price: on a quiet system a record waits up to 100 ms at each such hop
 *  (before, the broker answered as soon as one arrived); the optimizer's and the gateway's command consumers keep
 *  answering at once. */
export const batchedFetch = { minBytes: 16 * 1024, maxWaitTimeInMs: 100 } as const;

/** The offset a batch's fetch started at (kafkajs keeps it on the batch, untyped); Infinity when unknown. A fetch that
 *  started at our position and returns later offsets only skipped what kafkajs doesn't show: transaction markers and
 *  aborted records. */
export const fetchedOffsetOf = (batch: Batch): number => Number((batch as unknown as { fetchedOffset?: string }).fetchedOffset ?? Infinity);
