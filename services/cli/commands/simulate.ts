import { CliCommand, parseArgs } from '../command';
import { loadConfig } from '../../common/config';
import { createLogger } from '../../common/log';
import { createSimulator } from '../../simulator/simulator';
import { depotFlagsHelp, parseDepotFlags, simulatorOptions } from '../../simulator/run-options';
import { statusLine } from '../../simulator/status-line';

const usage = `Usage: voltstream simulate [options]

Runs a simulated depot against a running Voltstream (voltstream stack up + the services, or voltstream start):
configures it through the API (site, grid limit, tariff, chargers with passwords, vehicles with telematics ids,
departures), then connects every charger over OCPP (1.6J and 2.0.1, ocpp-rpc in strict mode), plugs vehicles in on
their schedule, obeys the charging profiles it receives and sends meter values, while the fleet's telematics provider
posts readings through the ingest API with delays and outages. Ctrl-C stops it.

  --duration S              stop after S wall seconds (default: run until Ctrl-C)
  --status-every S          print a status line every S wall seconds (default 10)

${depotFlagsHelp}

Environment: OCPP_PORT, API_PORT, VOLTSTREAM_ADMIN_KEY (API key for configuration), SIM_TELEMATICS_KEY, LOG_LEVEL.`;

export const command: CliCommand = {
  name: 'simulate',
  summary: 'Run a simulated depot (chargers over OCPP, vehicles, telematics, schedule, tariff) against a running system',
  usage,
  run: async (args) => {
    const { flags } = parseArgs(args);
    const config = loadConfig();
    const depot = parseDepotFlags(flags, config);
    const log = createLogger('simulator', config.logLevel);
    const sim = createSimulator(simulatorOptions(depot, config, log));
    const s = sim.scenario;
    console.log(`Simulated depot ${s.siteId}: ${s.chargers.length} chargers, ${s.vehicles.length} vehicles, grid limit ${s.gridLimitKw} kW, seed ${s.seed}, speed ×${depot.speed}`);
    console.log(`  OCPP ${depot.ocppUrl}   API ${depot.apiUrl}${depot.configure ? '' : ' (not configuring)'}`);
    await sim.start();
    console.log('Running. Ctrl-C stops it.');
    const every = Number(flags['status-every'] ?? 10) * 1000;
    const status = setInterval(() => console.log(statusLine(sim)), every);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      if (flags.duration !== undefined) setTimeout(resolve, Number(flags.duration) * 1000);
    });
    clearInterval(status);
    console.log(statusLine(sim));
    console.log('Stopping the simulated depot...');
    await sim.stop();
    console.log('Stopped.');
    return 0;
  },
};
