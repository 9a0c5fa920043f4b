import { Consumer } from 'kafkajs';
import { Counter } from 'prom-client';
import { catalog, renamed } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { partnerTopicSpec, Topics } from '../../schemas/topics';
import { ensureTopics } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { FoldDefinition } from '../runtime/fold';
import { GlobalTable, startGlobalTable } from '../runtime/global-table';
import { instanceId } from '../runtime/instance';
import { RunningFold, runFold } from '../runtime/run-fold';
import { evolveOwnership, initialOwnership, Ownership } from './ownership';
import { partnerOf, PartnerRouted, routeToPartner } from './route';

/** The partner router: charging.events → partner.{owner}.events, where owner is the partner that operated the charger
 *  when the log received the event (the charging.events record's timestamp; fleet.config
 *  ChargerConfigured.ownerPartnerId, effective from the config event's time). Never at the event's own occurredAt: that
 *  is the charger's clock, and a charger with a wrong clock would send one owner's events to another.
 *
 *  On the fold runtime: ownership is a global table of fleet.config (every instance holds all of it), read up to its
 *  end before each fetched batch, so every ownership change acknowledged by the API before the batch is applied; the
 *  routing is a stateless fold (./route.ts), exactly once: the partner records and the charging.events offsets are
 *  committed in one transaction per input partition (transactional ids `<prefix>-charging.events-<partition>`). A
 *  partner topic is created (and its schema registered) before the first event for it is routed. */
export interface RouterOptions {
  /** Consumer group for charging.events. Default `partner-router`. */
  readonly groupId?: string;
  /** Prefix of the transactional ids. Default: the group id. */
  readonly transactionalIdPrefix?: string;
  /** Route only these chargers (tests that share a broker). Default: all. */
  readonly acceptCharger?: (chargePointId: string) => boolean;
  /** Give up waiting for fleet.config to catch up after this long (the batch is read again). */
  readonly catchUpTimeoutMs?: number;
  /** Where ownership comes from. Default fleet.config. */
  readonly configTopic?: string;
}

export interface RunningRouter {
  readonly groupId: string;
  /** Current ownership view (for inspection and tests). */
  ownership(): Ownership;
  /** Settles when it stopped by itself (its fold's or its table's consumer crashed for good). */
  readonly died: Promise<Error>;
  readonly consumers: readonly Consumer[];
  /** Next offset of the ownership table per `topic:partition`. */
  tablePositions(): ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

const inputs = { events: catalog.chargingEvents };

export const partnerRouterFold = (
  table: Pick<GlobalTable<Ownership>, 'current' | 'catchUp'>,
  d: { readonly ensurePartner: (partnerId: string) => Promise<void>; readonly accept: (chargePointId: string) => boolean; readonly routed: (partnerId: string) => void; readonly catchUpTimeoutMs: number },
): FoldDefinition<null, typeof inputs, PartnerRouted, ChargingEvent> => ({
  name: 'partner-router',
  inputs,
  output: catalog.chargingEvents,
  initial: null,
  beforeBatch: async () => {
    if (!(await table.catchUp(d.catchUpTimeoutMs))) throw new Error('fleet.config did not catch up in time');
  },
  beforeDecide: async (r) => {
    const to = d.accept(r.value.chargePointId) ? partnerOf(table.current(), r.value, r.timestamp) : undefined;
    if (to && 'partnerId' in to) await d.ensurePartner(to.partnerId);
  },
  decide: (_, r) => (d.accept(r.value.chargePointId) ? routeToPartner(table.current(), r.value, r.timestamp, r.source) : []),
  evolve: (s) => s,
  publish: (p) => {
    d.routed(p.partnerId);
    return { topic: p.topic, key: p.event.chargePointId, value: p.event, timestamp: p.receivedAt, headers: { 'voltstream-source': p.source } };
  },
});

export const startPartnerRouter = async (ctx: ServiceContext, opts: RouterOptions = {}): Promise<RunningRouter> => {
  const groupId = opts.groupId ?? 'partner-router';
  const log = ctx.log.child({ component: 'partner-router' });
  const routed = (ctx.metrics.getSingleMetric('voltstream_partner_router_events_total') as Counter<'partner'> | undefined) ?? new Counter({
    name: 'voltstream_partner_router_events_total',
    help: 'charging.events records routed to a partner topic, by partner (a batch whose transaction fails counts again)',
    labelNames: ['partner'],
    registers: [ctx.metrics],
  });
  const configEntry = opts.configTopic ? renamed(catalog.fleetConfig, opts.configTopic) : catalog.fleetConfig;
  const table = await startGlobalTable({ kafka: ctx.kafka, serde: ctx.serde, log, topic: configEntry, groupId: `partner-router-config-${instanceId()}`, initial: initialOwnership, evolve: evolveOwnership });
  const admin = ctx.kafka.admin();
  let fold: RunningFold<null> | undefined;
  try {
    await admin.connect();
    const ready = new Set<string>();
    const ensurePartner = async (partnerId: string) => {
      if (ready.has(partnerId)) return;
      const spec = partnerTopicSpec(partnerId);
      await ensureTopics(admin, { partitions: ctx.config.partitions, replicationFactor: ctx.config.replicationFactor, minInsyncReplicas: ctx.config.minInsyncReplicas }, [spec]);
      await ctx.serde.ensure(spec);
      ready.add(partnerId);
    };
    const accept = opts.acceptCharger ?? (() => true);
    fold = await runFold({
      fold: partnerRouterFold(table, { ensurePartner, accept, routed: (partner) => routed.inc({ partner }), catchUpTimeoutMs: opts.catchUpTimeoutMs ?? 20_000 }),
      kafka: ctx.kafka,
      serde: ctx.serde,
      log,
      groupId,
      transactionalIdPrefix: opts.transactionalIdPrefix ?? groupId,
      metrics: ctx.metrics,
    });
  } catch (e) {
    await table.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    throw e;
  }
  const running = fold;
  log.info('partner router running', { groupId, input: Topics.chargingEvents });
  return {
    groupId,
    ownership: table.current,
    died: Promise.race([running.died, table.died]),
    consumers: [...running.consumers, ...table.consumers],
    tablePositions: table.positions,
    stop: async () => {
      await running.stop();
      await table.stop();
      await admin.disconnect().catch(() => undefined);
    },
  };
};
