import * as E from 'fp-ts/Either';
import { checkpointAtStop, checkpointDue, checkpointWantedAtStop, CheckpointSchedule, FoldMoment, restoreFinished, startSchedule } from './checkpointing';

/** When the optimizer's fold is checkpointed: given a schedule, when the fold is at a moment, then due or not. */
const MIN = 60000;
const EVERY = 5 * MIN;

const running: FoldMoment = { restoring: false, stopped: false, folding: false };
const restoring: FoldMoment = { ...running, restoring: true };
const stopped: FoldMoment = { ...running, stopped: true };
const folding: FoldMoment = { ...running, folding: true };

/** Asks at each instant in turn, as the fold's ticks do; the instants at which a checkpoint was taken. */
const takenAt = (s: CheckpointSchedule, m: FoldMoment, instants: readonly number[]): number[] => {
  const taken: number[] = [];
  for (const now of instants) {
    const next = checkpointDue(s, m, now);
    if (next) {
      taken.push(now);
      s = next;
    }
  }
  return taken;
};
const minutes = (...ms: number[]) => ms.map((m) => m * MIN);

describe('when the optimizer fold is checkpointed', () => {
  test('given a running fold, one every interval from the start of the run, none between', () => {
    const s = startSchedule(EVERY, 0);
    expect(takenAt(s, running, minutes(1, 4.99, 5, 6, 9.99, 10, 12))).toEqual(minutes(5, 10));
  });

  test('given a restore that just finished, one at the next chance, and the interval counts from there', () => {
    const s = restoreFinished(startSchedule(EVERY, 0));
    expect(takenAt(s, running, minutes(0.5, 1, 5, 5.49, 5.5))).toEqual(minutes(0.5, 5.5));
  });

  test('given one due, none while restoring, stopped or folding a record; it is taken at the next cut', () => {
    const due = restoreFinished(startSchedule(EVERY, 0));
    expect(checkpointDue(due, restoring, MIN)).toBeNull();
    expect(checkpointDue(due, stopped, MIN)).toBeNull();
    expect(checkpointDue(due, folding, MIN)).toBeNull();
    expect(checkpointDue(startSchedule(EVERY, 0), folding, 2 * EVERY)).toBeNull();
    expect(checkpointDue(due, running, MIN)).toEqual({ everyMs: EVERY, lastAt: MIN, restoredSince: false });
  });

  test('given checkpoints off, none ever, not even after a restore', () => {
    const s = restoreFinished(startSchedule(0, 0));
    expect(takenAt(s, running, minutes(0, 1, 60, 6000))).toEqual([]);
  });

  test('given a stop, none when the fold was restoring; else one only once the plans being sent settled', () => {
    expect(checkpointWantedAtStop({ restoring: true })).toBe(false);
    expect(checkpointWantedAtStop({ restoring: false })).toBe(true);
    expect(checkpointAtStop(true)).toEqual(E.right(undefined));
    expect(checkpointAtStop(false)).toEqual(E.left('a plan was still being sent'));
  });
});
