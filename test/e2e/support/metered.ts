/** The chargers' own meter values from ocpp.frames, pure: the power (kW) each charger reported at each metered
 *  instant (MeterValues in 1.6, TransactionEvent meter values in 2.0.1; Power.Active.Import). */
export interface FrameRecord {
  chargePointId: string;
  direction: 'IN' | 'OUT';
  kind: string;
  action: string | null;
  payloadJson: string | null;
  receivedAt: number;
}

interface MeterPayload {
  meterValue?: { timestamp: string; sampledValue: { measurand?: string; value: string | number }[] }[];
}

/** instant (epoch ms) → charger → kW. */
export const meteredKw = (frames: readonly FrameRecord[]): Map<number, Map<string, number>> => {
  const out = new Map<number, Map<string, number>>();
  for (const f of frames) {
    if (f.direction !== 'IN' || f.kind !== 'CALL' || !f.payloadJson) continue;
    if (f.action !== 'MeterValues' && f.action !== 'TransactionEvent') continue;
    for (const mv of (JSON.parse(f.payloadJson) as MeterPayload).meterValue ?? []) {
      const w = mv.sampledValue.find((x) => x.measurand === 'Power.Active.Import');
      if (!w) continue;
      const at = Date.parse(mv.timestamp);
      if (!out.has(at)) out.set(at, new Map());
      out.get(at)!.set(f.chargePointId, Number(w.value) / 1000);
    }
  }
  return out;
};

/** Sum of `kw` over the chargers `which` selects. */
export const sumKw = (kw: ReadonlyMap<string, number>, which: (chargePointId: string) => boolean = () => true): number => [...kw].reduce((m, [id, x]) => (which(id) ? m + x : m), 0);
