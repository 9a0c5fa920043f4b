import { Layout, Plan, buildModel, planFromPowers } from './formulation';
import { limitRows } from './limits';
import { SiteSnapshot } from './snapshot';

/** Heuristic planners over the same snapshot as the LP, slot by slot with the battery state carried forward:
 *  - uncontrolled: every vehicle at full (tapered) power until full, ignoring the site limit, as without smart charging;
 *  - edf: earliest departure first, within the site's limits (the connection, and limits.ts: panels, phases, external);
 *  - llf: least laxity first (time left minus time still needed at full power), within the limits.
 *  edf is also the service's fallback when the solver fails. Pure. */
export type Heuristic = 'uncontrolled' | 'edf' | 'llf';

export const heuristicPowers = (s: SiteSnapshot, layout: Layout, kind: Heuristic): number[][] => {
  const T = layout.slots;
  const dt = layout.slotHours;
  const eta = s.efficiency;
  const ws = layout.windows;
  const rows = kind === 'uncontrolled' ? [] : limitRows(s, ws, T, layout.baseKw);
  const rowsOf = ws.map(() => [] as { row: number; coef: number }[]);
  rows.forEach((r, k) => r.members.forEach((m) => rowsOf[m.vehicle]!.push({ row: k, coef: m.coef })));
  const powers = ws.map(() => new Array<number>(T).fill(0));
  const delivered = ws.map(() => 0);
  for (let t = 0; t < T; t++) {
    const slotStart = s.now + t * s.slotMinutes * 60000;
    const candidates: { i: number; max: number; key: number }[] = [];
    ws.forEach((w, i) => {
      if (!w.planned && w.fixedKw > 0) {
        if (w.avail[t]! > 0) powers[i]![t] = w.fixedKw;
        return;
      }
      if (!w.planned || w.avail[t]! <= 0) return;
      const remaining = w.needKwh - delivered[i]!;
      if (remaining <= 1e-9) return;
      const v = w.vehicle;
      const cap = v.batteryCapacityKwh;
      const soc = (w.e0Kwh + delivered[i]!) / cap;
      const k = v.taper.kneeSocPct / 100;
      const taper = soc <= k || k >= 1 ? 1 : 1 - ((1 - v.taper.endPowerFraction) * (soc - k)) / (1 - k);
      // Power while plugged in, over the part of the slot the vehicle is there.
      const max = Math.min(w.pmaxKw * taper, remaining / (eta * dt * w.avail[t]!));
      const hoursLeft = (v.departAt - slotStart) / 3600000;
      const key = kind === 'llf' ? hoursLeft - remaining / (eta * w.pmaxKw) : v.departAt;
      candidates.push({ i, max, key });
    });
    candidates.sort((a, b) => a.key - b.key || a.i - b.i);
    let siteLeft = kind === 'uncontrolled' ? Infinity : layout.capKw[t]!;
    const left = rows.map((r) => r.capacity[t]!);
    for (const c of candidates) {
      const p = Math.max(0, rowsOf[c.i]!.reduce((m, x) => Math.min(m, left[x.row]! / x.coef), Math.min(c.max, siteLeft)));
      powers[c.i]![t] = p;
      delivered[c.i]! += eta * dt * ws[c.i]!.avail[t]! * p;
      siteLeft -= p;
      for (const x of rowsOf[c.i]!) left[x.row]! -= x.coef * p;
    }
  }
  return powers;
};

export const heuristicPlan = (s: SiteSnapshot, kind: Heuristic, status: string = kind): Plan => {
  const { layout } = buildModel(s);
  return planFromPowers(s, layout, heuristicPowers(s, layout, kind), status, NaN, 0);
};
