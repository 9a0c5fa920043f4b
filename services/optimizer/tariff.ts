/** Tariff time: the price of a site's tariff at an instant, in the site's own time zone. Pure. */
import { TariffPeriod } from '../../schemas/fleet-config';

/** Price per kWh at `at`: ISO-instant periods first, then HH:MM daily periods in the site's time zone. */
export const priceAt = (periods: readonly TariffPeriod[], timezone: string, at: number): number | null => {
  let local: number | null = null;
  for (const p of periods) {
    if (p.from.includes('T')) {
      if (Date.parse(p.from) <= at && at < Date.parse(p.to)) return p.pricePerKwh;
      continue;
    }
    local ??= localMinutes(at, timezone);
    const f = hhmm(p.from);
    const t = hhmm(p.to);
    if (f === null || t === null) continue;
    const inside = f < t ? local >= f && local < t : local >= f || local < t;
    if (inside || f === t) return p.pricePerKwh;
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

