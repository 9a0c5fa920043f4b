/** The health of one lane of the frame log (one ocpp.frames partition, or the lane of the other topics), as a fold over
 *  what its produce requests met. Pure: frame-log.ts does the I/O and asks this what to do next.
 *
 *  A failed request of a partition's lane is sent again, the same records through the same producer (so under the same
 *  producer id and sequence numbers: the broker drops a copy it already has), for as long as a leader failover takes
 *  (`failoverMs` from its first attempt). Only then, or at once for a failure no resend can cure, are its records
 *  refused; the lane then refuses every new record until its probe has found the real heads of its chargers. While it
 *  resends, new records queue behind the request: the failover may well end first. Lanes are independent: a dead
 *  leader's partitions never refuse the chargers of another partition. */

export interface RetryPolicy {
  /** How long a failed request is sent again before its records are refused (OCPP_KAFKA_FAILOVER_MS). */
  readonly failoverMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export type LaneHealth =
  | { readonly state: 'writing' }
  | { readonly state: 'resending'; readonly since: number; readonly attempts: number; readonly lastError: string }
  | { readonly state: 'refusing'; readonly since: number; readonly reason: string };

/** Why a request was not acknowledged, and whether sending it again may succeed. */
export interface ProduceFailure {
  readonly retriable: boolean;
  readonly message: string;
  /** The leader answered that it did not write the request (a protocol error no resend cures): it cannot be written
   *  later. Any other failure (a timeout, a lost connection, retries spent) leaves the request in doubt. */
  readonly refusedByBroker?: boolean;
}

/** `inDoubt`: the refused request may still be written (chain-heads.ts): its chargers' heads wait for its answer. */
export type NextStep = { readonly action: 'resend'; readonly afterMs: number } | { readonly action: 'refuse'; readonly reason: string; readonly inDoubt: boolean };

export const writing: LaneHealth = { state: 'writing' };

/** After the lane's request failed at `now`: send it again after a backoff, or refuse its records. */
export const afterFailure = (h: LaneHealth, f: ProduceFailure, now: number, p: RetryPolicy): { readonly health: LaneHealth; readonly next: NextStep } => {
  const since = h.state === 'resending' ? h.since : now;
  const attempts = h.state === 'resending' ? h.attempts + 1 : 1;
  const elapsed = now - since;
  const refuse = (reason: string, inDoubt: boolean) => ({ health: { state: 'refusing', since: now, reason } as const, next: { action: 'refuse', reason, inDoubt } as const });
  if (!f.retriable) return refuse(`Kafka refused the request: ${f.message}`, f.refusedByBroker !== true);
  // Earlier attempts went unanswered: any of them may still be written.
  if (elapsed >= p.failoverMs) return refuse(`no acknowledgement within ${p.failoverMs} ms (${attempts} attempts): ${f.message}`, true);
  const afterMs = Math.max(0, Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** (attempts - 1), p.failoverMs - elapsed));
  return { health: { state: 'resending', since, attempts, lastError: f.message }, next: { action: 'resend', afterMs } };
};

/** Why a new record for this lane is refused now, if it is. */
export const refusal = (h: LaneHealth): string | undefined => (h.state === 'refusing' ? h.reason : undefined);

/** What a kafkajs producer's failure says. Once the producer's own retries are spent, a retriable cause arrives as
 *  KafkaJSNumberOfRetriesExceeded; KafkaJSNonRetriableError is what kafkajs gave up on at once (e.g. a sequence or
 *  producer id the broker does not accept: only a fresh producer and a probe of the heads help). */
export const produceFailure = (e: unknown): ProduceFailure => {
  const err = e as { name?: string; message?: string; retriable?: boolean };
  const message = err.message ?? String(e);
  const root = rootCause(e);
  const refusedByBroker = root.name === 'KafkaJSProtocolError' && root.retriable === false;
  if (err.name === 'KafkaJSNumberOfRetriesExceeded') return { retriable: true, message, refusedByBroker: false };
  if (err.name === 'KafkaJSNonRetriableError') return { retriable: false, message, refusedByBroker };
  return { retriable: err.retriable !== false, message, refusedByBroker };
};

const rootCause = (e: unknown): { name?: string; retriable?: boolean } => {
  let c = e as { name?: string; retriable?: boolean; cause?: unknown };
  for (let i = 0; i < 10 && c.cause && c.cause !== c; i++) c = c.cause as typeof c;
  return c;
};
