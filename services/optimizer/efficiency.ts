/** Charging efficiency learned from what the site measured: battery energy (the SoC rise a trusted source reports, times
 *  the battery capacity) per grid kWh the charger metered, over the sessions where both are known. Charger and on-board
 *  losses vary by site, charger and weather; planning with a configured figure that is 2 % optimistic leaves every
 *  vehicle a little short at each re-plan, and the receding horizon makes up for it late, at a higher peak. Pure. */

/** One trusted SoC reading during a session, with the grid energy metered since plug-in at that time. */
export interface EfficiencySample {
  readonly socPct: number;
  readonly gridKwh: number;
}

/** A session's first and latest trusted samples (estimates are never samples: they are made from this very figure). */
export interface SessionSpan {
  readonly capacityKwh: number;
  readonly first: EfficiencySample;
  readonly last: EfficiencySample;
}

export const observeSample = (span: SessionSpan | undefined, capacityKwh: number, sample: EfficiencySample): SessionSpan =>
  span ? { ...span, last: sample } : { capacityKwh, first: sample, last: sample };

export interface LearningParams {
  /** A session counts once its SoC rose this much (SoC readings are whole percent points on many providers). */
  readonly minRiseSocPct: number;
  /** The site figure is used once this much grid energy is behind it. */
  readonly minGridKwh: number;
  /** Physically plausible range; anything outside is a data error, not a loss figure. */
  readonly min: number;
  readonly max: number;
}

export const defaultLearningParams: LearningParams = { minRiseSocPct: 10, minGridKwh: 20, min: 0.7, max: 1 };

/** Energy-weighted efficiency over the sessions (Σ battery kWh / Σ grid kWh), or null while there is too little. */
export const learnedEfficiency = (spans: Iterable<SessionSpan>, p: LearningParams = defaultLearningParams): number | null => {
  let battery = 0;
  let grid = 0;
  for (const s of spans) {
    const rise = s.last.socPct - s.first.socPct;
    const kwh = s.last.gridKwh - s.first.gridKwh;
    if (rise < p.minRiseSocPct || kwh <= 0) continue;
    battery += (rise / 100) * s.capacityKwh;
    grid += kwh;
  }
  if (grid < p.minGridKwh) return null;
  return Math.min(p.max, Math.max(p.min, battery / grid));
};
