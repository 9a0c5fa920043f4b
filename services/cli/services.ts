import { ServiceDefinition } from '../common/service';
import { service as normalizer } from '../../streams/normalizer/service';
import { service as vehicleTracker } from '../../streams/vehicle-tracker/service';
import { service as projections } from '../../streams/projections/service';
import { service as partnerRouter } from '../../streams/partner-router/service';
import { service as ocppGateway } from '../ocpp-gateway/service';
import { service as telematicsIngest } from '../telematics-ingest/service';
import { service as siteMeters } from '../site-meters/service';
import { service as optimizer } from '../optimizer/service';
import { service as api } from '../api/service';
import { service as auditCheckpoints } from '../audit/service';

/** Every deployable of the repository, in start order, with the port of its own `/health`, `/ready` and `/metrics`
 *  (`<NAME>_HEALTH_PORT`, e.g. OCPP_GATEWAY_HEALTH_PORT; the API serves them on API_PORT). `inStart`: whether
 *  `voltstream start` runs it as a process of its own (the telematics ingest is mounted by the API there). */
export interface Deployable {
  readonly definition: ServiceDefinition;
  readonly healthPort: number | 'api';
  readonly inStart: boolean;
  /** Its process's nice value under `voltstream start`. What chargers and vehicles wait on (gateway, API with the
   *  telematics ingest, site meters) keeps the default; the stream processors and the optimizer run at 10, so that on
   *  a saturated machine they fall behind (lag, caught up afterwards) instead of taking CPU from the answers. */
  readonly nice: number;
}

const BACKGROUND = 10;

export const deployables: readonly Deployable[] = [
  { definition: projections, healthPort: 8091, inStart: true, nice: BACKGROUND },
  { definition: normalizer, healthPort: 8092, inStart: true, nice: BACKGROUND },
  { definition: vehicleTracker, healthPort: 8093, inStart: true, nice: BACKGROUND },
  { definition: ocppGateway, healthPort: 8094, inStart: true, nice: 0 },
  { definition: partnerRouter, healthPort: 8095, inStart: true, nice: BACKGROUND },
  { definition: telematicsIngest, healthPort: 8096, inStart: false, nice: 0 },
  { definition: optimizer, healthPort: 8097, inStart: true, nice: BACKGROUND },
  { definition: auditCheckpoints, healthPort: 8098, inStart: true, nice: BACKGROUND },
  { definition: siteMeters, healthPort: 8099, inStart: true, nice: 0 },
  { definition: api, healthPort: 'api', inStart: true, nice: 0 },
];

/** In start order (`order`, then name): what a test harness runs in one process. */
export const serviceDefinitions = (): ServiceDefinition[] => deployables.map((d) => d.definition).sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));

export const findDeployable = (name: string): Deployable | undefined => deployables.find((d) => d.definition.name === name);

/** The health port of a deployable in this environment: `<NAME>_HEALTH_PORT`, else its default (0: any free port). */
export const healthPortOf = (d: Deployable, env: NodeJS.ProcessEnv = process.env): number | 'api' => {
  if (d.healthPort === 'api') return 'api';
  const v = env[healthPortVariable(d.definition.name)];
  return v !== undefined && /^\d{1,5}$/.test(v) ? Number(v) : d.healthPort;
};

export const healthPortVariable = (name: string): string => `${name.toUpperCase().replace(/-/g, '_')}_HEALTH_PORT`;
