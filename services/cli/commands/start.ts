import { CliCommand, parseArgs } from '../command';
import { loadConfig } from '../../common/config';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../../common/log';
import { deployables, healthPortOf, healthPortVariable } from '../services';
import { portOrFree } from '../../common/ports';
import { defaultsInUse } from '../../common/defaults';
import { ServiceProcesses, startServiceProcesses } from '../service-processes';
import { followReadiness } from '../readiness';
import * as stack from '../../../infra/stack';
import { createSimulator, Simulator } from '../../simulator/simulator';
import { depotFlagsHelp, parseDepotFlags, simulatorOptions } from '../../simulator/run-options';
import { statusLine } from '../../simulator/status-line';
import { hostPort, hostToReach } from '../../common/addresses';

const usage = `Usage: voltstream start [options]

The whole system on this machine: the local stack (Kafka, schema registry, embedded TimescaleDB unless DATABASE_URL
is set; parts already running are used as they are), every service and stream processor, each in a process of its
own (voltstream service <name>; restarted when it exits; its log in $VOLTSTREAM_HOME/logs/<name>.log; its /health,
/ready and /metrics on a port of its own, listed at start), and a simulated depot (20 chargers, 25 vehicles by
default). Runs in development mode (VOLTSTREAM_MODE=development unless set). Prints where to look, then what is
still restoring or catching up until every part is ready. Ctrl-C stops the simulator, the services, then the stack
parts this command started.

  --no-simulator            start the stack and the services only
  --status-every S          print the depot's status line every S seconds (default 30; 0: never)

${depotFlagsHelp}

Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL, VOLTSTREAM_HOME, OCPP_PORT, API_PORT,
VOLTSTREAM_ADMIN_KEY, EMBEDDED_DB_PORT, LOG_LEVEL (logs go to stderr as JSON lines; default warn here).`;

const waitForSignal = () =>
  new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

const secs = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

