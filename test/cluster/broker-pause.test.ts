/** A 3-broker cluster under steady OCPP load has the broker that leads ocpp.frames partitions of the load frozen by
 *  SIGSTOP for 30 s, then SIGCONT: every acknowledged frame is in ocpp.frames exactly once (read_committed) and every
 *  charger's chain is unbroken, chargers whose partitions kept their leader are never refused, the others wait for the
 *  new leader (requests to the frozen one time out, and it then looks down like a dead one) instead of getting
 *  InternalError when the failover ends inside the gateway's budget, none when the broker thaws and rejoins, and the
 *  gateway recovers without a restart. Runs its own cluster on free ports in a temp
 *  directory; the shared broker is never touched. */
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { defaultSettings } from '../../services/ocpp-gateway/config';
import { ServiceContext } from '../../services/common/service';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, gatewayContext, pgSchemaName } from '../gateway/support';
import { failoverScenario, startTestCluster, TestCluster } from './support';

jest.setTimeout(420000);

const log = (s: string) => process.stderr.write(`[broker pause] ${s}\n`);
const schema = pgSchemaName('cl_pause');
const pauseMs = 30000;
let cluster: TestCluster | undefined;
let ctx: ServiceContext | undefined;
let gw: Gateway | undefined;
let paused: number | undefined;

beforeAll(async () => {
  cluster = await startTestCluster(log);
  ctx = gatewayContext({ kafkaBrokers: cluster.bootstrap.split(',') });
});

afterAll(async () => {
  if (paused) process.kill(paused, 'SIGCONT');
  await gw?.stop().catch(() => undefined);
  await cluster?.stop();
  if (ctx) {
    await dropSchema(ctx.pool, schema);
    await ctx.pool.end();
  }
});

test('SIGSTOP of the leader for 30 s, then SIGCONT: nothing acknowledged lost or doubled, InternalError only during the failover, recovery without restart', async () => {
  const result = await failoverScenario(
    cluster!,
    async (ids) => {
      await configureFleet(ctx!.kafka, ctx!.serde, ids.map((id) => ({ id, password: `pw-${id}` })));
      gw = await createGateway(ctx!, { gatewayId: uniq('gw-pause'), port: 0, settings: { dbSchema: schema }, consumeCommands: false });
      return gw;
    },
    uniq('pause'),
    {
      disturb: (_victim, pid) => {
        log(`SIGSTOP ${pid}`);
        process.kill(pid, 'SIGSTOP');
        paused = pid;
      },
      restoreAfterMs: pauseMs,
      restore: async (_victim, pid) => {
        log(`SIGCONT ${pid}`);
        process.kill(pid, 'SIGCONT');
        paused = undefined;
      },
    },
    log,
  );
  expect(result.report.acknowledged).toBeGreaterThan(0);
  // A request to the frozen leader times out, and the broker then looks down to the lanes' producers
  // (services/ocpp-gateway/silent-brokers.ts): they find the new leader as they do when a leader dies, so a failover
  // well inside the budget refuses nothing at all (as in leader-kill.test.ts).
  if (result.leadersMovedMs < defaultSettings.kafkaFailoverMs - 2 * defaultSettings.kafkaRequestTimeoutMs) expect(result.report.internalErrors).toBe(0);
});
