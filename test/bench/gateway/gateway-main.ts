/** The gateway under benchmark, in a process of its own (so its memory per connection and its file descriptors are
 *  its own). Started by bench.ts with BENCH_GATEWAY_ID, OCPP_PORT, OCPP_DB_SCHEMA in the environment; answers
 *  `{ type: 'stats' }` over IPC with its memory, CPU time and connection count. */
import { loadConfig } from '../../../services/common/config';
import { createContext } from '../../../services/common/context';
import { createGateway } from '../../../services/ocpp-gateway/gateway';

const main = async () => {
  const config = loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', GATEWAY_ID: process.env.BENCH_GATEWAY_ID });
  const ctx = createContext(config, 'ocpp-gateway-bench');
  const gw = await createGateway(ctx, { consumeCommands: false });
  const send = (m: unknown) => process.send?.(m);
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'stats') {
      global.gc?.();
      const mem = process.memoryUsage();
      send({ type: 'stats', rss: mem.rss, heapUsed: mem.heapUsed, cpu: process.cpuUsage(), connected: gw.connectedCount() });
    } else if (m.type === 'metrics') {
      send({ type: 'metrics', text: await gw.metrics.metrics() });
    } else if (m.type === 'stop') {
      await gw.stop();
      await ctx.pool.end();
      send({ type: 'stopped' });
      process.exit(0);
    }
  });
  send({ type: 'ready', port: gw.port });
};

main().catch((e) => {
  process.stderr.write(`gateway failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
