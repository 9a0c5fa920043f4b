import { CliCommand, parseArgs } from '../command';
import { waitForSignal } from './stack';
import { loadConfig } from '../../common/config';
import { createContext } from '../../common/context';
import { serveHealth } from '../../common/health-server';
import { deployables, findDeployable, healthPortOf } from '../services';

/** Run by `voltstream start` (an IPC channel to it): settles when that process is gone, however it ended. */
const supervisorGone = (): Promise<string> =>
  new Promise((resolve) => {
    if (!process.send) return;
    process.on('disconnect', () => resolve('supervisor gone'));
  });

export const command: CliCommand = {
  name: 'service',
  summary: 'Run one service or stream processor against a running stack',
  get usage() {
    return [
      'Usage: voltstream service <name> [--health-port N] [--health-host ADDRESS]',
      '',
      'Runs a single service in this process (the stack must be up: voltstream stack up). Ctrl-C or SIGTERM stops it.',
      'Every service serves GET /health, /ready and /metrics on a port of its own (the API on API_PORT): --health-port,',
      'or <NAME>_HEALTH_PORT (e.g. OCPP_GATEWAY_HEALTH_PORT), or the default below; 0 takes any free port. They bind to',
      '--health-host or HEALTH_HOST (default 127.0.0.1).',
      '/ready is 503 and names the part while any of its consumers starts, catches up or is down; a consumer that',
      'crashes is restarted with backoff.',
      '',
      'Services:',
      ...deployables.map((d) => `  ${d.definition.name.padEnd(20)} ${String(d.healthPort).padEnd(5)} ${d.definition.summary}`),
    ].join('\n');
  },
  run: async (args) => {
    const { flags, positionals } = parseArgs(args);
    const name = positionals[0];
    const d = name ? findDeployable(name) : undefined;
    if (!d) {
      console.error(`voltstream service: unknown service '${name ?? ''}'; known: ${deployables.map((x) => x.definition.name).join(', ')}`);
      return 2;
    }
    const port = flags['health-port'] !== undefined ? Number(flags['health-port']) : healthPortOf(d);
    if (port !== 'api' && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
      console.error(`voltstream service: --health-port must be a port number, got '${String(flags['health-port'])}'`);
      return 2;
    }
    const config = loadConfig();
    const host = typeof flags['health-host'] === 'string' ? flags['health-host'] : config.healthHost;
    const ctx = createContext(config, d.definition.name);
    const health = port === 'api' ? undefined : await serveHealth({ service: d.definition.name, health: ctx.health, metrics: ctx.metrics, port, host });
    let running;
    try {
      running = await d.definition.start(ctx);
    } catch (e) {
      console.error(`voltstream service ${d.definition.name}: failed to start: ${(e as Error).message}`);
      await health?.close();
      await ctx.pool.end().catch(() => undefined);
      // What the failed start had opened (a listener, a producer retrying) must not keep the process alive: the
      // supervisor of `voltstream start` restarts a process that exits, and cannot see one that merely stopped working.
      setTimeout(() => process.exit(1), 1000).unref();
      return 1;
    }
    const where = [...(running.endpoints ?? []), ...(health ? [`${health.url}/health`] : [])];
    console.log(`${d.definition.name} running${where.length ? `: ${where.join(', ')}` : ''}. Ctrl-C stops it.`);
    const why = await Promise.race([waitForSignal(), supervisorGone()]);
    if (why === 'supervisor gone') console.error(`${d.definition.name}: the voltstream start that ran it is gone; stopping`);
    await running.stop();
    await health?.close();
    await ctx.pool.end().catch(() => undefined);
    // A client library still retrying a connection must not keep a stopped service alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
    return 0;
  },
};
