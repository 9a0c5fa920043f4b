/** Prometheus metrics of the gateway, registered on the service context's registry (one per gateway instance, so two
 *  instances in one process need two registries). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly connected: Gauge;
  readonly framesIn: Counter;
  readonly framesOut: Counter;
  readonly rejected: Counter;
  readonly callLatency: Histogram;
  readonly commandLatency: Histogram;
  readonly commands: Counter;
  readonly handshake: Histogram;
}

/** A metric of the registry, created on first use: a gateway restarted in the same process reuses its metrics. */
export const metric = <M extends Counter | Gauge | Histogram>(registry: Registry, name: string, make: () => M): M =>
  (registry.getSingleMetric(name) as M | undefined) ?? make();

export const createMetrics = (registry: Registry): GatewayMetrics => ({
  connected: metric(registry, 'ocpp_gateway_connected_chargers', () => new Gauge({ name: 'ocpp_gateway_connected_chargers', help: 'Chargers connected to this gateway instance', labelNames: ['protocol'], registers: [registry] })),
  framesIn: metric(registry, 'ocpp_gateway_frames_in_total', () => new Counter({ name: 'ocpp_gateway_frames_in_total', help: 'Frames received from chargers', labelNames: ['action', 'kind'], registers: [registry] })),
  framesOut: metric(registry, 'ocpp_gateway_frames_out_total', () => new Counter({ name: 'ocpp_gateway_frames_out_total', help: 'Frames sent to chargers', labelNames: ['action', 'kind'], registers: [registry] })),
  rejected: metric(registry, 'ocpp_gateway_rejected_total', () => new Counter({ name: 'ocpp_gateway_rejected_total', help: 'Frames and handshakes refused', labelNames: ['stage', 'reason'], registers: [registry] })),
  callLatency: metric(registry, 'ocpp_gateway_call_result_seconds', () => new Histogram({ name: 'ocpp_gateway_call_result_seconds',
    help: 'Charger CALL received → CALLRESULT sent (includes the durable write)',
    labelNames: ['action'],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })),
  commandLatency: metric(registry, 'ocpp_gateway_command_round_trip_seconds', () => new Histogram({ name: 'ocpp_gateway_command_round_trip_seconds',
    help: 'Command CALL sent → charger answer received',
    labelNames: ['action'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  })),
  handshake: metric(registry, 'ocpp_gateway_handshake_seconds', () => new Histogram({ name: 'ocpp_gateway_handshake_seconds',
    help: 'Where a handshake spends its time: wait (for an admission slot), authorize (fleet lookup, password check), claim (connections table), setup (chain head, CONNECTED durable)',
    labelNames: ['phase'],
    buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })),
  commands: metric(registry, 'ocpp_gateway_command_outcomes_total', () => new Counter({ name: 'ocpp_gateway_command_outcomes_total', help: 'Command outcomes', labelNames: ['action', 'outcome'], registers: [registry] })),
});
