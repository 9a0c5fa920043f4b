import * as E from 'fp-ts/Either';
import { Kafka } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { ConfigBody, configToAvro } from '../../schemas/fleet-config';
import { SiteRouted, TrackerInput } from '../../schemas/site-routed';
import { Topics } from '../../schemas/topics';
import { ProjectionInput } from '../../streams/projections/projection';
import { committedOffsets } from '../../streams/sink/kafka-processor';
import { endOffsets } from '../../streams/sink/pg-sink';
import { evolve, initialTracker, publishedEvents, TrackerState } from '../../streams/vehicle-tracker/decide';
import { decideTracker } from '../../streams/vehicle-tracker/fold';
import { emptySiteTable, siteOf, withSiteConfig } from '../../streams/vehicle-tracker/route';
import { simulate, SimVehicle } from '../../streams/vehicle-tracker/simulation';
import { PartHandle } from '../../services/common/health';
import { createLogger, Logger } from '../../services/common/log';
import { uniq } from '../support/stack';
import { produce, testKafka, testSerde } from './support';
import { Runner, startRunner, until } from './runner-support';
import { createTrackerTestTopics, deleteTrackerTestTopics, readCommitted, startTestTracker, trackerChangelog, trackerGroups, TrackerTestTopics, waitForTracker } from './tracker-support';

jest.setTimeout(600_000);

const min = 60_000;
const t0 = Date.UTC(2026, 9, 1, 6, 0);
const SITES = 6;

const decodeAll = <A>(decode: (u: unknown) => E.Either<string, A>, records: readonly { value: unknown }[]): A[] =>
  records.map((r) => {
    const d = decode(r.value);
    if (E.isLeft(d)) throw new Error(d.left);
    return d.right;
  });

