/** Who holds the one PGlite instance and who waits for it, first come first served. */
export interface LockQueue {
  readonly owner: number | undefined;
  readonly waiting: readonly number[];
}

export const emptyQueue: LockQueue = { owner: undefined, waiting: [] };

/** `granted` when `session` holds the lock now (it may already have held it); otherwise it waits in line. */
export const request = (q: LockQueue, session: number): { queue: LockQueue; granted: boolean } => {
  if (q.owner === session) return { queue: q, granted: true };
  if (q.owner === undefined) return { queue: { owner: session, waiting: q.waiting.filter((s) => s !== session) }, granted: true };
  return { queue: q.waiting.includes(session) ? q : { ...q, waiting: [...q.waiting, session] }, granted: false };
};

/** `session` gives the lock up, or leaves the line (a client that disconnected); `next` is the session that now holds
 *  the lock, if it changed hands. */
export const release = (q: LockQueue, session: number): { queue: LockQueue; next: number | undefined } => {
  if (q.owner !== session) return { queue: { ...q, waiting: q.waiting.filter((s) => s !== session) }, next: undefined };
  const [next, ...rest] = q.waiting;
  return { queue: { owner: next, waiting: rest }, next };
};
