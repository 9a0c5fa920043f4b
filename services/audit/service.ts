import { ServiceDefinition } from '../common/service';
import { superviseConsumer } from '../common/supervised-consumer';
import { loadOrCreateSigningKey } from './checkpoint-keys';
import { defaultAuditSchema } from './checkpoint-store';
import { startCheckpointer } from './checkpointer';
import { keyFingerprint } from './checkpoint';

/** `voltstream service audit-checkpoints`: signs the ocpp.frames chain heads every AUDIT_CHECKPOINT_EVERY_S seconds
 *  (default 60) into AUDIT_SCHEMA.checkpoints (default `audit`) with the checkpoint key (checkpoint-keys.ts). */
export const service: ServiceDefinition = {
  name: 'audit-checkpoints',
  summary: 'Signed checkpoints of the ocpp.frames hash chain, stored outside Kafka (PostgreSQL schema audit)',
  order: 40,
  start: async (ctx) => {
    const key = loadOrCreateSigningKey(ctx.config.home);
    const schema = process.env.AUDIT_SCHEMA || defaultAuditSchema;
    const everyS = Number(process.env.AUDIT_CHECKPOINT_EVERY_S) || 60;
    const log = ctx.log.child({ component: 'audit-checkpoints' });
    const supervisor = await superviseConsumer(ctx, 'audit-checkpoints', () => startCheckpointer({ kafka: ctx.kafka, serde: ctx.serde, pool: ctx.pool, schema, key, log, everyMs: everyS * 1000 }));
    return {
      name: 'audit-checkpoints',
      endpoints: [`checkpoints every ${everyS} s into ${schema}.checkpoints, key ${keyFingerprint(key.publicKey)}`],
      stop: () => supervisor.stop(),
    };
  },
};
