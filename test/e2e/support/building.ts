import { Scenario } from '../../../services/simulator/model/fleet';

/** A depot's building on an accelerated day, pure: its load as a daily curve in depot hours (straight lines between
 *  the points, the day wrapping round), the connection's limit in force at an instant (grid limit, or a
 *  demand-response event's where lower), and what the chargers could have had of the connection. */
export interface LoadPoint {
  readonly hour: number;
  readonly kw: number;
}

export interface LimitEvent {
  readonly from: number;
  readonly to: number;
  readonly limitKw: number;
}

/** Depot hours (0-24) of an instant of the scenario's compressed day. */
export const depotHour = (s: Scenario, t: number): number => {
  const day = (t - s.dayStartMs) / s.dayMs;
  return (day - Math.floor(day)) * 24;
};

/** The instant of depot hour `hour` on the scenario's first day (hour may pass 24: the next day). */
export const atDepotHour = (s: Scenario, hour: number): number => s.dayStartMs + (hour / 24) * s.dayMs;

/** The curve's value at depot hour `h`; `points` sorted by hour within [0, 24). */
export const curveKw = (points: readonly LoadPoint[], h: number): number => {
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const wrapped = [{ hour: last.hour - 24, kw: last.kw }, ...points, { hour: first.hour + 24, kw: first.kw }];
  for (let i = 1; i < wrapped.length; i++) {
    const a = wrapped[i - 1]!;
    const b = wrapped[i]!;
    if (h <= b.hour) return a.kw + ((b.kw - a.kw) * (h - a.hour)) / (b.hour - a.hour);
  }
  return last.kw;
};

export const buildingKwAt = (s: Scenario, points: readonly LoadPoint[], t: number): number => curveKw(points, depotHour(s, t));

export const connectionLimitKwAt = (gridLimitKw: number, events: readonly LimitEvent[], t: number): number =>
  events.reduce((m, e) => (t >= e.from && t < e.to ? Math.min(m, e.limitKw) : m), gridLimitKw);

/** Energy (kWh) under min(capKw, room(t)) over [from, to). */
export const energyUnderKwh = (room: (t: number) => number, capKw: number, from: number, to: number): number => {
  const steps = 400;
  const dt = (to - from) / steps;
  let kwh = 0;
  for (let k = 0; k < steps; k++) kwh += (Math.max(0, Math.min(capKw, room(from + (k + 0.5) * dt))) * dt) / 3600000;
  return kwh;
};
