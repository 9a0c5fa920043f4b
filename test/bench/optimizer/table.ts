import { percentile } from '../benchmark';
import { costGapPct, Figures } from './figures';
import { Goal } from './goals';

/** The bench's tables as text, pure: columns as wide as their widest cell. */

export const formatTable = (head: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // The first column (names) left-aligned, figures right-aligned.
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
};

const fixed = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

export const figuresTable = (rows: readonly Figures[], offline: Figures, uncontrolled?: Figures): string =>
  formatTable(
    ['controller', 'energy EUR', 'demand EUR', 'total EUR', 'vs offline', ...(uncontrolled ? ['vs uncontr.'] : []), 'peak kW', 'kWh', 'at SoC', 'feasible at SoC', 'worst short kWh', 'slots over', 'periods', 'toggles', 'solve p50/p95 ms'],
    rows.map((r) => [
      r.controller,
      fixed(r.energyCost),
      fixed(r.demandCharge),
      fixed(r.totalCost),
      `${fixed(costGapPct(r, offline), 1)} %`,
      ...(uncontrolled ? [`${fixed((100 * (r.totalCost - uncontrolled.totalCost)) / uncontrolled.totalCost, 1)} %`] : []),
      fixed(r.peakKw, 1),
      fixed(r.deliveredKwh),
      `${r.reached}/${r.vehicles}`,
      `${r.feasibleReached}/${r.feasible}`,
      fixed(r.worstShortfallKwh, 1),
      String(r.slotsOver),
      fixed(r.periods, 1),
      String(r.toggles),
      r.solveMs.length ? `${fixed(percentile(r.solveMs, 50))}/${fixed(percentile(r.solveMs, 95))}` : '-',
    ]),
  );

export const goalsTable = (goals: readonly Goal[]): string =>
  formatTable(['goal', 'target', 'measured', 'verdict'], goals.map((g) => [g.goal, g.target, g.measured, g.met === null ? '-' : g.met ? 'PASS' : 'MISS']));
