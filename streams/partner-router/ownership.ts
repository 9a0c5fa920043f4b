import { ConfigEvent } from '../../schemas/fleet-config';

/** Who operates which charger, over time: a fold over fleet.config (ChargerConfigured.ownerPartnerId). Ownership
 *  takes effect at the configuration event's time (`at`, the API's clock); an event belongs to whoever owned its
 *  charger when the log received it (never the charger's own clock: see router.ts). Pure. */
export interface OwnershipSpan {
  /** Effective from (epoch ms, inclusive). */
  readonly from: number;
  /** null: nobody (the charger was configured without a partner). */
  readonly partnerId: string | null;
}

export type Ownership = ReadonlyMap<string, readonly OwnershipSpan[]>;

export const initialOwnership: Ownership = new Map();

export const evolveOwnership = (state: Ownership, e: ConfigEvent): Ownership => {
  if (e.body.type !== 'ChargerConfigured') return state;
  const cp = e.body.chargePointId;
  const spans = state.get(cp) ?? [];
  const last = spans[spans.length - 1];
  if (last && last.partnerId === e.body.ownerPartnerId) return state;
  const span = { from: e.at, partnerId: e.body.ownerPartnerId };
  // fleet.config has one partition, so `at` normally only grows; a clock step backwards still lands in time order.
  const next = [...spans, span].sort((a, b) => a.from - b.from);
  const out = new Map(state);
  out.set(cp, next);
  return out;
};

export const ownerAt = (state: Ownership, chargePointId: string, at: number): string | null => {
  const spans = state.get(chargePointId);
  if (!spans) return null;
  let owner: string | null = null;
  for (const s of spans) {
    if (s.from > at) break;
    owner = s.partnerId;
  }
  return owner;
};
