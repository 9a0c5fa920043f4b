/** The simulator's own clock: simulated time runs `factor` times faster than the wall clock from an anchor.
 *  Every timestamp the simulator sends (OCPP, telematics) is simulated time. */
export interface SimClock {
  readonly wallAnchorMs: number;
  readonly simAnchorMs: number;
  readonly factor: number;
}

export const createClock = (simStartMs: number, factor: number, wallNowMs: number): SimClock => {
  if (!(factor > 0)) throw new Error(`time factor must be positive, got ${factor}`);
  return { wallAnchorMs: wallNowMs, simAnchorMs: simStartMs, factor };
};

export const simNow = (c: SimClock, wallNowMs: number): number => c.simAnchorMs + (wallNowMs - c.wallAnchorMs) * c.factor;

/** Wall-clock milliseconds until the simulated instant `simMs` (0 when it has passed). */
export const wallDelayUntil = (c: SimClock, simMs: number, wallNowMs: number): number => Math.max(0, (simMs - simNow(c, wallNowMs)) / c.factor);

export const simToWallDuration = (c: SimClock, simMs: number): number => simMs / c.factor;
