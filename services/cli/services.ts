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
}

export const deployables: readonly Deployable[] = [
  { definition: projections, healthPort: 8091, inStart: true },
  { definition: normalizer, healthPort: 8092, inStart: true },
  { definition: vehicleTracker, healthPort: 8093, inStart: true },
  { definition: ocppGateway, healthPort: 8094, inStart: true },
  { definition: partnerRouter, healthPort: 8095, inStart: true },
  { definition: telematicsIngest, healthPort: 8096, inStart: false },
  { definition: optimizer, healthPort: 8097, inStart: true },
  { definition: auditCheckpoints, healthPort: 8098, inStart: true },
  { definition: siteMeters, healthPort: 8099, inStart: true },
  { definition: api, healthPort: 'api', inStart: true },
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
