/** Tariff time: the price of a site's tariff at an instant, in the site's own time zone. Pure. */
import { TariffPeriod } from '../../schemas/fleet-config';

/** A period as priceAt reads it: instants parsed once, daily bounds in minutes (null: unreadable, never matches). */
type ReadPeriod =
  | { readonly kind: 'instants'; readonly from: number; readonly to: number; readonly price: number }
  | { readonly kind: 'daily'; readonly from: number | null; readonly to: number | null; readonly price: number };

// A snapshot asks for the price five times per slot over the whole horizon (10,800 times with 1-minute slots): parsing
// every ISO period at every call cost a simulated site's compressed tariff (120 such periods) seconds of CPU per
// snapshot, in the event loop every service of the process shares. Periods are read once per tariff instead.
const read = new WeakMap<readonly TariffPeriod[], readonly ReadPeriod[]>();
const readPeriods = (periods: readonly TariffPeriod[]): readonly ReadPeriod[] => {
  let r = read.get(periods);
  if (!r) {
    r = periods.map((p) => (p.from.includes('T') ? { kind: 'instants', from: Date.parse(p.from), to: Date.parse(p.to), price: p.pricePerKwh } : { kind: 'daily', from: hhmm(p.from), to: hhmm(p.to), price: p.pricePerKwh }));
    read.set(periods, r);
  }
  return r;
};

/** Price per kWh at `at`: the first period, in order, that holds it; ISO-instant periods by instant, HH:MM daily
 *  periods in the site's time zone. */
export const priceAt = (periods: readonly TariffPeriod[], timezone: string, at: number): number | null => {
  let local: number | null = null;
  for (const p of readPeriods(periods)) {
    if (p.kind === 'instants') {
      if (p.from <= at && at < p.to) return p.price;
      continue;
    }
    local ??= localMinutes(at, timezone);
    const f = p.from;
    const t = p.to;
    if (f === null || t === null) continue;
    const inside = f < t ? local >= f && local < t : local >= f || local < t;
    if (inside || f === t) return p.price;
  }
  return null;
};

const hhmm = (s: string): number | null => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

const formatters = new Map<string, Intl.DateTimeFormat>();
const localMinutes = (at: number, timezone: string): number => {
  let f = formatters.get(timezone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
    formatters.set(timezone, f);
  }
  const parts = f.formatToParts(new Date(at));
  return Number(parts.find((p) => p.type === 'hour')?.value ?? 0) * 60 + Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
};

