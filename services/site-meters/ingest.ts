import { randomUUID } from 'node:crypto';
import { Message } from 'kafkajs';
import * as E from 'fp-ts/Either';
import { ServiceContext } from '../common/service';
import { createDurableProducer } from '../common/kafka';
import { parseJson } from '../common/decode';
import { catalog } from '../../schemas/catalog';
import { MeterSource, SiteMeterReading } from '../../schemas/site-meter-record';
import { createBatchingSink } from '../telematics-ingest/sink';
import { createSeenIds } from '../telematics-ingest/dedupe';
import { within } from '../telematics-ingest/ingest';
import { Candidate, pushItems } from './reading';
import { toRecord } from './reading';
import { checkReading, Problem, ProblemCode } from './plausibility';
import { createSiteMeterMetrics, SiteMeterMetrics } from './metrics';
import { MeterConfig, SiteConfig } from './sites';

/** The site meters' ingest, shared by the HTTP push and the Modbus poller: readings in, site.meter-readings (key
 *  siteId) and, for anything refused, site.meter-rejected out.
 *
 *  Per reading: malformed, unknown meter (not configured for the site) or implausible (plausibility.ts): rejected,
 *  every problem listed, and its raw form kept on site.meter-rejected; same meter and instant as one written before
 *  (the last 100 000 in memory, earlier in the same push, or in flight in another): `duplicate`, not written again; otherwise accepted.
 *  A Modbus poll that gave no reading (timeout, exception response, connection refused) is a rejected record too.
 *  Readings and rejections of one push or poll go to Kafka in one acks=all send through the batching sink of the
 *  telematics ingest; the caller hears back only after Kafka acknowledged it, or `unavailable` after produceTimeoutMs. */
export type ItemStatus = 'accepted' | 'duplicate' | 'rejected';

export interface ItemOutcome {
  readonly item: string;
  readonly status: ItemStatus;
  readonly readingId?: string;
  readonly problems?: readonly string[];
}

export type PushOutcome =
  | { readonly kind: 'unavailable'; readonly message: string }
  | { readonly kind: 'refused'; readonly problems: readonly string[] }
  | { readonly kind: 'processed'; readonly items: readonly ItemOutcome[] };

/** What one Modbus poll of a meter gave: a reading to judge, or why there is none. */
export type PollResult = { readonly kind: 'reading'; readonly candidate: Candidate; readonly raw: unknown } | { readonly kind: 'failed'; readonly problems: readonly Problem[]; readonly raw: unknown };

export interface SiteMeterIngest {
  readonly metrics: SiteMeterMetrics;
  push(site: SiteConfig, raw: Buffer, receivedAt: number): Promise<PushOutcome>;
  polled(meter: MeterConfig, result: PollResult, receivedAt: number): Promise<ItemStatus | 'unavailable'>;
  stop(): Promise<void>;
}

interface Judged {
  readonly label: string;
  readonly raw: unknown;
  readonly meterId: string | null;
  readonly record: SiteMeterReading | null;
  readonly problems: readonly Problem[];
}

const codesOf = (problems: readonly Problem[]): ProblemCode[] => [...new Set(problems.map((p) => p.code))];
const malformed = (messages: readonly string[]): Problem[] => messages.map((message) => ({ code: 'malformed', message }));

