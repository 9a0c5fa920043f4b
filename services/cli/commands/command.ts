import { CliCommand, parseArgs } from '../command';
import { commandShortcuts } from '../../api/command-shortcuts';

const shortcutNames = commandShortcuts.map((s) => s.name);

const usage = `Usage: voltstream command <chargePointId> <action> [json] [options]

Sends a command to a charger through the API and prints its outcome.

  <action>   an OCPP action the central system sends, in the charger's version (Reset, UnlockConnector,
             RequestStartTransaction, ...): [json] is its payload (default {}); or one of the everyday commands
             ${shortcutNames.slice(0, 6).join(', ')},
             ${shortcutNames.slice(6).join(', ')}:
             [json] is its small body, e.g. '{"connectorId":1}' (see services/api/README.md)

  --timeout <s>            seconds to wait for the outcome (default 30; 0: print the command id and return)
  --expires-at <ISO 8601>  deadline for delivery: a charger offline until then gets "expired" instead of "offline"
  --idempotency-key <key>  the same key and body for the same charger give the same command (safe to retry)
  --key <api key>          API key with scope commands:write (default VOLTSTREAM_ADMIN_KEY, else dev-admin-key)
  --url <base url>         the API (default http://127.0.0.1:$API_PORT, API_PORT default 8080)
  --json                   print the command as JSON

Exit status: 0 the charger accepted, 1 any other outcome or still pending at the timeout, 2 usage error,
3 the API refused the command (the reasons are printed) or could not be reached.`;

interface CommandState {
  commandId: string;
  chargePointId: string;
  action: string;
  status: string;
  response?: unknown;
  error?: string;
  issuedBy: string;
  issuedAt: string;
  completedAt?: string;
}

const problemText = (status: number, body: unknown): string => {
  const b = body as { title?: string; problems?: string[] } | undefined;
  return [`${status} ${b?.title ?? ''}`.trim(), ...(b?.problems ?? []).map((p) => `  - ${p}`)].join('\n');
};

const parseSeconds = (v: string | true | undefined, fallback: number): number | undefined => {
  if (v === undefined) return fallback;
  if (v === true || !/^\d+(\.\d+)?$/.test(v)) return undefined;
  return Number(v);
};

export const command: CliCommand = {
  name: 'command',
  summary: 'Send a command to a charger through the API and print its outcome',
  usage,
  run: async (args) => {
    const { flags, positionals } = parseArgs(args.filter((a) => a !== '--json'));
    const json = args.includes('--json');
    const [chargePointId, action, body = '{}', ...extra] = positionals;
    const timeoutS = parseSeconds(flags.timeout, 30);
    const fail = (why: string) => {
      console.error(`voltstream command: ${why}\n\n${usage}`);
      return 2;
    };
    if (!chargePointId || !action || extra.length) return fail('expected <chargePointId> <action> [json]');
    if (timeoutS === undefined) return fail('--timeout takes a number of seconds');
    for (const f of ['expires-at', 'idempotency-key', 'key', 'url'] as const) if (flags[f] === true) return fail(`--${f} takes a value`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      return fail(`[json] is not JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('[json] must be a JSON object');
    const base = (typeof flags.url === 'string' ? flags.url : `http://127.0.0.1:${process.env.API_PORT ?? '8080'}`).replace(/\/+$/, '');
    const key = typeof flags.key === 'string' ? flags.key : (process.env.VOLTSTREAM_ADMIN_KEY ?? 'dev-admin-key');
    const options = {
      ...(typeof flags['expires-at'] === 'string' ? { expiresAt: flags['expires-at'] } : {}),
      ...(typeof flags['idempotency-key'] === 'string' ? { idempotencyKey: flags['idempotency-key'] } : {}),
    };
    const shortcut = shortcutNames.includes(action);
    const path = `/api/v1/chargers/${encodeURIComponent(chargePointId)}/commands${shortcut ? `/${action}` : ''}`;
    const request = shortcut ? { ...parsed, ...options } : { action, payload: parsed, ...options };

    const call = async (method: string, url: string, payload?: unknown): Promise<{ status: number; body: unknown } | string> => {
      try {
        const res = await fetch(`${base}${url}`, {
          method,
          headers: { Authorization: `Bearer ${key}`, ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }) },
          ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        });
        const text = await res.text();
        let b: unknown = text;
        try {
          b = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        return { status: res.status, body: b };
      } catch (e) {
        return `the API at ${base} could not be reached: ${(e as Error).message} (set --url or API_PORT)`;
      }
    };

    const sent = await call('POST', path, request);
    if (typeof sent === 'string') {
      console.error(`voltstream command: ${sent}`);
      return 3;
    }
    if (sent.status !== 202) {
      console.error(`voltstream command: the API refused the command: ${problemText(sent.status, sent.body)}`);
      return 3;
    }
    const { commandId } = sent.body as { commandId: string };
    let state: CommandState | undefined;
    const deadline = Date.now() + timeoutS * 1000;
    // Each request waits at most the API's cap (60 s); several of them cover a longer --timeout.
    for (;;) {
      const waitS = Math.max(0, Math.min(60, (deadline - Date.now()) / 1000));
      const got = await call('GET', `/api/v1/commands/${encodeURIComponent(commandId)}?wait=${waitS.toFixed(1)}`);
      if (typeof got === 'string') {
        console.error(`voltstream command: ${got}`);
        return 3;
      }
      if (got.status === 200) state = got.body as CommandState;
      else if (got.status !== 404) {
        console.error(`voltstream command: reading the outcome failed: ${problemText(got.status, got.body)}`);
        return 3;
      }
      if ((state && state.status !== 'pending') || Date.now() >= deadline) break;
    }
    if (json) console.log(JSON.stringify(state ?? { commandId, status: 'pending' }, null, 2));
    else {
      console.log(`command ${commandId}: ${state?.action ?? action} to ${chargePointId}`);
      console.log(`status: ${state?.status ?? 'pending'}${state?.status === 'pending' || !state ? ` (no outcome within ${timeoutS} s)` : ''}`);
      if (state?.response !== undefined) console.log(`response: ${JSON.stringify(state.response)}`);
      if (state?.error !== undefined) console.log(`error: ${state.error}`);
      if (state?.issuedBy) console.log(`issued by ${state.issuedBy} at ${state.issuedAt}${state.completedAt ? `, completed at ${state.completedAt}` : ''}`);
    }
    return state?.status === 'accepted' ? 0 : 1;
  },
};
