import { Topics } from '../../schemas/topics';
import { chargerStatusHistoryProjection, chargerStatusProjection, connectorStatusProjection } from './charger-status';
import { fleetChargersProjection, fleetDeparturesProjection, fleetSitesProjection, fleetVehiclesProjection } from './fleet';
import { Projection } from './projection';
import { optimizerPlansProjection } from './plans';
import { commandsProjection } from './commands';
import { limitEventsProjection } from './limit-events';
import { siteMeterReadingsProjection } from './site-meters';
import { idTokenChangesProjection, idTokensProjection, reservationsProjection } from './id-tokens';
import { deviceModelChangesProjection, deviceModelProjection, tokenDecisionsProjection } from './device-model';
import { commandOutcomesProjection, meterValuesProjection, sessionsProjection, vehicleMatchesProjection } from './sessions';
import { vehicleForecastHistoryProjection } from './vehicle-forecast/projection';
import { socEstimateChecksProjection, socHistoryProjection, telematicsReadingsProjection, vehicleStateProjection } from './vehicles';

/** Every projection the projections service maintains, one per table of ./tables.ts. */
export const projections: readonly Projection[] = [
  chargerStatusProjection,
  connectorStatusProjection,
  chargerStatusHistoryProjection,
  sessionsProjection,
  meterValuesProjection,
  vehicleMatchesProjection,
  commandOutcomesProjection,
  telematicsReadingsProjection,
  vehicleStateProjection,
  socHistoryProjection,
  socEstimateChecksProjection,
  fleetSitesProjection,
  fleetChargersProjection,
  fleetVehiclesProjection,
  fleetDeparturesProjection,
  limitEventsProjection,
  optimizerPlansProjection,
  commandsProjection,
  siteMeterReadingsProjection,
  idTokensProjection,
  idTokenChangesProjection,
  reservationsProjection,
  deviceModelProjection,
  deviceModelChangesProjection,
  tokenDecisionsProjection,
  vehicleForecastHistoryProjection,
];

/** The topics the projections read. */
export const projectionTopics: readonly string[] = [Topics.chargingEvents, Topics.telematicsReadings, Topics.fleetConfig, Topics.optimizerPlans, Topics.ocppCommands, Topics.ocppCommandResults, Topics.siteMeterReadings];
