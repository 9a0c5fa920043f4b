import { randomUUID } from 'node:crypto';
import { Message } from 'kafkajs';
import * as E from 'fp-ts/Either';
import { ServiceContext } from '../common/service';
import { createDurableProducer } from '../common/kafka';
import { parseJson } from '../common/decode';
import { Topics } from '../../schemas/topics';
import { AdapterItem, adapters } from './adapters';
import { checkValues, Problem, problem, ProblemCode, ProviderReading, Reading, readingIdOf, readingToAvro } from './reading';
import { checkJumps, History, remember } from './plausibility';
import { createSeenIds } from './dedupe';
import { createBatchingSink, Sink } from './sink';
import { createIngestMetrics, IngestMetrics } from './metrics';
import { followVehicleRegistry, VehicleRegistry } from './vehicle-registry';
import { ProviderConfig, Providers } from './providers';

/** The ingest core, shared by push (HTTP) and pull (poller): raw provider bytes in, normalized readings durably in
 *  telematics.readings and refusals in telematics.rejected out.
 *
 *  Per item of a batch (a reading, a webhook event, the diagnostic records of one device at one instant):
 *  - malformed, SoC outside 0–100, another value out of range, readingAt > 5 min ahead of receive time, unknown
 *    vehicle (only once fleet.config is read up to date; `unavailable` when it cannot be): rejected, every problem listed;
 *  - same provider reading id as one written before (or earlier in the same batch): `duplicate`, not written again;
 *  - an impossible jump against the vehicle's earlier readings (plausibility.ts): rejected;
 *  - otherwise accepted. Good items of a batch are written even when others are refused (per-item results).
 *  Accepted readings and the audit records of refused ones go to Kafka in one acks=all send; the caller hears back
 *  only after Kafka acknowledged it, or `unavailable` after `produceTimeoutMs`. A send that acknowledges after the
 *  timeout still marks its readings as written, so the provider's retry becomes a duplicate: nothing is doubled. */
export type ItemStatus = 'accepted' | 'duplicate' | 'rejected' | 'ignored';

export interface ItemOutcome {
  readonly item: string;
  readonly status: ItemStatus;
  readonly readingId?: string;
  readonly problems?: readonly string[];
}

export type IngestOutcome =
  | { readonly kind: 'unavailable'; readonly message: string }
  | { readonly kind: 'refused'; readonly status: 400 | 422; readonly problems: readonly string[] }
  | { readonly kind: 'processed'; readonly items: readonly ItemOutcome[] };

export interface IngestOptions {
  readonly providers: Providers;
  /** How long a request waits for Kafka before answering 503 (TELEMATICS_PRODUCE_TIMEOUT_MS, default 5000). */
  readonly produceTimeoutMs?: number;
  /** Reading ids remembered for de-duplication (default 200000). */
  readonly dedupeCapacity?: number;
  /** How long an unknown vehicle waits for fleet.config to be read up to date (default 3000). */
  readonly registryCatchUpMs?: number;
  /** Impossible-jump checks (plausibility.ts); default on. */
  readonly jumpChecks?: boolean;
}

export interface Ingest {
  readonly providers: Providers;
  readonly metrics: IngestMetrics;
  readonly registry: VehicleRegistry;
  ingest(provider: ProviderConfig, raw: Buffer, receivedAt: number): Promise<IngestOutcome>;
  stop(): Promise<void>;
}

export class KafkaUnavailable extends Error {
  readonly retriable = true;
}

