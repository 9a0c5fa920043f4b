import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { Kafka } from 'kafkajs';
import { Config } from './config';
import { Logger } from './log';
import { TopicSerde } from '../../schemas/registry';
import { Health } from './health';

/** What every service or stream processor gets when it starts: one Kafka client, one schema serde, one database pool,
 *  one metrics registry per process, so `voltstream start` can run all of them side by side in one process and
 *  `voltstream service <name>` one of them alone. */
export interface ServiceContext {
  readonly config: Config;
  readonly log: Logger;
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly pool: Pool;
  /** Whether `pool` is the embedded TimescaleDB (one connection: keep transactions short). */
  readonly embeddedDb: boolean;
  readonly metrics: Registry;
  /** Every consumer and processor of the process reports its state here; `/health` and `/ready` read it. */
  readonly health: Health;
}

export interface RunningService {
  readonly name: string;
  /** Human-readable places to look (URLs, ports), printed at start. */
  readonly endpoints?: readonly string[];
  stop(): Promise<void>;
}

/** Exported as `service` from services/<name>/service.ts or streams/<name>/service.ts. */
export interface ServiceDefinition {
  readonly name: string;
  readonly summary: string;
  /** Lower starts first: processors before the API, the gateway before the simulator. */
  readonly order: number;
  start(ctx: ServiceContext): Promise<RunningService>;
}
