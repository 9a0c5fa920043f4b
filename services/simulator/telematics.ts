import { Logger } from '../common/log';
import { ChargerState, DepotState, VehicleState } from './model/depot';
import { Scenario } from './model/fleet';
import { derive } from './model/rng';

/** The fleet's telematics provider. Pure part: what each vehicle reports at an instant (our own documented JSON shape
 *  of services/telematics-ingest), how late each report reaches us, and when the provider is down. Edge part: a
 *  provider that posts the reports through the ingest API once they are due, holds them during an outage and
 *  back-fills them in batches afterwards, and retries what the API refused with 5xx. */
export interface ProviderReading {
  readonly readingId: string;
  readonly vehicleRef: string;
  readonly readingAt: string;
  readonly socPct: number | null;
  readonly rangeKm: number | null;
  readonly odometerKm: number | null;
  readonly position: { lat: number; lon: number } | null;
  readonly chargingState: 'CHARGING' | 'NOT_CHARGING' | 'COMPLETE' | 'FAULT' | 'UNKNOWN' | null;
  readonly pluggedIn: boolean | null;
  readonly batteryCapacityKwh: number | null;
  readonly etaAt: string | null;
}

export const DEPOT_LOCATION = { lat: 52.3702, lon: 4.8952 };

export const readingOf = (v: VehicleState, charger: ChargerState | undefined, t: number, seq: number): ProviderReading => {
  const atDepot = v.where !== 'away';
  const r = derive(0, v.spec.id, seq);
  const plugged = v.where === 'plugged';
  const chargingState = !plugged ? 'NOT_CHARGING' : v.socPct >= 99.5 ? 'COMPLETE' : (charger?.powerKw ?? 0) > 0 ? 'CHARGING' : 'NOT_CHARGING';
  const usableKwh = (v.socPct / 100) * v.spec.battery.capacityKwh;
  return {
    readingId: `${v.spec.telematicsId}-${t}`,
    vehicleRef: v.spec.telematicsId,
    readingAt: new Date(t).toISOString(),
    socPct: Math.round(v.socPct * 10) / 10,
    rangeKm: Math.round((usableKwh / v.spec.battery.consumptionKwhPerKm) * 10) / 10,
    odometerKm: Math.round(v.odometerKm * 10) / 10,
    position: atDepot ? DEPOT_LOCATION : { lat: DEPOT_LOCATION.lat + r.range(-0.3, 0.3), lon: DEPOT_LOCATION.lon + r.range(-0.4, 0.4) },
    chargingState,
    pluggedIn: plugged,
    // A compressed day shrinks batteries below any real capacity: report none rather than an implausible one.
    batteryCapacityKwh: v.spec.battery.capacityKwh >= 1 ? Math.round(v.spec.battery.capacityKwh * 10) / 10 : null,
    etaAt: atDepot ? null : new Date(v.visit.arriveAt).toISOString(),
  };
};

export const readingsAt = (s: DepotState, t: number): ProviderReading[] =>
  Object.values(s.vehicles).map((v, i) => readingOf(v, v.chargerId ? s.chargers[v.chargerId] : undefined, t, i));

/** Wall-clock delay of one report: mostly a second or two, sometimes much later (skewed, capped). */
export const reportDelayMs = (seed: number, vehicleId: string, t: number, maxDelayMs: number): number => {
  const u = derive(seed, 'telematics-delay', vehicleId, t).next();
  return Math.round(Math.min(maxDelayMs, 300 + maxDelayMs * u ** 4));
};

export interface Outage {
  readonly from: number;
  readonly to: number;
}

/** One provider outage per simulated day, 45 to 120 (scaled) minutes, at a random time of the evening or night. */
export const outages = (s: Scenario, days: number): Outage[] =>
  Array.from({ length: days }, (_, d) => {
    const r = derive(s.seed, 'telematics-outage', d);
    const from = s.dayStartMs + (d + r.range(19 / 24, 27 / 24)) * s.dayMs;
    return { from, to: from + r.range(45, 120) * 60000 * (s.dayMs / 86400000) };
  });

export const inOutage = (windows: readonly Outage[], t: number): boolean => windows.some((w) => t >= w.from && t < w.to);

// ---- the edge ---------------------------------------------------------------------------------------------------

export interface ProviderOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly log: Logger;
  readonly batchSize?: number;
  /** Every final answer: the readings posted and the HTTP status (2xx written, 207 partly, 4xx refused). */
  readonly onAnswer?: (readingIds: readonly string[], status: number) => void;
}

export interface ProviderStats {
  posted: number;
  accepted: number;
  refused: number;
  retried: number;
  heldInOutage: number;
  lastError: string | undefined;
}

export const createProvider = (o: ProviderOptions) => {
  const pending: { due: number; reading: ProviderReading }[] = [];
  const stats: ProviderStats = { posted: 0, accepted: 0, refused: 0, retried: 0, heldInOutage: 0, lastError: undefined };
  let busy = false;
  const post = async (batch: ProviderReading[]): Promise<'ok' | 'retry' | 'refused'> => {
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...o.headers },
        body: JSON.stringify(batch.length === 1 ? batch[0] : { readings: batch }),
      });
      stats.posted += batch.length;
      if (res.status < 500 && res.status !== 429) o.onAnswer?.(batch.map((r) => r.readingId), res.status);
      if (res.ok) {
        stats.accepted += batch.length;
        return 'ok';
      }
      const text = await res.text();
      stats.lastError = `${res.status} ${text.slice(0, 300)}`;
      if (res.status >= 500 || res.status === 429) return 'retry';
      stats.refused += batch.length;
      o.log.warn('telematics readings refused', { status: res.status, body: text.slice(0, 500) });
      return 'refused';
    } catch (e) {
      stats.lastError = (e as Error).message;
      return 'retry';
    }
  };
  return {
    stats,
    enqueue: (reading: ProviderReading, dueWallMs: number) => pending.push({ due: dueWallMs, reading }),
    pendingCount: () => pending.length,
    /** Posts what is due, unless the provider is down. */
    flush: async (wallNow: number, down: boolean): Promise<void> => {
      if (busy) return;
      if (down) {
        stats.heldInOutage = pending.length;
        return;
      }
      busy = true;
      try {
        pending.sort((a, b) => a.due - b.due);
        while (pending.length && pending[0]!.due <= wallNow) {
          const n = pending.findIndex((p) => p.due > wallNow);
          const take = pending.splice(0, Math.min(o.batchSize ?? 100, n < 0 ? pending.length : n));
          const r = await post(take.map((p) => p.reading));
          if (r === 'retry') {
            stats.retried += take.length;
            pending.unshift(...take.map((p) => ({ ...p, due: wallNow + 2000 })));
            break;
          }
        }
        stats.heldInOutage = 0;
      } finally {
        busy = false;
      }
    },
  };
};

export type Provider = ReturnType<typeof createProvider>;
