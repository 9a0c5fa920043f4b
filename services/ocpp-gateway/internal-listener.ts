/** The internal listener between gateway instances, on its own address and port, never on the charger-facing one,
 *  and only with the bearer token (internal-token.ts):
 *  - `POST /internal/commands`: a command forwarded by another instance (commands.ts);
 *  - `POST /internal/fence`: another instance claimed one of our chargers; we close our session of it and write
 *    nothing more to its chain, then answer 200 (gateway.ts). */
import * as http from 'node:http';
import * as os from 'node:os';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith, parseJson } from '../common/decode';
import { readBody, sendProblem } from '../common/http';
import { Command } from './connection';
import { bearerMatches } from './internal-token';

const ForwardedCommand = t.type({
  command: t.type({
    commandId: t.string,
    chargePointId: t.string,
    action: t.string,
    payloadJson: t.string,
    issuedBy: t.string,
    issuedAt: t.number,
    expiresAt: t.union([t.number, t.null]),
    planId: t.union([t.string, t.null]),
  }),
  deadline: t.number,
});

const FenceRequest = t.type({ chargePointId: t.string, epoch: t.number, instanceId: t.string });
export type FenceRequest = t.TypeOf<typeof FenceRequest>;

const decodeBody =
  <A, O>(codec: t.Type<A, O, unknown>) =>
  (body: Buffer): E.Either<string[], A> =>
    pipe(
      parseJson(body.toString('utf8')),
      E.mapLeft((e) => [e]),
      E.chain(decodeWith(codec)),
    );

export const decodeFence = decodeBody(FenceRequest);

export const decodeForwarded: (body: Buffer) => E.Either<string[], { command: Command; deadline: number }> = decodeBody(ForwardedCommand);

export interface InternalListener {
  readonly port: number;
  /** What other instances use to reach this one (stored in `connections`). */
  readonly url: string;
  close(): Promise<void>;
}

export interface InternalListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly url: string | undefined;
  readonly token: string;
  /** true: a live local connection took the command (202); false: 409, the sender routes again. */
  accept(command: Command, deadline: number): Promise<boolean>;
  /** true: nothing of this charger older than `epoch` is written any more (200); false: not this instance (409). */
  fence(request: FenceRequest): Promise<boolean>;
}

const reachableHost = (host: string): string => (host === '0.0.0.0' || host === '::' ? os.hostname() : host.includes(':') ? `[${host}]` : host);

export const startInternalListener = async (o: InternalListenerOptions): Promise<InternalListener> => {
  const server = http.createServer((req, res) => {
    const route = req.method === 'POST' ? req.url : undefined;
    if (route !== '/internal/commands' && route !== '/internal/fence') return sendProblem(res, 404, 'Not Found');
    if (!bearerMatches(req.headers.authorization, o.token)) {
      req.resume();
      return sendProblem(res, 401, 'Unauthorized', [], { 'WWW-Authenticate': 'Bearer' });
    }
    const answer = (ok: Promise<boolean>, yes: number) =>
      ok.then(
        (done) => void res.writeHead(done ? yes : 409).end(),
        (e: Error) => sendProblem(res, 503, 'Service Unavailable', [e.message]),
      );
    readBody(req, 1024 * 1024)
      .then((body) =>
        route === '/internal/fence'
          ? pipe(
              decodeFence(body),
              E.match(
                (problems) => sendProblem(res, 400, 'Bad Request', problems),
                (f) => answer(o.fence(f), 200),
              ),
            )
          : pipe(
              decodeForwarded(body),
              E.match(
                (problems) => sendProblem(res, 400, 'Bad Request', problems),
                ({ command, deadline }) => answer(o.accept(command, deadline), 202),
              ),
            ),
      )
      .catch((e: Error) => sendProblem(res, 400, 'Bad Request', [e.message]));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: o.url ?? `http://${reachableHost(o.host)}:${port}`,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
};
