/** A time-of-use tariff as the API takes it (PUT /api/v1/sites/{id}/tariff): periods `from`/`to` either as HH:MM
 *  (a daily pattern in the site's timezone; the simulated site is on UTC) or as ISO 8601 instants. */
export interface TariffPeriod {
  readonly from: string;
  readonly to: string;
  readonly pricePerKwh: number;
}

export interface Tariff {
  readonly currency: string;
  readonly periods: readonly TariffPeriod[];
  readonly demandChargePerKwMonth: number;
}

const hhmm = /^(\d{2}):(\d{2})$/;
const minutesOf = (s: string): number | undefined => {
  const m = hhmm.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
};

/** Price at instant `t` (epoch ms); undefined when no period covers it. `to` of 24:00 or 00:00 means midnight. */
export const priceAt = (tariff: Tariff, t: number): number | undefined => {
  const d = new Date(t);
  const minuteOfDay = d.getUTCHours() * 60 + d.getUTCMinutes() + d.getUTCSeconds() / 60;
  for (const p of tariff.periods) {
    const f = minutesOf(p.from);
    const to = minutesOf(p.to);
    if (f !== undefined && to !== undefined) {
      const end = to === 0 ? 1440 : to;
      const inside = f < end ? minuteOfDay >= f && minuteOfDay < end : minuteOfDay >= f || minuteOfDay < end;
      if (inside) return p.pricePerKwh;
    } else {
      const a = Date.parse(p.from);
      const b = Date.parse(p.to);
      if (t >= a && t < b) return p.pricePerKwh;
    }
  }
  return undefined;
};

/** Daily shape of a depot's time-of-use tariff as fractions of a day from midnight, with prices per kWh. */
const dailyShape: readonly { from: number; to: number; price: number }[] = [
  { from: 0, to: 6 / 24, price: 0.12 },
  { from: 6 / 24, to: 16 / 24, price: 0.24 },
  { from: 16 / 24, to: 21 / 24, price: 0.38 },
  { from: 21 / 24, to: 1, price: 0.18 },
];

const pad = (n: number) => String(n).padStart(2, '0');

/** The simulated depot's tariff. For real-length days a daily HH:MM pattern; for a compressed day (dayMs shorter
 *  than 24 h) the same shape laid out as ISO instants over `days` compressed days starting at the midnight `dayStartMs`. */
export const depotTariff = (opts: { dayMs: number; dayStartMs: number; days: number; currency?: string; demandChargePerKwMonth?: number }): Tariff => {
  const currency = opts.currency ?? 'EUR';
  const demandChargePerKwMonth = opts.demandChargePerKwMonth ?? 9.5;
  if (opts.dayMs === 86400000) {
    return {
      currency,
      demandChargePerKwMonth,
      periods: dailyShape.map((p) => ({
        from: `${pad(Math.round(p.from * 24))}:00`,
        to: p.to === 1 ? '24:00' : `${pad(Math.round(p.to * 24))}:00`,
        pricePerKwh: p.price,
      })),
    };
  }
  const periods: TariffPeriod[] = [];
  for (let d = -1; d < opts.days + 1; d++) {
    for (const p of dailyShape) {
      periods.push({
        from: new Date(opts.dayStartMs + (d + p.from) * opts.dayMs).toISOString(),
        to: new Date(opts.dayStartMs + (d + p.to) * opts.dayMs).toISOString(),
        pricePerKwh: p.price,
      });
    }
  }
  return { currency, demandChargePerKwMonth, periods };
};