/** p, or KafkaUnavailable after ms (also the site meters' ingest). */
export const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new KafkaUnavailable(`Kafka did not acknowledge within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });

interface Checked {
  readonly label: string;
  readonly raw: unknown;
  readonly reading: ProviderReading | null;
  readonly problems: Problem[];
}

const codesOf = (problems: readonly Problem[]): ProblemCode[] => [...new Set(problems.map((p) => p.code))];

export const startIngest = async (ctx: ServiceContext, opts: IngestOptions): Promise<Ingest> => {
  const log = ctx.log.child({ component: 'telematics-ingest' });
  const metrics = createIngestMetrics(ctx.metrics);
  const produceTimeoutMs = opts.produceTimeoutMs ?? 5000;
  const catchUpMs = opts.registryCatchUpMs ?? 3000;
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const registry = await followVehicleRegistry(ctx);
  const sink: Sink = createBatchingSink(producer, {
    onSend: (_n, seconds, ok) => metrics.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds),
  });
  const seen = createSeenIds(opts.dedupeCapacity ?? 200_000);
  const inflight = new Map<string, Promise<boolean>>();
  const histories = new Map<string, History>();

  const rejectionMessage = async (provider: string, raw: Buffer, problems: readonly string[], httpStatus: number, receivedAt: number): Promise<Message> => ({
    key: provider,
    value: await ctx.serde.encode(Topics.telematicsRejected, { rejectionId: randomUUID(), provider, raw, problems: [...problems], httpStatus, receivedAt }),
  });

  /** Writes through the sink and waits at most produceTimeoutMs; `after` runs when Kafka acknowledged, even late. */
  const write = (topicMessages: { topic: string; messages: Message[] }[], after: () => void): { flight: Promise<boolean>; answer: Promise<void> } => {
    const sent = sink.write(topicMessages);
    const flight = sent.then(
      () => (after(), true),
      (e: Error) => (log.warn('Kafka did not take telematics records', { err: e }), false),
    );
    return { flight, answer: within(sent, produceTimeoutMs) };
  };

  const refuse = async (provider: ProviderConfig, raw: Buffer, status: 400 | 422, problems: string[], receivedAt: number): Promise<IngestOutcome> => {
    const msg = await rejectionMessage(provider.name, raw, problems, status, receivedAt);
    await write([{ topic: Topics.telematicsRejected, messages: [msg] }], () => metrics.rejected.inc({ provider: provider.name, reason: 'malformed' })).answer;
    return { kind: 'refused', status, problems };
  };

  const check = async (provider: ProviderConfig, items: readonly AdapterItem[], receivedAt: number): Promise<Checked[]> => {
    const checked: Checked[] = items.map((it) => {
      if (E.isLeft(it.reading)) return { label: it.label, raw: it.raw, reading: null, problems: it.reading.left.map((m) => problem('malformed', m)) };
      const r = it.reading.right;
      return { label: it.label, raw: it.raw, reading: r, problems: r ? checkValues(r, receivedAt) : [] };
    });
    // An unknown vehicle is only refused once fleet.config is read up to date; if it can't be, the answer is 503.
    const unknown = checked.some((c) => c.reading && !registry.lookup(provider.name, c.reading.providerVehicleId));
    if (unknown && !(await registry.catchUp(catchUpMs))) throw new KafkaUnavailable('the vehicle registry (fleet.config) could not be read up to date');
    return checked.map((c) =>
      c.reading && !registry.lookup(provider.name, c.reading.providerVehicleId)
        ? { ...c, problems: [...c.problems, problem('unknown_vehicle', `vehicle '${c.reading.providerVehicleId}' is not registered for provider '${provider.name}'`)] }
        : c,
    );
  };

  const ingest = async (provider: ProviderConfig, raw: Buffer, receivedAt: number): Promise<IngestOutcome> => {
    try {
      const json = parseJson(raw.toString('utf8'));
      if (E.isLeft(json)) return await refuse(provider, raw, 400, [json.left], receivedAt);
      const items = adapters[provider.shape].parse(json.right);
      if (E.isLeft(items)) return await refuse(provider, raw, 422, items.left, receivedAt);
      const checked = await check(provider, items.right, receivedAt);

      // From here on synchronous until the write: de-duplication and jump checks see one consistent state.
      const outcomes: ItemOutcome[] = [];
      const accepted: Reading[] = [];
      const rejected: { label: string; raw: unknown; problems: Problem[] }[] = [];
      const waitFor: Promise<boolean>[] = [];
      const batchIds = new Set<string>();
      const overlay = new Map<string, History>();
      let duplicates = 0;
      for (const c of checked) {
        if (c.problems.length) {
          rejected.push(c);
          outcomes.push({ item: c.label, status: 'rejected', problems: c.problems.map((p) => p.message) });
          continue;
        }
        if (!c.reading) {
          outcomes.push({ item: c.label, status: 'ignored' });
          continue;
        }
        const { providerVehicleId, ...values } = c.reading;
        const readingId = readingIdOf(provider.name, values.providerReadingId);
        const other = inflight.get(readingId);
        if (seen.has(readingId) || batchIds.has(readingId) || other) {
          if (other) waitFor.push(other);
          duplicates++;
          outcomes.push({ item: c.label, status: 'duplicate', readingId });
          continue;
        }
        const vehicleId = registry.lookup(provider.name, providerVehicleId)!.vehicleId;
        const history = overlay.get(vehicleId) ?? histories.get(vehicleId) ?? [];
        const jumps = opts.jumpChecks === false ? [] : checkJumps(history, values);
        if (jumps.length) {
          const problems = jumps.map((m) => problem('implausible_jump', m));
          rejected.push({ ...c, problems });
          outcomes.push({ item: c.label, status: 'rejected', problems: jumps });
          continue;
        }
        overlay.set(vehicleId, remember(history, values));
        batchIds.add(readingId);
        accepted.push({ ...values, readingId, vehicleId, provider: provider.name, receivedAt });
        outcomes.push({ item: c.label, status: 'accepted', readingId });
      }

      const status = outcomes.some((o) => o.status !== 'rejected') ? (rejected.length ? 207 : 200) : 422;
      const readingMessages: Message[] = await Promise.all(
        accepted.map(async (r) => ({ key: r.vehicleId, value: await ctx.serde.encode(Topics.telematicsReadings, readingToAvro(r)) })),
      );
      const rejectionMessages = await Promise.all(
        rejected.map((r) => rejectionMessage(provider.name, Buffer.from(JSON.stringify(r.raw) ?? 'null'), r.problems.map((p) => `${r.label}: ${p.message}`), status, receivedAt)),
      );
      const { flight, answer } = write(
        [
          { topic: Topics.telematicsReadings, messages: readingMessages },
          { topic: Topics.telematicsRejected, messages: rejectionMessages },
        ].filter((tm) => tm.messages.length > 0),
        () => {
          for (const r of accepted) {
            seen.add(r.readingId);
            histories.set(r.vehicleId, remember(histories.get(r.vehicleId) ?? [], r));
          }
          metrics.accepted.inc({ provider: provider.name }, accepted.length);
          for (const r of rejected) for (const reason of codesOf(r.problems)) metrics.rejected.inc({ provider: provider.name, reason });
        },
      );
      for (const r of accepted) inflight.set(r.readingId, flight);
      void flight.then(() => accepted.forEach((r) => inflight.get(r.readingId) === flight && inflight.delete(r.readingId)));

      await answer;
      const others = await within(Promise.all(waitFor), produceTimeoutMs);
      if (others.some((ok) => !ok)) throw new KafkaUnavailable('an earlier delivery of the same readings was not acknowledged by Kafka');
      if (duplicates) metrics.duplicates.inc({ provider: provider.name }, duplicates);
      return { kind: 'processed', items: outcomes };
    } catch (e) {
      metrics.unavailable.inc({ provider: provider.name });
      log.warn('telematics not taken: Kafka or registry unavailable', { provider: provider.name, err: e as Error });
      return { kind: 'unavailable', message: (e as Error).message };
    }
  };

  return {
    providers: opts.providers,
    metrics,
    registry,
    ingest,
    stop: async () => {
      await registry.stop();
      await producer.disconnect().catch(() => undefined);
    },
  };
};