describe('vehicle tracker: two instances in one group, one SIGKILLed mid-batch, the other takes over; a restart restores from the changelog', () => {
  let kafka: Kafka;
  let topics: TrackerTestTopics;
  const serde = testSerde();
  const runners: Runner[] = [];
  const id = uniq('tt').replace(/-/g, '');
  const site = (k: number) => `S${k}-${id}`;
  const group = uniq('takeover-tracker');
  const txid = uniq('takeover-tracker-tx');
  let inputCount = 0;
  let workload: ProjectionInput[] = [];

  /** One depot per site: three vans (one with an id tag), arriving minutes apart. */
  const depot = (k: number, from: number) => {
    const v = (n: string) => `${n}-${k}-${id}`;
    const van = (vehicleId: string, extra: Partial<SimVehicle> = {}): SimVehicle => ({ vehicleId, capacityKwh: 60, socPct: 25, telematicsEveryMs: 2 * min, efficiency: 0.9, ...extra });
    const sim = simulate({
      prefix: `${id}-${k}`,
      vehicles: [van(v('V1'), { telematicsPhaseMs: 10_000, idTags: [`TAG-${k}-${id}`] }), van(v('V2'), { telematicsPhaseMs: 50_000 }), van(v('V3'), { telematicsPhaseMs: 90_000 })],
      sessions: [
        { vehicleId: v('V1'), chargePointId: v('CPA'), plugAt: from, startDelayMs: 40_000, durationMs: 30 * min, powerW: 11_000, idTag: `TAG-${k}-${id}` },
        { vehicleId: v('V2'), chargePointId: v('CPB'), plugAt: from + 4 * min, startDelayMs: 30_000, durationMs: 30 * min, powerW: 11_000, idTag: 'FLEET' },
        { vehicleId: v('V3'), chargePointId: v('CPC'), plugAt: from + 8 * min, startDelayMs: 50_000, durationMs: 30 * min, powerW: 11_000, idTag: 'FLEET' },
      ],
      from: from - 15 * min,
      to: from + 45 * min,
    });
    // simulate() puts everything at one DEPOT: this depot is site k.
    const onSite = (b: ConfigBody): ConfigBody => ('siteId' in b && b.siteId === 'DEPOT' ? ({ ...b, siteId: site(k) } as ConfigBody) : b);
    return sim.inputs.map((i): ProjectionInput => (i.kind === 'config' ? { ...i, config: { ...i.config, body: onSite(i.config.body) } } : i));
  };

  /** Config first, then readings and events `step` at a time, `pauseMs` apart (load that goes on while the instances
   *  run). */
  const produceInputs = async (inputs: readonly ProjectionInput[], step = 40, pauseMs = 0) => {
    const cf = inputs.flatMap((x) => (x.kind === 'config' ? [{ key: `c:${x.config.eventId}`, value: configToAvro(x.config) }] : []));
    const rd = inputs.flatMap((x) => (x.kind === 'reading' ? [{ key: x.reading.vehicleId, value: x.reading }] : []));
    const ev = inputs.flatMap((x) => (x.kind === 'event' ? [{ key: x.event.chargePointId, value: toAvro(x.event) }] : []));
    if (cf.length) await produce(kafka, serde, topics.config, Topics.fleetConfig, cf);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const encode = (schemaTopic: string, rs: readonly { key: string; value: unknown }[]) => Promise.all(rs.map(async (r) => ({ key: r.key, value: await serde.encode(schemaTopic, r.value) })));
      for (let i = 0; i < Math.max(rd.length, ev.length); i += step) {
        if (rd.length > i) await producer.send({ topic: topics.readings, messages: await encode(Topics.telematicsReadings, rd.slice(i, i + step)), acks: -1 });
        if (ev.length > i) await producer.send({ topic: topics.events, messages: await encode(Topics.chargingEvents, ev.slice(i, i + step)), acks: -1 });
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    } finally {
      await producer.disconnect();
    }
    inputCount += cf.length + rd.length + ev.length;
  };

  beforeAll(async () => {
    kafka = testKafka('tracker-takeover');
    topics = await createTrackerTestTopics(kafka, 6);
    const byTime = (i: ProjectionInput) => (i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : i.kind === 'config' ? i.config.at : 0);
    workload = Array.from({ length: SITES }, (_, k) => depot(k, t0 + k * 1000))
      .flat()
      .sort((a, b) => byTime(a) - byTime(b));
    // The configuration is there before any instance starts; the rest arrives while they run.
    await produceInputs(workload.filter((i) => i.kind === 'config'));
  });

  afterAll(async () => {
    for (const r of runners) r.child.kill('SIGKILL');
    await Promise.all(runners.map((r) => r.exited));
    await deleteTrackerTestTopics(kafka, topics);
  });

  const groups = trackerGroups(group);
  const inputs = () => [topics.events, topics.readings, topics.config];
  const sum = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + Math.max(0, b), 0);
  /** Both folds committed everything there is (the tracker's outputs land on charging.events, read by the router). */
  const settled = async (): Promise<boolean> => {
    const [inEnds, siteEnds] = [await endOffsets(kafka, inputs()), await endOffsets(kafka, [topics.bySite])];
    const [routed, folded] = [await committedOffsets(kafka, groups.router, inputs()), await committedOffsets(kafka, groups.tracker, [topics.bySite])];
    return sum(routed) >= sum(inEnds) && sum(folded) >= sum(siteEnds) && sum(await endOffsets(kafka, [topics.bySite])) === sum(siteEnds);
  };

  /** What the log holds now: routed records per partition in order, and the tracker's decisions. */
  const readBack = async () => {
    const routedRecords = await readCommitted(kafka, serde, topics.bySite);
    const routed = routedRecords.map((r) => {
      const d = catalog.vehicleTrackerBySite.decode(r.value);
      if (E.isLeft(d)) throw new Error(d.left);
      return { partition: r.partition, offset: Number(r.offset), routed: { site: r.key!, ...d.right } as SiteRouted };
    });
    const events = decodeAll(catalog.chargingEvents.decode, await readCommitted(kafka, serde, topics.events));
    return { routed, decisions: events.filter((e) => e.eventId.startsWith('vt:')), inputEvents: events.filter((e) => !e.eventId.startsWith('vt:')) };
  };

  /** The tracker's decisions as one pure run over the routed records, per site in partition order. */
  const expectedDecisions = (routed: readonly { partition: number; offset: number; routed: SiteRouted }[]) => {
    const states = new Map<string, TrackerState>();
    const decided: ChargingEvent[] = [];
    const decideOne = decideTracker();
    for (const r of [...routed].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const before = states.get(r.routed.site) ?? initialTracker;
      const facts = decideOne(before, { from: 'bySite', key: r.routed.site, value: { source: r.routed.source, input: r.routed.input }, source: { topic: topics.bySite, partition: r.partition, offset: r.offset }, timestamp: 0 });
      states.set(r.routed.site, facts.reduce(evolve, before));
      decided.push(...publishedEvents(facts));
    }
    return { decided, states };
  };

  let decidedBeforeRestart = 0;

  it('routes every input once to its site and commits each decision of the routed log exactly once', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', FOLD_LOG_LEVEL: process.env.FOLD_LOG_LEVEL ?? 'warn', FOLD_TOPICS: JSON.stringify(topics), FOLD_GROUP: group, FOLD_TXID: txid };
    const a = startRunner('tracker-runner.ts', env, topics.bySite);
    runners.push(a);
    const b = startRunner('tracker-runner.ts', env, topics.bySite);
    runners.push(b);
    // Both running (on a loaded machine a child can take long to start) before the load begins, so both have work.
    await until('both instances start and the first commits', () => a.instance() !== undefined && b.instance() !== undefined && a.commits() + b.commits() >= 3, 180_000);
    const load = produceInputs(
      workload.filter((i) => i.kind !== 'config'),
      3,
      100,
    );
    let loaded = false;
    void load.then(() => (loaded = true));
    await until('both instances commit by-site partitions', () => a.watchedPartitions().size > 0 && b.watchedPartitions().size > 0 && b.commits() >= 3).catch((e: Error) => {
      throw new Error(`${e.message}: A ${a.commits()} commits on by-site partitions ${[...a.watchedPartitions()]}, B ${b.commits()} on ${[...b.watchedPartitions()]}`);
    });
    expect(b.instance()).not.toEqual(a.instance());

    // Kill the first instance in the middle of its next batch (right after a commit, before the next one), while the
    // load still arrives.
    expect(loaded).toBe(false);
    await a.nextCommit();
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const atKill = sum(await committedOffsets(kafka, groups.tracker, [topics.bySite]));
    process.stderr.write(`tracker takeover: killed A at by-site offsets ${atKill} (records and transaction markers) while the load was still arriving; A held by-site partitions ${[...a.watchedPartitions()]}\n`);

    await load;
    process.stderr.write(`tracker takeover: ${inputCount} inputs in all\n`);
    await until('the second instance finishes every partition', settled, 240_000);
    expect(b.child.exitCode).toBeNull();

    const { routed, decisions, inputEvents } = await readBack();
    // The router: every input the tracker uses, once, to the site fleet.config gives it.
    let table = emptySiteTable;
    const configs = decodeAll(catalog.fleetConfig.decode, await readCommitted(kafka, serde, topics.config));
    for (const c of configs) table = withSiteConfig(table, c);
    const readings = decodeAll(catalog.telematicsReadings.decode, await readCommitted(kafka, serde, topics.readings));
    const wanted = [...configs.map((config): TrackerInput => ({ kind: 'config', config })), ...readings.map((reading): TrackerInput => ({ kind: 'reading', reading })), ...inputEvents.map((event): TrackerInput => ({ kind: 'event', event }))].filter((i) => siteOf(table, i) !== undefined);
    const refOf = (r: SiteRouted) => `${r.source.topic}:${r.source.partition}:${r.source.offset}`;
    const seen = new Map<string, string[]>();
    for (const r of routed) seen.set(refOf(r.routed), [...(seen.get(refOf(r.routed)) ?? []), `${topics.bySite}[${r.partition}]@${r.offset}`]);
    expect([...seen].filter(([, at]) => at.length > 1)).toEqual([]);
    expect(routed).toHaveLength(wanted.length);
    for (const r of routed) expect(r.routed.site).toBe(siteOf(table, r.routed.input));
    expect(new Set(routed.map((r) => r.routed.site))).toEqual(new Set(Array.from({ length: SITES }, (_, k) => site(k))));

    // The tracker: exactly the decisions of one pure run over the routed log, each once, same content.
    const { decided } = expectedDecisions(routed);
    expect(decisions.length).toBe(decided.length);
    const byId = new Map(decided.map((e) => [e.eventId, e]));
    expect(new Set(decisions.map((e) => e.eventId))).toEqual(new Set(byId.keys()));
    for (const e of decisions) expect(e).toEqual(byId.get(e.eventId));
    // And they are right where the rules do not depend on how the topics interleave: every id-tag session matched to
    // its van, once (telematics matches depend on which readings a site's partition holds before a session's start).
    const matched = decisions.filter((e) => e.body.type === 'VehicleMatched').map((e) => e.body as { sessionId: string; vehicleId: string; method: string });
    for (let k = 0; k < SITES; k++) expect(matched.filter((m) => m.vehicleId === `V1-${k}-${id}` && m.method === 'idTag' && m.sessionId.startsWith(`CPA-${k}-${id}`))).toHaveLength(1);
    process.stderr.write(`tracker takeover: ${routed.length} routed records, ${decisions.length} decisions (${matched.length} matches, ${matched.filter((m) => m.method === 'telematics').length} by telematics)\n`);
    decidedBeforeRestart = decisions.length;
    b.child.kill('SIGKILL');
    await b.exited;
  });

  it('a restart restores each site from the changelog (exactly the changelog at the restart, not a re-fold of the routed history) and decides on from there', async () => {
    expect(decidedBeforeRestart).toBeGreaterThan(0);
    // The killed instance's memberships expire first (session timeout): a member that joins a group with a dead one
    // waits for the rebalance timeout instead.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await until('the killed instance leaves both groups', async () => (await admin.describeGroups([groups.router, groups.tracker])).groups.every((g) => g.members.length === 0), 60_000);
    } finally {
      await admin.disconnect();
    }
    // What the changelog holds at the restart (committed records, no transaction markers): all a restore may read.
    const changelogAtRestart = (await readCommitted(kafka, serde, trackerChangelog(topics).name)).length;
    const restartedAt = Date.now();
    const restores: { done: number; total: number }[] = [];
    const part: PartHandle = { starting: () => undefined, restoring: (p) => restores.push(p), running: () => undefined, down: () => undefined, lag: () => undefined, restarted: () => undefined, remove: () => undefined };
    // The runtime's own account of each partition's restore (records read from the changelog), and any rebuild from
    // the routed history.
    const restoredRecords: number[] = [];
    const rebuilds: string[] = [];
    const shown = createLogger('restarted', process.env.FOLD_LOG_LEVEL === 'debug' || process.env.FOLD_LOG_LEVEL === 'info' ? process.env.FOLD_LOG_LEVEL : 'warn');
    const log: Logger = {
      ...shown,
      info: (msg, fields) => {
        if (msg === 'store restored from changelog') restoredRecords.push(Number(fields?.records));
        if (msg === 'store partition rebuilt') rebuilds.push(msg);
        shown.info(msg, fields);
      },
      child: () => log,
    };
    const running = await startTestTracker(kafka, serde, topics, group, { transactionalIdPrefix: txid, part, sessionTimeoutMs: 6000, log });
    try {
      // A second visit at every site: V1 comes back with its tag, known only from fleet.config history (in the store).
      const again = Array.from({ length: SITES }, (_, k) => k).flatMap((k) => {
        const cp = `CPA-${k}-${id}`;
        const at = t0 + 6 * 3600_000 + k * 1000;
        return [{ kind: 'event', event: { eventId: `again:${id}:${k}`, chargePointId: cp, occurredAt: at, source: null, body: { type: 'SessionStarted', sessionId: `${cp}:again`, transactionId: 'again', connectorId: 1, idTag: `TAG-${k}-${id}`, meterStartWh: 0 } } } as ProjectionInput];
      });
      await produceInputs(again);
      await waitForTracker(kafka, topics, group, 120_000);
      const stores = running.tracker.stores();
      const keys = [...stores.values()].reduce((a, s) => a + s.size, 0);
      expect(keys).toBe(SITES);
      const { routed, decisions } = await readBack();
      const last = restores.reduce((a, r) => ({ done: Math.max(a.done, r.done), total: Math.max(a.total, r.total) }), { done: 0, total: 0 });
      const changelogEnd = sum(await endOffsets(kafka, [trackerChangelog(topics).name]));
      process.stderr.write(`tracker restart: caught up ${Date.now() - restartedAt} ms after start; restored ${restoredRecords.reduce((a, b) => a + b, 0)} changelog records (${changelogAtRestart} committed at the restart, end offsets now ${changelogEnd}) for ${keys} sites; routed history ${routed.length} records\n`);
      // Restored from the changelog (read up to its end at the restart, before the new decisions were written), not
      // by folding the routed history again.
      expect(last.total).toBeGreaterThan(0);
      expect(last.total).toBeLessThan(changelogEnd);
      // Every store partition read exactly the changelog as it was at the restart and none was rebuilt by folding
      // the routed history again. (The test's changelog is not compacted yet: one record per changed site per
      // transaction, so its size against the routed history's depends on how the load was batched.)
      expect(restoredRecords).toHaveLength(6);
      expect(restoredRecords.reduce((a, b) => a + b, 0)).toBe(changelogAtRestart);
      expect(rebuilds).toEqual([]);
      // The new sessions are matched by tag, once each; nothing decided before is decided again.
      const newMatches = decisions.filter((e) => e.body.type === 'VehicleMatched' && (e.body as { sessionId: string }).sessionId.endsWith(':again'));
      expect(newMatches).toHaveLength(SITES);
      expect(decisions).toHaveLength(decidedBeforeRestart + SITES);
      const { decided } = expectedDecisions(routed);
      expect(new Set(decisions.map((e) => e.eventId))).toEqual(new Set(decided.map((e) => e.eventId)));
    } finally {
      await running.stop();
    }
  });
});
