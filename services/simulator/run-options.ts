import { Config } from '../common/config';
import { Logger } from '../common/log';
import { createScenario, DAY_MS } from './model/fleet';
import { SimulatorOptions } from './simulator';
import { hostPort, hostToReach } from '../common/addresses';

/** Flags shared by `voltstream simulate` and `voltstream start`, with their defaults, turned into simulator options. */
export interface DepotFlags {
  chargers: number;
  vehicles: number;
  seed: number;
  speed: number;
  dayMinutes: number;
  arriveWithinS: number | undefined;
  meterIntervalS: number;
  telematicsIntervalS: number;
  telematicsMaxDelayS: number;
  outages: boolean;
  telematics: boolean;
  configure: boolean;
  prefix: string;
  siteId: string | undefined;
  gridLimitKw: number | undefined;
  ocppUrl: string;
  apiUrl: string;
  telematicsProvider: string;
  telematicsKey: string;
}

export const depotFlagsHelp = `Depot options:
  --chargers N              chargers (default 20: 10 % DC 50 kW, the rest AC 11 kW; 40 % speak OCPP 2.0.1, the rest 1.6J)
  --vehicles N              vehicles (default 25)
  --seed N                  random seed: the same seed gives the same depot, schedule and randomness (default 1)
  --speed F                 time acceleration: simulated seconds per wall second (default 1; see note)
  --day-minutes M           length of a depot day in simulated minutes (default 1440). Shorter days are compressed:
                            the schedule keeps its shape and batteries shrink by the same factor, power stays real
  --arrive-within S         first arrivals spread over S simulated seconds from the start (default 90; 0 = follow
                            the evening schedule)
  --meter-interval S        MeterValues every S simulated seconds (default 30)
  --telematics-interval S   telematics report every S simulated seconds (default 120)
  --telematics-delay S      longest delay of a telematics report in wall seconds (default 20)
  --no-outages              no telematics provider outages (default: one per simulated day)
  --no-telematics           no telematics provider
  --no-configure            do not configure the depot through the API (it is already)
  --prefix P                prefix of charger, vehicle and site ids (default SIM)
  --site ID                 site id (default <prefix>-depot)
  --grid-limit-kw KW        site grid limit (default 45 % of the chargers' total power)
  --ocpp-url URL            OCPP endpoint (default ws://$OCPP_HOST:$OCPP_PORT/ocpp)
  --api-url URL             API (default http://$API_HOST:$API_PORT)
  --telematics-provider P   ingest provider name (default voltstream: our JSON shape, X-Api-Key)
  --telematics-key K        its API key (default $SIM_TELEMATICS_KEY or dev-telematics-key)

Note on --speed: every timestamp the simulator sends (OCPP, telematics) is simulated time. The backend services run on
the wall clock (gateway receive times, optimizer slots and debounce, the ingest's "not more than 5 minutes in the future"
rule), so a speed above 1 is for looking at the depot's behaviour, not for driving the backend. To run a depot day in
minutes against the backend, compress the day instead (--day-minutes 6 --speed 1).`;

type Flags = Record<string, string | true>;

const num = (flags: Flags, name: string, dflt: number): number => {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new Error(`--${name} expects a number, got ${String(v)}`);
  return n;
};

export const parseDepotFlags = (flags: Flags, config: Config, env: NodeJS.ProcessEnv = process.env): DepotFlags => {
  const arrive = num(flags, 'arrive-within', 90);
  return {
    chargers: num(flags, 'chargers', 20),
    vehicles: num(flags, 'vehicles', 25),
    seed: num(flags, 'seed', 1),
    speed: num(flags, 'speed', 1),
    dayMinutes: num(flags, 'day-minutes', 1440),
    arriveWithinS: arrive > 0 ? arrive : undefined,
    meterIntervalS: num(flags, 'meter-interval', 30),
    telematicsIntervalS: num(flags, 'telematics-interval', 120),
    telematicsMaxDelayS: num(flags, 'telematics-delay', 20),
    outages: !flags['no-outages'],
    telematics: !flags['no-telematics'],
    configure: !flags['no-configure'],
    prefix: typeof flags.prefix === 'string' ? flags.prefix : 'SIM',
    siteId: typeof flags.site === 'string' ? flags.site : undefined,
    gridLimitKw: flags['grid-limit-kw'] !== undefined ? num(flags, 'grid-limit-kw', 0) : undefined,
    ocppUrl: typeof flags['ocpp-url'] === 'string' ? flags['ocpp-url'] : `ws://${hostPort(hostToReach(config.ocppHost), config.ocppPort)}/ocpp`,
    apiUrl: typeof flags['api-url'] === 'string' ? flags['api-url'] : `http://${hostPort(hostToReach(config.apiHost), config.apiPort)}`,
    telematicsProvider: typeof flags['telematics-provider'] === 'string' ? flags['telematics-provider'] : 'voltstream',
    telematicsKey: typeof flags['telematics-key'] === 'string' ? flags['telematics-key'] : (env.SIM_TELEMATICS_KEY ?? 'dev-telematics-key'),
  };
};

export const simulatorOptions = (f: DepotFlags, config: Config, log: Logger, startMs = Date.now()): SimulatorOptions => {
  const scenario = createScenario({
    seed: f.seed,
    chargers: f.chargers,
    vehicles: f.vehicles,
    startMs,
    dayMs: f.dayMinutes === 1440 ? DAY_MS : f.dayMinutes * 60000,
    initialArrivalsWithinMs: f.arriveWithinS !== undefined ? f.arriveWithinS * 1000 : undefined,
    idPrefix: f.prefix,
    siteId: f.siteId,
    gridLimitKw: f.gridLimitKw,
  });
  return {
    scenario,
    factor: f.speed,
    meterIntervalS: f.meterIntervalS,
    ocppUrl: f.ocppUrl,
    api: f.configure ? { url: f.apiUrl, adminKey: config.adminKey } : undefined,
    telematics: f.telematics
      ? {
          provider: f.telematicsProvider,
          url: `${f.apiUrl}/api/v1/telematics/${f.telematicsProvider}`,
          headers: { 'X-Api-Key': f.telematicsKey },
          intervalS: f.telematicsIntervalS,
          maxDelayMs: f.telematicsMaxDelayS * 1000,
          outages: f.outages,
        }
      : undefined,
    log,
  };
};