export const command: CliCommand = {
  name: 'start',
  summary: 'Start everything: the local stack, every service and a simulated depot (what npm start runs)',
  usage,
  run: async (args) => {
    const { flags } = parseArgs(args);
    // Development unless said otherwise, for this process (the simulator, the telematics defaults) and the services.
    const mode = (process.env.VOLTSTREAM_MODE ??= 'development');
    const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env, VOLTSTREAM_MODE: mode });
    const depot = parseDepotFlags(flags, config);
    const t0 = Date.now();
    let interrupted: string | undefined;
    const early = () => {
      interrupted = 'SIGINT';
    };
    process.once('SIGINT', early);

    console.log('Starting the local stack...');
    const s = await stack.up(config, { log: (l) => console.log(l) });
    const logDir = path.join(config.home, 'logs');
    let services: ServiceProcesses | undefined;
    let sim: Simulator | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    let stopFollowingReadiness: () => void = () => undefined;

    const stopAll = async (why: string) => {
      console.log(`\n${why}: stopping...`);
      if (statusTimer) clearInterval(statusTimer);
      stopFollowingReadiness();
      if (sim) {
        await sim.stop().catch((e: Error) => console.error(`  simulator: ${e.message}`));
        console.log('  simulator stopped');
      }
      if (services) {
        await services.stop();
        console.log('  services stopped');
      }
      if (s.started.length) console.log(`  stopping ${s.started.join(', ')}...`);
      await s.stop();
      console.log('Stopped.');
      // Everything this command started is stopped; a client library still retrying a connection must not keep the
      // process alive (the timer does not hold the event loop open itself).
      setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
    };

    try {
      // The processes' health listeners bind HEALTH_HOST (services/cli/commands/service.ts); start dials them there.
      const healthHost = config.healthHost;
      const specs = await Promise.all(
        deployables
          .filter((d) => d.inStart)
          .map(async (d, i) => {
            const wanted = healthPortOf(d);
            const port = wanted === 'api' ? config.apiPort : await portOrFree(wanted, healthHost);
            return { name: d.definition.name, nice: d.nice, healthUrl: `http://${hostPort(hostToReach(wanted === 'api' ? config.apiHost : healthHost), port)}/health`, port: wanted === 'api' ? ('api' as const) : port, i };
          }),
      );
      const peers = specs.filter((x) => x.port !== 'api').map((x) => `${x.name}=${x.healthUrl.replace(/\/health$/, '')}`).join(',');
      const env: NodeJS.ProcessEnv = { ...process.env, VOLTSTREAM_HOME: config.home, LOG_LEVEL: config.logLevel, VOLTSTREAM_MODE: mode, VOLTSTREAM_PEERS: peers };
      console.log(`Starting ${specs.length} services, each in a process of its own (logs in ${logDir})...`);
      const t1 = Date.now();
      services = startServiceProcesses(
        specs.map((x) => ({ name: x.name, nice: x.nice, healthUrl: x.healthUrl, env: { ...env, GATEWAY_ID: `${x.name}-${os.hostname()}-${x.i}`, ...(x.port === 'api' ? {} : { [healthPortVariable(x.name)]: String(x.port) }) } })),
        { logDir, say: (l) => console.log(l) },
      );
      await services.answering(180000);
      for (const st of services.status()) console.log(`  ${st.name.padEnd(20)} pid ${String(st.pid).padEnd(8)} ${st.healthUrl.replace(/\/health$/, '/ready')}`);
      const niced = services.status().filter((st) => st.nice > 0);
      if (niced.length) console.log(`  at nice ${niced[0]!.nice} (lower CPU priority than the gateway and the API): ${niced.map((st) => st.name).join(', ')}`);
      console.log(`  all answering in ${secs(t1)}`);
      if (!flags['no-simulator'] && !interrupted) {
        sim = createSimulator(simulatorOptions(depot, config, createLogger('simulator', config.logLevel)));
        const t2 = Date.now();
        console.log(`Starting the simulated depot (${depot.chargers} chargers, ${depot.vehicles} vehicles)...`);
        await sim.start();
        console.log(`  simulator            running in ${secs(t2)}`);
      }
    } catch (e) {
      console.error(`voltstream start: ${(e as Error).message}`);
      await stopAll('failed');
      return 1;
    }
    process.removeListener('SIGINT', early);
    if (interrupted) {
      await stopAll(interrupted);
      return 0;
    }

    const api = `http://${hostPort(hostToReach(config.apiHost), config.apiPort)}`;
    const defaults = defaultsInUse(config, { providersFile: process.env.TELEMATICS_PROVIDERS_FILE || undefined });
    console.log(`
Voltstream is running (every service answering after ${secs(t0)}; a line follows once every part has caught up).

  Dashboard         ${api}/dashboard
  HTTP API          ${api}   (OpenAPI: ${api}/openapi.json, health: ${api}/health, metrics: ${api}/metrics)
  Admin API key     ${config.adminKey}   (Authorization: Bearer ${config.adminKey})
  OCPP endpoint     ws://${hostPort(hostToReach(config.ocppHost), config.ocppPort)}/ocpp/{chargePointId}   (ocpp1.6, ocpp2.0.1; Basic auth)
${stack.describe(config, s.databaseUrl).join('\n')}
  Projections       schema "projections" in that database
${sim ? `  Simulated depot   site ${sim.scenario.siteId}: ${sim.scenario.chargers.length} chargers, ${sim.scenario.vehicles.length} vehicles, grid limit ${sim.scenario.gridLimitKw} kW, seed ${sim.scenario.seed}, speed ×${depot.speed}\n` : ''}
${defaults.length ? `${mode === 'development' ? 'DEVELOPMENT MODE' : `${mode} mode`}: published defaults in use, never for production:\n${defaults.map((d) => `  - ${d}`).join('\n')}\n` : ''}
Logs: JSON lines (LOG_LEVEL=${config.logLevel}) in ${logDir}/<service>.log. Each service's /ready is listed above. Press Ctrl-C to stop.
`);
    // The API's /ready answers for every service process (its peers), naming each part that is not ready.
    const readiness = followReadiness([{ name: 'api', readyUrl: `${api}/ready` }], { say: (l) => console.log(l) });
    stopFollowingReadiness = readiness.stop;
    void readiness.done.then((ready) => {
      if (ready) console.log(`All services ready and caught up ${secs(t0)} after the start.`);
    });
    const every = Number(flags['status-every'] ?? 30);
    if (sim && every > 0) statusTimer = setInterval(() => console.log(statusLine(sim!)), every * 1000);
    const signal = await waitForSignal();
    await stopAll(signal);
    return 0;
  },
};
