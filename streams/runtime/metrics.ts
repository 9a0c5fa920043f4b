import { Counter, Gauge, Registry } from 'prom-client';

/** The fold runtime's metrics, one set per process registry, labelled by processor. */
export interface FoldMetrics {
  lag(processor: string, topic: string, partition: number, records: number): void;
  stateKeys(processor: string, store: string, partition: number, keys: number): void;
  restore(processor: string, store: string, partition: number, done: number, total: number): void;
  undecodable(processor: string, topic: string): void;
  forget(processor: string, topic: string, store: string, partition: number): void;
}

const gauge = (r: Registry, name: string, help: string, labelNames: string[]): Gauge<string> =>
  (r.getSingleMetric(name) as Gauge<string> | undefined) ?? new Gauge({ name, help, labelNames, registers: [r] });

export const foldMetrics = (r: Registry | undefined): FoldMetrics => {
  if (!r) return { lag: () => undefined, stateKeys: () => undefined, restore: () => undefined, undecodable: () => undefined, forget: () => undefined };
  const lag = gauge(r, 'voltstream_fold_lag', 'Records of the input partition not yet folded (high watermark - next offset)', ['processor', 'topic', 'partition']);
  const keys = gauge(r, 'voltstream_fold_state_keys', 'Keys held in the store partition', ['processor', 'store', 'partition']);
  const restored = gauge(r, 'voltstream_fold_restore_done', 'Changelog records restored into the store partition', ['processor', 'store', 'partition']);
  const restoreTotal = gauge(r, 'voltstream_fold_restore_total', 'Changelog records to restore into the store partition', ['processor', 'store', 'partition']);
  const bad =
    (r.getSingleMetric('voltstream_fold_undecodable_total') as Counter<string> | undefined) ??
    new Counter({ name: 'voltstream_fold_undecodable_total', help: 'Input records that did not decode and were skipped', labelNames: ['processor', 'topic'], registers: [r] });
  return {
    lag: (processor, topic, partition, n) => lag.set({ processor, topic, partition: String(partition) }, n),
    stateKeys: (processor, store, partition, n) => keys.set({ processor, store, partition: String(partition) }, n),
    restore: (processor, store, partition, done, total) => {
      restored.set({ processor, store, partition: String(partition) }, done);
      restoreTotal.set({ processor, store, partition: String(partition) }, total);
    },
    undecodable: (processor, topic) => bad.inc({ processor, topic }),
    forget: (processor, topic, store, partition) => {
      const p = String(partition);
      lag.remove({ processor, topic, partition: p });
      keys.remove({ processor, store, partition: p });
      restored.remove({ processor, store, partition: p });
      restoreTotal.remove({ processor, store, partition: p });
    },
  };
};
