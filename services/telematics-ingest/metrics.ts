import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the ingest on the process registry (ctx.metrics). */
export const createIngestMetrics = (registry: Registry) => {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ?? new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  return {
    accepted: counter('voltstream_telematics_readings_accepted_total', 'Readings written to telematics.readings', ['provider']),
    duplicates: counter('voltstream_telematics_readings_duplicate_total', 'Readings acknowledged as duplicates of one already written', ['provider']),
    rejected: counter('voltstream_telematics_readings_rejected_total', 'Readings or payloads refused, by reason', ['provider', 'reason']),
    authFailures: counter('voltstream_telematics_auth_failures_total', 'Push requests refused for authentication', ['provider', 'reason']),
    unavailable: counter('voltstream_telematics_unavailable_total', 'Requests answered 503 because Kafka did not acknowledge in time', ['provider']),
    produceSeconds: histogram('voltstream_telematics_produce_seconds', 'Kafka sendBatch latency (acks=all) of the ingest', ['outcome'], [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
  };
};

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
