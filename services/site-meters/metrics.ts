import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the site meters on the process registry (ctx.metrics). */
export const createSiteMeterMetrics = (registry: Registry) => {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ?? new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  return {
    accepted: counter('voltstream_site_meter_readings_accepted_total', 'Readings written to site.meter-readings', ['source']),
    duplicates: counter('voltstream_site_meter_readings_duplicate_total', 'Readings acknowledged as duplicates of one already written', ['source']),
    rejected: counter('voltstream_site_meter_readings_rejected_total', 'Readings, pushes or polls refused, by reason', ['source', 'reason']),
    authFailures: counter('voltstream_site_meter_auth_failures_total', 'Pushes refused for authentication', ['site', 'reason']),
    unavailable: counter('voltstream_site_meter_unavailable_total', 'Readings not taken because Kafka did not acknowledge in time', ['source']),
    modbusErrors: counter('voltstream_site_meter_modbus_errors_total', 'Modbus polls that gave no reading, by meter and kind', ['site', 'meter', 'kind']),
    pollSeconds: histogram('voltstream_site_meter_modbus_poll_seconds', 'Time to read one meter over Modbus TCP', ['outcome'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
  };
};

export type SiteMeterMetrics = ReturnType<typeof createSiteMeterMetrics>;
