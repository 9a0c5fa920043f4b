import { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { catalog, renamed } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { PartHandle } from '../../services/common/health';
import { Logger } from '../../services/common/log';
import { Supervisable } from '../../services/common/supervise';
import { Changelog } from '../runtime/changelog';
import { GlobalTable, startGlobalTable } from '../runtime/global-table';
import { instanceId } from '../runtime/instance';
import { RunFoldOptions, RunningFold, runFold } from '../runtime/run-fold';
import { TrackerState } from './decide';
import { defaultTrackerTopics, routerFold, TrackerTopics, trackerFold } from './fold';
import { emptySiteTable, SiteTable, withSiteConfig } from './route';

type Tuning = Partial<Pick<RunFoldOptions<unknown, never, never, never>, 'maxBytesPerPartition' | 'sessionTimeoutMs' | 'onCommitted'>>;

export interface RouterOptions extends Tuning {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly groupId: string;
  readonly transactionalIdPrefix: string;
  readonly topics?: TrackerTopics;
  readonly metrics?: Registry;
  readonly part?: PartHandle;
}

export interface RunningRouter extends Supervisable {
  readonly fold: RunningFold<null>;
  readonly sites: GlobalTable<SiteTable>;
}

/** The router: the fleet.config global table, read in full before anything is routed, then the stateless fold. */
export const startRouter = async (o: RouterOptions): Promise<RunningRouter> => {
  const topics = o.topics ?? defaultTrackerTopics;
  o.part?.starting('reading fleet.config');
  const sites = await startGlobalTable({
    kafka: o.kafka,
    serde: o.serde,
    log: o.log,
    topic: renamed(catalog.fleetConfig, topics.config),
    groupId: `${o.transactionalIdPrefix}-sites-${instanceId()}`,
    initial: emptySiteTable,
    evolve: withSiteConfig,
    progress: (done, total) => o.part?.restoring({ done, total }, topics.config),
  });
  try {
    const fold = await runFold({ fold: routerFold(sites, topics), kafka: o.kafka, serde: o.serde, log: o.log, groupId: o.groupId, transactionalIdPrefix: o.transactionalIdPrefix, metrics: o.metrics, part: o.part, maxBytesPerPartition: o.maxBytesPerPartition, sessionTimeoutMs: o.sessionTimeoutMs, onCommitted: o.onCommitted });
    return {
      fold,
      sites,
      died: Promise.race([fold.died, sites.died]),
      stop: async () => {
        await fold.stop();
        await sites.stop();
      },
    };
  } catch (e) {
    await sites.stop().catch(() => undefined);
    throw e;
  }
};

export interface TrackerOptions extends Tuning {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly groupId: string;
  readonly transactionalIdPrefix: string;
  readonly topics?: TrackerTopics;
  /** Default vehicle-tracker.sites.changelog. */
  readonly changelog?: Changelog;
  readonly metrics?: Registry;
  readonly part?: PartHandle;
}

/** The tracker: vehicle-tracker.by-site folded per site, state restored from vehicle-tracker.sites.changelog. */
export const startSiteTracker = (o: TrackerOptions): Promise<RunningFold<TrackerState>> =>
  runFold({ fold: trackerFold(o.topics), kafka: o.kafka, serde: o.serde, log: o.log, groupId: o.groupId, transactionalIdPrefix: o.transactionalIdPrefix, changelog: o.changelog, metrics: o.metrics, part: o.part, maxBytesPerPartition: o.maxBytesPerPartition, sessionTimeoutMs: o.sessionTimeoutMs, onCommitted: o.onCommitted });
