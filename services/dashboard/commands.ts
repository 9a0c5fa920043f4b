import { IncomingMessage, ServerResponse } from 'node:http';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { HttpRoute, readBody, sendJson, sendProblem } from '../common/http';
import { ServiceContext } from '../common/service';
import { createDurableProducer } from '../common/kafka';
import { formatErrors } from '../common/decode';
import { commandShortcuts } from '../api/command-shortcuts';
import { createCommandSender } from '../api/command-sender';
import { readCommand } from '../api/command-view';
import { DashboardSession } from './session';

/** The dashboard's operator buttons: unlock, reset and remote stop on a charger. A logged-in person whose key has
 *  commands:write sends them with the dashboard's session (no key in the browser); they take the commands path of the
 *  API (the typed routes' mapping per OCPP version, the official schema check, ocpp.commands) and are issued by
 *  `api:<keyId>` like any API command. The page then polls the outcome. A header the page sets (a cross-site form
 *  cannot) guards against cross-site requests beside the SameSite=Strict cookie. */
export const COMMAND_HEADER = 'x-voltstream-dashboard';

const kinds = { unlock: 'unlock-connector', reset: 'reset', 'remote-stop': 'remote-stop' } as const;
type Kind = keyof typeof kinds;

const Body = t.partial({ connectorId: t.number, type: t.keyof({ Soft: null, Hard: null }), sessionId: t.string, transactionId: t.union([t.string, t.number]) });

/** The typed route's body for a button: the dashboard knows sessions as `<chargePointId>:<transactionId>`. */
export const shortcutBody = (kind: Kind, chargePointId: string, b: t.TypeOf<typeof Body>): E.Either<string, Record<string, unknown>> => {
  switch (kind) {
    case 'unlock':
      return E.right({ connectorId: b.connectorId ?? 1 });
    case 'reset':
      return E.right({ type: b.type ?? 'Soft' });
    case 'remote-stop': {
      const tx = b.transactionId ?? (b.sessionId?.startsWith(`${chargePointId}:`) ? b.sessionId.slice(chargePointId.length + 1) : undefined);
      return tx === undefined || tx === '' ? E.left('remote-stop needs the session (sessionId) or transactionId to stop') : E.right({ transactionId: tx });
    }
  }
};

export const dashboardCommandRoutes = (
  ctx: ServiceContext,
  viewer: (req: IncomingMessage) => Promise<{ ok: true; session: DashboardSession } | { ok: false; problem: string }>,
  projections: string,
): HttpRoute[] & { stop(): Promise<void> } => {
  const producer = createDurableProducer(ctx.kafka);
  let connected: Promise<void> | undefined;
  const sender = createCommandSender({ pool: ctx.pool, projections, producer, serde: ctx.serde });

  const allowed = async (req: IncomingMessage, res: ServerResponse): Promise<DashboardSession | undefined> => {
    const v = await viewer(req);
    if (!v.ok) return void sendProblem(res, 401, 'Unauthorized', [v.problem]);
    if (!v.session.mayCommand) return void sendProblem(res, 403, 'Forbidden', ['this key may not send commands (it needs the scope commands:write): log in with one that has it']);
    if (req.headers[COMMAND_HEADER] !== '1') return void sendProblem(res, 403, 'Forbidden', [`commands from the dashboard carry the header ${COMMAND_HEADER}: 1`]);
    return v.session;
  };

  const routes: HttpRoute[] = [
    {
      method: 'POST',
      path: '/dashboard/chargers/{chargePointId}/commands/{kind}',
      scope: 'self',
      summary: 'A dashboard button: unlock, reset or remote-stop on a charger, with the session of a key holding commands:write; 202 { commandId }',
      handle: async (req, res, params) => {
        const session = await allowed(req, res);
        if (!session) return;
        const kind = params.kind as Kind;
        if (!Object.hasOwn(kinds, kind)) return sendProblem(res, 404, 'Unknown command', [`kind: one of ${Object.keys(kinds).join(', ')}`]);
        const raw = (await readBody(req, 4096)).toString('utf8');
        const parsed = pipe(
          E.tryCatch(() => (raw ? (JSON.parse(raw) as unknown) : {}), () => 'the body is not JSON'),
          E.chain((u) => pipe(Body.decode(u), E.mapLeft((errs) => formatErrors(errs).join('; ')))),
          E.chain((b) => shortcutBody(kind, params.chargePointId!, b)),
        );
        if (E.isLeft(parsed)) return sendProblem(res, 400, 'Invalid command', [parsed.left]);
        const shortcut = commandShortcuts.find((s) => s.name === kinds[kind])!;
        const protocol = await sender.protocolOf(params.chargePointId!);
        if (E.isLeft(protocol)) return sendProblem(res, protocol.left.status, protocol.left.title, protocol.left.problems);
        const request = shortcut.toRequest(protocol.right, parsed.right);
        if (E.isLeft(request)) return sendProblem(res, 400, 'Invalid command', request.left);
        connected ??= producer.connect();
        await connected;
        const sent = await sender.send(params.chargePointId!, request.right, `api:${session.principal}`);
        if (E.isLeft(sent)) return sendProblem(res, sent.left.status, sent.left.title, sent.left.problems);
        sendJson(res, 202, { commandId: sent.right.commandId, action: request.right.action, status: 'pending' });
      },
    },
    {
      method: 'GET',
      path: '/dashboard/commands/{commandId}',
      scope: 'self',
      summary: "A dashboard command's outcome (?wait=S waits up to 30 s while pending)",
      handle: async (req, res, params, url) => {
        const session = await allowed(req, res);
        if (!session) return;
        const wait = Math.min(Math.max(Number(url.searchParams.get('wait') ?? 0) || 0, 0), 30) * 1000;
        const view = wait > 0 ? await sender.outcome(params.commandId!, wait) : await readCommand(ctx.pool, projections, params.commandId!);
        if (!view) return sendJson(res, 200, { commandId: params.commandId, status: 'pending' });
        sendJson(res, 200, view);
      },
    },
  ];
  return Object.assign(routes, { stop: async () => (connected ? producer.disconnect() : undefined) });
};
