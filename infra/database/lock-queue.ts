/** Who holds the one PGlite instance and who waits for it: first come first served, except that urgent sessions
 *  (a gateway's lease renewals: a renewal that waits behind bulk projection writes past its timeout costs the
 *  gateway its chargers) wait ahead of the others, among themselves in arrival order. */
export interface LockQueue {
  readonly owner: number | undefined;
  /** The line, in the order the lock will go: the urgent waiters first. */
  readonly waiting: readonly number[];
  /** Which of the waiting sessions are urgent. */
  readonly urgent: readonly number[];
}

export const emptyQueue: LockQueue = { owner: undefined, waiting: [], urgent: [] };

/** `granted` when `session` holds the lock now (it may already have held it); otherwise it waits in line. */
export const request = (q: LockQueue, session: number, urgent = false): { queue: LockQueue; granted: boolean } => {
  if (q.owner === session) return { queue: q, granted: true };
  if (q.owner === undefined) return { queue: { owner: session, waiting: q.waiting.filter((s) => s !== session), urgent: q.urgent.filter((s) => s !== session) }, granted: true };
  if (q.waiting.includes(session)) return { queue: q, granted: false };
  if (!urgent) return { queue: { ...q, waiting: [...q.waiting, session] }, granted: false };
  const at = q.urgent.length;
  return { queue: { owner: q.owner, waiting: [...q.waiting.slice(0, at), session, ...q.waiting.slice(at)], urgent: [...q.urgent, session] }, granted: false };
};

/** `session` gives the lock up, or leaves the line (a client that disconnected); `next` is the session that now holds
 *  the lock, if it changed hands. */
export const release = (q: LockQueue, session: number): { queue: LockQueue; next: number | undefined } => {
  if (q.owner !== session) return { queue: { ...q, waiting: q.waiting.filter((s) => s !== session), urgent: q.urgent.filter((s) => s !== session) }, next: undefined };
  const [next, ...rest] = q.waiting;
  return { queue: { owner: next, waiting: rest, urgent: q.urgent.filter((s) => s !== next) }, next };
};
