import * as t from 'io-ts';
import { pipe } from 'fp-ts/function';
import * as E from 'fp-ts/Either';
import { ServiceDefinition } from '../../services/common/service';
import { decodeWith } from '../../services/common/decode';
import { startProjections } from './run';
import { superviseConsumer } from '../../services/common/supervised-consumer';

/** PROJECTIONS_SCHEMA: where the projection tables live (default `projections`). */
export const projectionsSchema = (env: NodeJS.ProcessEnv = process.env): string =>
  pipe(
    decodeWith(t.partial({ PROJECTIONS_SCHEMA: t.string }))(env),
    E.map((e) => e.PROJECTIONS_SCHEMA || 'projections'),
    E.getOrElse(() => 'projections'),
  );

export const service: ServiceDefinition = {
  name: 'projections',
  summary: 'Projections of charging.events, telematics.readings and fleet.config into the database, exactly once',
  order: 10,
  start: async (ctx) => {
    const schema = projectionsSchema();
    const log = ctx.log.child({ processor: 'projections' });
    const supervisor = await superviseConsumer(ctx, 'projections', async () => {
      const running = await startProjections({ kafka: ctx.kafka, serde: ctx.serde, pool: ctx.pool, log, schema, metrics: ctx.metrics, partitionsConcurrently: ctx.embeddedDb ? 1 : 3 });
      return { topics: running.topics, groupId: running.groupId, positions: () => running.sink.positions(), consumers: [running.sink.consumer], died: running.sink.died, stop: running.stop };
    });
    return { name: 'projections', endpoints: [`database schema ${schema}`], stop: supervisor.stop };
  },
};
