/** Child process of the gateway kill test: one gateway instance on a free port, its commands group and chargers
 *  given by the test. Prints `ready <port> <instanceId>` on stdout; stops cleanly on SIGTERM. Run with
 *  `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createContext } from '../../services/common/context';
import { createGateway } from '../../services/ocpp-gateway/gateway';
import { requiredEnv } from '../streams/runner-env';

const main = async () => {
  const config = loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', GATEWAY_ID: requiredEnv('GW_ID') });
  const ctx = createContext(config, 'ocpp-gateway-kill-test');
  const prefix = requiredEnv('GW_CHARGER_PREFIX');
  const gw = await createGateway(ctx, {
    port: 0,
    settings: { dbSchema: requiredEnv('GW_SCHEMA'), callTimeoutMs: 60000 },
    commandsGroupId: requiredEnv('GW_COMMANDS_GROUP'),
    acceptsCommandsFor: (id) => id.startsWith(prefix),
    leaseTtlMs: Number(requiredEnv('GW_LEASE_MS')),
  });
  process.stdout.write(`ready ${gw.port} ${gw.instanceId}\n`);
  process.once('SIGTERM', () => {
    void gw
      .stop()
      .then(() => ctx.pool.end())
      .finally(() => process.exit(0));
  });
};

main().catch((e: unknown) => {
  process.stderr.write(`gateway-runner: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
