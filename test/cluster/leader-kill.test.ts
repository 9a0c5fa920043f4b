/** A 3-broker cluster under steady OCPP load loses, by SIGKILL, the broker that leads ocpp.frames partitions of the
 *  load: every acknowledged frame is in ocpp.frames exactly once (read_committed), chargers whose partitions kept their
 *  leader are never refused, the others wait for the new leader instead of getting InternalError when the failover
 *  ends inside the gateway's budget (OCPP_KAFKA_FAILOVER_MS), and the gateway recovers without a restart. Runs its own cluster on free ports in a temp directory; the shared broker is never touched. */
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, gatewayContext, pgSchemaName } from '../gateway/support';
import { failoverScenario, startTestCluster, TestCluster } from './support';
import { restartNode } from '../../infra/kafka/cluster';
import { ServiceContext } from '../../services/common/service';
import { defaultSettings } from '../../services/ocpp-gateway/config';

jest.setTimeout(420000);

const log = (s: string) => process.stderr.write(`[leader kill] ${s}\n`);
const schema = pgSchemaName('cl_kill');
let cluster: TestCluster | undefined;
let ctx: ServiceContext | undefined;
let gw: Gateway | undefined;

beforeAll(async () => {
  cluster = await startTestCluster(log);
  ctx = gatewayContext({ kafkaBrokers: cluster.bootstrap.split(',') });
});

afterAll(async () => {
  await gw?.stop().catch(() => undefined);
  await cluster?.stop();
  if (ctx) {
    await dropSchema(ctx.pool, schema);
    await ctx.pool.end();
  }
});

test('SIGKILL of the leader: nothing acknowledged lost or doubled, InternalError only during the failover, recovery without restart', async () => {
  const result = await failoverScenario(
    cluster!,
    async (ids) => {
      await configureFleet(ctx!.kafka, ctx!.serde, ids.map((id) => ({ id, password: `pw-${id}` })));
      gw = await createGateway(ctx!, { gatewayId: uniq('gw-kill'), port: 0, settings: { dbSchema: schema }, consumeCommands: false });
      return gw;
    },
    uniq('kill'),
    {
      disturb: (_victim, pid) => {
        log(`SIGKILL ${pid}`);
        process.kill(pid, 'SIGKILL');
      },
      restore: async (victim) => {
        await restartNode(victim, cluster!.sasl);
        log('victim started again');
      },
    },
    log,
  );
  expect(result.report.acknowledged).toBeGreaterThan(0);
  // The gateway sends a failed request again for OCPP_KAFKA_FAILOVER_MS: a failover well inside that budget (its
  // producers may take a request timeout or two to see the new leader) refuses nothing at all.
  if (result.leadersMovedMs < defaultSettings.kafkaFailoverMs - 2 * defaultSettings.kafkaRequestTimeoutMs) expect(result.report.internalErrors).toBe(0);
});
