/** Where a restore stands, pure: the offsets each input partition starts from (its log start, or later where old
 *  records cannot matter), the end offsets it must reach (the ends when the restore began), and the positions reached.
 *  Configuration is restored first, alone: a charger's site and a vehicle's configuration decide what the other
 *  topics' records mean, and the topics have no order between them. Keys are `topic:partition`. */
export interface RestorePlan {
  readonly starts: ReadonlyMap<string, number>;
  readonly targets: ReadonlyMap<string, number>;
}

export interface RestoreProgress {
  readonly done: number;
  readonly total: number;
}

export const tp = (topic: string, partition: number): string => `${topic}:${partition}`;
const topicOf = (key: string): string => key.slice(0, key.lastIndexOf(':'));

/** Records folded of those to fold, over the partitions of `topics` (all when omitted). */
export const progressOf = (plan: RestorePlan, positions: ReadonlyMap<string, number>, topics?: readonly string[]): RestoreProgress => {
  let done = 0;
  let total = 0;
  for (const [key, target] of plan.targets) {
    if (topics && !topics.includes(topicOf(key))) continue;
    const start = plan.starts.get(key) ?? 0;
    total += Math.max(0, target - start);
    done += Math.max(0, Math.min(target, positions.get(key) ?? start) - start);
  }
  return { done, total };
};

export const reached = (p: RestoreProgress): boolean => p.done >= p.total;

/** A transactional writer leaves a commit marker after its last record: a consumer never sees it, so a position one
 *  short of the target, unmoved for a while, has reached it. */
export const acceptMarkers = (plan: RestorePlan, positions: ReadonlyMap<string, number>): ReadonlyMap<string, number> =>
  new Map([...plan.targets].map(([key, target]) => [key, positions.get(key) === target - 1 ? target : (positions.get(key) ?? plan.starts.get(key) ?? 0)]));
