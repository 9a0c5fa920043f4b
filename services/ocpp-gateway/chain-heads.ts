/** What the frame log knows of one charger's chain, as a fold over what its produce requests met. Pure: frame-log.ts
 *  does the I/O and asks this whether a charger's next records may be chained, and on what.
 *
 *  A charger's next records are chained on its head only while the head is `known`. A request that failed is one of
 *  two kinds:
 *  - refused: the leader answered that it did not write it (a sequence or producer id it does not accept, a record it
 *    does not take). It cannot be written later: the head is read from the topic (`scan`), and where the topic has
 *    nothing newer, it is the head before the request.
 *  - in doubt: no answer (a frozen leader timed out, a leader that wrote it but could not reach its in-sync replicas).
 *    The request may still be written: a frozen broker's socket still holds it, the new leader may hold it above its
 *    high watermark. A scan now may miss it, and chaining on the old head would then fork the chain once it lands;
 *    chaining on its records would leave a gap if it never does. So nothing of the charger is chained until the same
 *    request (same producer id and sequence numbers: the broker keeps one copy) is answered: acknowledged (its last
 *    record is the head) or refused (scan).
 */
import { ChainHead } from './frames';

export type HeadState =
  | { readonly state: 'known'; readonly head: ChainHead; readonly offset: number | null; readonly floor: number }
  /** A request carrying the charger's next records is unanswered; `base` is the head before it. */
  | { readonly state: 'in-doubt'; readonly base: ChainHead; readonly baseOffset: number | null; readonly floor: number }
  /** To be read from the topic from offset `from`; `base` if nothing of the charger is found there. */
  | { readonly state: 'scan'; readonly from: number; readonly base: ChainHead; readonly baseOffset: number | null; readonly floor: number };

/** A charger taken on: from a stored head, or to be scanned for from `scanFrom`. */
export const adopted = (base: ChainHead, baseOffset: number | null, floor: number, scanFrom: number | undefined): HeadState =>
  scanFrom === undefined ? { state: 'known', head: base, offset: baseOffset, floor } : { state: 'scan', from: scanFrom, base, baseOffset, floor };

/** The head records may be chained on now, if any. */
export const chainable = (s: HeadState): ChainHead | undefined => (s.state === 'known' ? s.head : undefined);

/** The request carrying the charger's records was acknowledged (at once, or late after it was in doubt): its last
 *  record is the head. */
export const acknowledged = (s: HeadState, last: ChainHead, offset: number): HeadState => ({ state: 'known', head: last, offset, floor: s.floor });

/** The request carrying the charger's records failed; `inDoubt` unless the leader answered that it did not write it. */
export const failed = (s: HeadState, inDoubt: boolean): HeadState => {
  if (s.state !== 'known') return s;
  return inDoubt
    ? { state: 'in-doubt', base: s.head, baseOffset: s.offset, floor: s.floor }
    : { state: 'scan', from: s.offset !== null ? s.offset + 1 : s.floor, base: s.head, baseOffset: s.offset, floor: s.floor };
};

/** The request in doubt was refused after all: it was not written, and cannot be any more. Read the topic. */
export const refusedAfterDoubt = (s: HeadState): HeadState =>
  s.state === 'in-doubt' ? { state: 'scan', from: s.baseOffset !== null ? s.baseOffset + 1 : s.floor, base: s.base, baseOffset: s.baseOffset, floor: s.floor } : s;

/** The topic was read from `from` to its end: the charger's last record there, if any, is the head. A state that is
 *  not waiting for a scan is left alone (a request in doubt may still land after the end that was read). */
export const scanned = (s: HeadState, found: { readonly seq: number; readonly hash: string; readonly offset: number } | undefined): HeadState => {
  if (s.state !== 'scan') return s;
  return found ? { state: 'known', head: { seq: found.seq, hash: found.hash }, offset: found.offset, floor: s.floor } : { state: 'known', head: s.base, offset: s.baseOffset, floor: s.floor };
};
