/** Impossible jumps, judged against the readings of the same vehicle accepted before (this process's memory).
 *
 *  The rules, between two readings a (earlier) and b (later) of one vehicle, in readingAt order:
 *  - odometer never decreases (0.1 km tolerance for rounding and unit conversion);
 *  - odometer advances at most 300 km/h on average (+ 1 km);
 *  - SoC rises at most 300 percentage points per hour (a 10→80 % DC charge in 14 min) + 3 points of sensor slack;
 *  - SoC falls at most 200 points per hour (+ 3 points).
 *  A reading is checked against its neighbours in time, not just the newest one, because out-of-order readings are
 *  kept: a late reading must fit between the readings before and after it. Per vehicle the last `HistorySize`
 *  readings (by readingAt) are remembered. Pure: history in, problems or a new history out. */
export const jumpRules = {
  odometerToleranceKm: 0.1,
  maxSpeedKmh: 300,
  speedSlackKm: 1,
  maxSocRisePctPerHour: 300,
  maxSocDropPctPerHour: 200,
  socSlackPct: 3,
} as const;

export const HistorySize = 32;

export interface Point {
  readonly readingAt: number;
  readonly socPct: number | null;
  readonly odometerKm: number | null;
}

/** Sorted by readingAt, oldest first, at most HistorySize points. */
export type History = readonly Point[];

const hours = (a: Point, b: Point) => (b.readingAt - a.readingAt) / 3_600_000;
const minutes = (h: number) => `${(h * 60).toFixed(1)} min`;
const round = (x: number) => Math.round(x * 100) / 100;

type Metric = 'odometerKm' | 'socPct';

/** Problems of one metric between a (earlier or same time) and b (later). */
const pairProblems = (a: Point, b: Point, metric: Metric): string[] => {
  const out: string[] = [];
  const h = hours(a, b);
  const r = jumpRules;
  if (metric === 'odometerKm' && a.odometerKm !== null && b.odometerKm !== null) {
    const d = b.odometerKm - a.odometerKm;
    if (d < -r.odometerToleranceKm) out.push(`odometerKm decreased from ${round(a.odometerKm)} km (${new Date(a.readingAt).toISOString()}) to ${round(b.odometerKm)} km (${new Date(b.readingAt).toISOString()})`);
    else if (d > r.speedSlackKm + r.maxSpeedKmh * h) out.push(`odometerKm advanced ${round(d)} km in ${minutes(h)}, faster than ${r.maxSpeedKmh} km/h`);
  }
  if (metric === 'socPct' && a.socPct !== null && b.socPct !== null) {
    const d = b.socPct - a.socPct;
    if (d > r.socSlackPct + r.maxSocRisePctPerHour * h) out.push(`socPct rose from ${round(a.socPct)} % to ${round(b.socPct)} % in ${minutes(h)}, faster than ${r.maxSocRisePctPerHour} %/h`);
    if (-d > r.socSlackPct + r.maxSocDropPctPerHour * h) out.push(`socPct fell from ${round(a.socPct)} % to ${round(b.socPct)} % in ${minutes(h)}, faster than ${r.maxSocDropPctPerHour} %/h`);
  }
  return out;
};

const neighbours = (history: History, p: Point, metric: Metric): { before?: Point; after?: Point } => {
  let before: Point | undefined;
  let after: Point | undefined;
  for (const q of history) {
    if (q[metric] === null) continue;
    if (q.readingAt <= p.readingAt) before = q;
    else if (!after) after = q;
  }
  return { before, after };
};

export const checkJumps = (history: History, p: Point): string[] => {
  const problems: string[] = [];
  for (const metric of ['odometerKm', 'socPct'] as const) {
    if (p[metric] === null) continue;
    const { before, after } = neighbours(history, p, metric);
    if (before) problems.push(...pairProblems(before, p, metric));
    if (after) problems.push(...pairProblems(p, after, metric));
  }
  return problems;
};

/** The history with p in its place; the oldest readings fall out beyond HistorySize. */
export const remember = (history: History, p: Point): History => {
  if (p.socPct === null && p.odometerKm === null) return history;
  const i = history.findIndex((q) => q.readingAt > p.readingAt);
  const next = i < 0 ? [...history, p] : [...history.slice(0, i), p, ...history.slice(i)];
  return next.length > HistorySize ? next.slice(next.length - HistorySize) : next;
};
