import { IncomingMessage, ServerResponse } from 'node:http';
import * as E from 'fp-ts/Either';
import { BodyTooLarge, readBody, sendProblem } from '../common/http';
import { verifyPush } from './auth';
import { PushAuth } from './providers';

const maxBodyBytes = 1024 * 1024;

/** The body of a pushed request (a telematics provider's, a site meter's), read up to 1 MiB and authenticated as
 *  `auth` says, with the time it was received; undefined once the request was answered 413 or 401. */
export const readPushedBody = async (
  req: IncomingMessage,
  res: ServerResponse,
  auth: PushAuth,
  clock: () => number,
  onAuthFailure: (reason: string) => void,
): Promise<{ body: Buffer; receivedAt: number } | undefined> => {
  let body: Buffer;
  try {
    body = await readBody(req, maxBodyBytes);
  } catch (e) {
    if (e instanceof BodyTooLarge) {
      sendProblem(res, 413, 'body too large', [e.message]);
      return undefined;
    }
    throw e;
  }
  const receivedAt = clock();
  const verified = verifyPush(auth, req.headers, body, receivedAt);
  if (E.isLeft(verified)) {
    onAuthFailure(verified.left.reason);
    sendProblem(res, 401, 'authentication failed', [verified.left.message]);
    return undefined;
  }
  return { body, receivedAt };
};
