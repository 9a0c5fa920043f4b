import { Logger } from '../common/log';
import { SiteMeterIngest } from './ingest';
import { connectMeter, MeterConnection } from './modbus-read';
import { MeterConfig } from './sites';

/** Polls every Modbus meter every intervalMs (one connection per meter, meters in parallel, a meter's registers one
 *  after the other) and hands each result to the ingest: a reading, or a rejected record with the reason. A poll
 *  never throws; a meter that fails is retried at the next interval with a fresh connection. */
export interface ModbusPoller {
  /** Polls every meter once now (tests, and the first poll at start). */
  pollOnce(): Promise<void>;
  stop(): Promise<void>;
}

export const startModbusPoller = (
  ingest: SiteMeterIngest,
  meters: readonly MeterConfig[],
  opts: { intervalMs: number; timeoutMs: number; log: Logger; clock?: () => number; autoStart?: boolean },
): ModbusPoller => {
  const clock = opts.clock ?? Date.now;
  const log = opts.log.child({ component: 'site-meters-modbus' });
  const connections = new Map<MeterConfig, MeterConnection>(
    meters.map((m) => [m, connectMeter(m.modbus!, opts.timeoutMs, (e) => log.warn('Modbus connection error', { site: m.siteId, meter: m.meterId, err: e }))]),
  );
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | null = null;

  const pollMeter = async (m: MeterConfig, conn: MeterConnection) => {
    const t0 = process.hrtime.bigint();
    const result = await conn.read(m.meterId, clock);
    ingest.metrics.pollSeconds.observe({ outcome: result.kind === 'reading' ? 'ok' : 'failed' }, Number(process.hrtime.bigint() - t0) / 1e9);
    if (result.kind === 'failed') {
      for (const kind of new Set(result.problems.map((p) => p.code))) ingest.metrics.modbusErrors.inc({ site: m.siteId, meter: m.meterId, kind });
      log.warn('Modbus poll gave no reading', { site: m.siteId, meter: m.meterId, problems: result.problems.map((p) => p.message) });
    }
    const status = await ingest.polled(m, result, clock());
    if (status === 'rejected' && result.kind === 'reading') ingest.metrics.modbusErrors.inc({ site: m.siteId, meter: m.meterId, kind: 'implausible' });
  };

  const pollOnce = async () => {
    while (running) await running;
    running = Promise.all([...connections].map(([m, c]) => pollMeter(m, c).catch((e: unknown) => log.error('Modbus poll failed', { meter: m.meterId, err: e as Error })))).then(() => undefined);
    try {
      await running;
    } finally {
      running = null;
    }
  };

  const loop = () => {
    if (stopped) return;
    void pollOnce().finally(() => {
      if (!stopped) timer = setTimeout(loop, opts.intervalMs);
    });
  };
  if (opts.autoStart !== false && connections.size > 0) loop();

  return {
    pollOnce,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      while (running) await running;
      await Promise.all([...connections.values()].map((c) => c.close()));
    },
  };
};
