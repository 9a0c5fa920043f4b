/** When the optimizer's fold is checkpointed (checkpoint.ts), pure: once right after a restore, then every
 *  OPTIMIZER_CHECKPOINT_MINUTES, and at stop once the planning chain settled. service.ts asks at every record and
 *  every tick, and does the waiting and the writing. */
import * as E from 'fp-ts/Either';

/** What the fold is doing when a checkpoint is considered. */
export interface FoldMoment {
  readonly restoring: boolean;
  readonly stopped: boolean;
  /** A record is being folded: its state has changed, its position not yet. */
  readonly folding: boolean;
}

export interface CheckpointSchedule {
  /** 0: no checkpoints. */
  readonly everyMs: number;
  /** When the last checkpoint was taken, or the run started (ms on the caller's clock). */
  readonly lastAt: number;
  /** A restore finished and no checkpoint has been taken since. */
  readonly restoredSince: boolean;
}

export const startSchedule = (everyMs: number, now: number): CheckpointSchedule => ({ everyMs, lastAt: now, restoredSince: false });

export const restoreFinished = (s: CheckpointSchedule): CheckpointSchedule => ({ ...s, restoredSince: true });

/** A consistent cut of the fold: every position it names is folded into its state and nothing else is. A restoring
 *  fold is not at one (its outputs are suppressed and its positions are not all read), nor is a stopped one. */
export const atConsistentCut = (m: FoldMoment): boolean => !m.restoring && !m.stopped && !m.folding;

/** The schedule after a checkpoint taken `now`, or null when none is due. One due at a moment that is not a cut stays
 *  due until the next one. */
export const checkpointDue = (s: CheckpointSchedule, m: FoldMoment, now: number): CheckpointSchedule | null => {
  if (s.everyMs <= 0 || !atConsistentCut(m)) return null;
  if (!s.restoredSince && now - s.lastAt < s.everyMs) return null;
  return { ...s, lastAt: now, restoredSince: false };
};

/** At stop, before anything is waited for: a fold stopped while restoring is not at a cut worth keeping. */
export const checkpointWantedAtStop = (m: Pick<FoldMoment, 'restoring'>): boolean => !m.restoring;

/** At stop, once the planning chain was given its time: a plan still being sent has its commands past the positions
 *  and not yet in the state, so no checkpoint then. */
export const checkpointAtStop = (plansSettled: boolean): E.Either<string, void> =>
  plansSettled ? E.right(undefined) : E.left('a plan was still being sent');
