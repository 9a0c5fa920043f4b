import { eachMessage } from './wire-backend';

/** Where a client session stands with PGlite, read from PGlite's ReadyForQuery messages. A session holds PGlite
 *  from its first message until PGlite is idle again, so a transaction runs whole, never interleaved with another's. */
export type TransactionState =
  | 'idle' // ReadyForQuery 'I': PGlite may serve another session
  | 'in-transaction' // 'T' or 'E' (failed, waiting for ROLLBACK)
  | 'mid-exchange'; // extended-protocol messages sent, no Sync answered yet

/** The status byte of the last ReadyForQuery in PGlite's answer, undefined when there is none. */
export const lastReadyStatus = (answer: Uint8Array): 'I' | 'T' | 'E' | undefined => {
  let status: 'I' | 'T' | 'E' | undefined;
  eachMessage(answer, (type, body) => {
    if (type === 0x5a) status = String.fromCharCode(body[0]!) as 'I' | 'T' | 'E';
  });
  return status;
};

export const afterAnswer = (before: TransactionState, answer: Uint8Array): TransactionState => {
  const status = lastReadyStatus(answer);
  if (status === undefined) return before === 'in-transaction' ? 'in-transaction' : 'mid-exchange';
  return status === 'I' ? 'idle' : 'in-transaction';
};

export const holdsDatabase = (s: TransactionState): boolean => s !== 'idle';