export const startSiteMeterIngest = async (ctx: ServiceContext, opts: { produceTimeoutMs?: number; dedupeCapacity?: number } = {}): Promise<SiteMeterIngest> => {
  const log = ctx.log.child({ component: 'site-meters' });
  const metrics = createSiteMeterMetrics(ctx.metrics);
  const produceTimeoutMs = opts.produceTimeoutMs ?? 5000;
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const sink = createBatchingSink(producer);
  const seen = createSeenIds(opts.dedupeCapacity ?? 100_000);
  const inflight = new Map<string, Promise<boolean>>();

  const rejection = async (siteId: string, meterId: string | null, source: MeterSource, raw: Buffer, problems: readonly string[], httpStatus: number | null, receivedAt: number): Promise<Message> => ({
    key: siteId,
    value: await ctx.serde.encode(catalog.siteMeterRejected.name, { rejectionId: randomUUID(), siteId, meterId, source, raw, problems: [...problems], httpStatus, receivedAt }),
  });
  const reading = async (r: SiteMeterReading): Promise<Message> => ({ key: r.siteId, value: await ctx.serde.encode(catalog.siteMeterReadings.name, catalog.siteMeterReadings.encode(r)) });

  const judge = (meters: ReadonlyMap<string, MeterConfig>, siteId: string, label: string, raw: unknown, candidate: E.Either<string[], Candidate>, receivedAt: number, source: MeterSource): Judged => {
    if (E.isLeft(candidate)) return { label, raw, meterId: null, record: null, problems: malformed(candidate.left) };
    const c = candidate.right;
    const meter = meters.get(c.meterId);
    if (!meter) return { label, raw, meterId: c.meterId, record: null, problems: [{ code: 'unknown_meter', message: `meter '${c.meterId}' is not configured for site '${siteId}'` }] };
    const problems = checkReading(meter, c, receivedAt);
    return { label, raw, meterId: c.meterId, record: problems.length ? null : toRecord(meter, c, receivedAt, source), problems };
  };

  /** Writes the accepted readings and the rejections of one push or poll; resolves once Kafka acknowledged. */
  const write = async (siteId: string, source: MeterSource, judged: readonly Judged[], httpStatus: number | null, receivedAt: number): Promise<ItemOutcome[]> => {
    const batchIds = new Set<string>();
    const waitFor: Promise<boolean>[] = [];
    const outcomes: ItemOutcome[] = [];
    const accepted: SiteMeterReading[] = [];
    const rejected: Judged[] = [];
    // Synchronous from here until every accepted id is in flight: two pushes of the same reading at once write it once.
    for (const j of judged) {
      if (j.problems.length || !j.record) {
        rejected.push(j);
        outcomes.push({ item: j.label, status: 'rejected', problems: j.problems.map((p) => p.message) });
        continue;
      }
      const id = j.record.readingId;
      const other = inflight.get(id);
      if (seen.has(id) || batchIds.has(id) || other) {
        if (other) waitFor.push(other);
        outcomes.push({ item: j.label, status: 'duplicate', readingId: id });
      } else {
        batchIds.add(id);
        accepted.push(j.record);
        outcomes.push({ item: j.label, status: 'accepted', readingId: id });
      }
    }
    const flight = (async () => {
      const messages = {
        readings: await Promise.all(accepted.map(reading)),
        rejections: await Promise.all(
          rejected.map((j) =>
            rejection(siteId, j.meterId, source, Buffer.from(JSON.stringify(j.raw) ?? 'null'), j.problems.map((p) => (j.label ? `${j.label}: ${p.message}` : p.message)), httpStatus, receivedAt),
          ),
        ),
      };
      await sink.write(
        [
          { topic: catalog.siteMeterReadings.name, messages: messages.readings },
          { topic: catalog.siteMeterRejected.name, messages: messages.rejections },
        ].filter((tm) => tm.messages.length > 0),
      );
    })();
    // Acknowledged even after the caller stopped waiting: the readings are written, a retry is a duplicate.
    const landed = flight.then(
      () => (accepted.forEach((r) => seen.add(r.readingId)), true),
      () => false,
    );
    for (const r of accepted) inflight.set(r.readingId, landed);
    void landed.then(() => accepted.forEach((r) => inflight.get(r.readingId) === landed && inflight.delete(r.readingId)));
    await within(flight, produceTimeoutMs);
    if ((await within(Promise.all(waitFor), produceTimeoutMs)).some((ok) => !ok)) throw new Error('an earlier delivery of the same readings was not acknowledged by Kafka');
    if (accepted.length) metrics.accepted.inc({ source }, accepted.length);
    const duplicates = outcomes.filter((o) => o.status === 'duplicate').length;
    if (duplicates) metrics.duplicates.inc({ source }, duplicates);
    for (const j of rejected) for (const reason of codesOf(j.problems)) metrics.rejected.inc({ source, reason });
    return outcomes;
  };

  const unavailable = (source: MeterSource, e: unknown): { kind: 'unavailable'; message: string } => {
    metrics.unavailable.inc({ source });
    log.warn('site meter readings not taken: Kafka unavailable', { source, err: e as Error });
    return { kind: 'unavailable', message: (e as Error).message };
  };

  const push = async (site: SiteConfig, raw: Buffer, receivedAt: number): Promise<PushOutcome> => {
    try {
      const items = E.chain(pushItems)(E.mapLeft((m: string) => [m])(parseJson(raw.toString('utf8'))));
      if (E.isLeft(items)) {
        await write(site.siteId, 'push', [{ label: '', raw: raw.toString('utf8'), meterId: null, record: null, problems: malformed(items.left) }], 400, receivedAt);
        return { kind: 'refused', problems: items.left };
      }
      const judged = items.right.map((i) => judge(site.meters, site.siteId, i.label, i.raw, i.candidate, receivedAt, 'push'));
      const allRejected = judged.every((j) => j.problems.length > 0);
      const someRejected = judged.some((j) => j.problems.length > 0);
      return { kind: 'processed', items: await write(site.siteId, 'push', judged, allRejected ? 400 : someRejected ? 207 : 200, receivedAt) };
    } catch (e) {
      return unavailable('push', e);
    }
  };

  const polled = async (meter: MeterConfig, result: PollResult, receivedAt: number): Promise<ItemStatus | 'unavailable'> => {
    try {
      const label = `${meter.siteId}/${meter.meterId}`;
      const judged: Judged =
        result.kind === 'failed'
          ? { label, raw: result.raw, meterId: meter.meterId, record: null, problems: result.problems }
          : judge(new Map([[meter.meterId, meter]]), meter.siteId, label, result.raw, E.right(result.candidate), receivedAt, 'modbus');
      const [outcome] = await write(meter.siteId, 'modbus', [judged], null, receivedAt);
      return outcome!.status;
    } catch (e) {
      unavailable('modbus', e);
      return 'unavailable';
    }
  };

  return {
    metrics,
    push,
    polled,
    stop: async () => {
      await producer.disconnect().catch(() => undefined);
    },
  };
};
