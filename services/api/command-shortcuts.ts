/** The everyday commands as small, version-neutral bodies (POST /api/v1/chargers/{id}/commands/<name>), each mapped to
 *  the action and payload of the version the charger speaks. Pure. Connector numbers are the system's: 1.6
 *  connectorId, 2.0.1 evseId (as in the projections), with 2.0.1's connector 1 of that EVSE where one is needed. The
 *  payload built here is still checked against the official schema, like any other command. */
import { randomInt } from 'node:crypto';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Protocol } from '../ocpp-gateway/protocol';
import { described } from './json-schema';

export interface OcppRequest {
  readonly action: string;
  readonly payload: Record<string, unknown>;
}

export interface CommandShortcut<A> {
  /** Last path segment: /api/v1/chargers/{chargePointId}/commands/<name>. */
  readonly name: string;
  readonly summary: string;
  readonly body: t.Type<A, unknown, unknown>;
  toRequest(p: Protocol, body: A): E.Either<string[], OcppRequest>;
}

const int = (min: number, doc: string) =>
  described(
    new t.Type<number, number, unknown>(
      `IntAtLeast${min}`,
      (u): u is number => Number.isInteger(u) && (u as number) >= min,
      (u, c) => (Number.isInteger(u) && (u as number) >= min ? t.success(u as number) : t.failure(u, c, `expected a whole number >= ${min}, got ${JSON.stringify(u) ?? 'nothing'}`)),
      t.identity,
    ),
    { type: 'integer', minimum: min, description: doc },
  );
const ConnectorId = int(1, "connector: 1.6 connectorId, 2.0.1 evseId");
const ConnectorOrCharger = int(0, 'connector (1.6 connectorId, 2.0.1 evseId); 0 is the whole charger');
const text = (name: string, max: number, doc: string) =>
  described(
    new t.Type<string, string, unknown>(
      name,
      (u): u is string => typeof u === 'string' && u.length >= 1 && u.length <= max,
      (u, c) => (typeof u === 'string' && u.length >= 1 && u.length <= max ? t.success(u) : t.failure(u, c, `expected a string of 1 to ${max} characters, got ${JSON.stringify(u) ?? 'nothing'}`)),
      t.identity,
    ),
    { type: 'string', minLength: 1, maxLength: max, description: doc },
  );

const only = (p: Protocol, want: Protocol, name: string, instead: string): string[] =>
  p === want ? [] : [`${name} is for ${want} chargers; this charger speaks ${p} (use ${instead})`];

const shortcut = <A>(s: CommandShortcut<A>): CommandShortcut<unknown> => s as unknown as CommandShortcut<unknown>;

export const commandShortcuts: readonly CommandShortcut<unknown>[] = [
  shortcut({
    name: 'remote-start',
    summary: 'Start a transaction: 1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction',
    body: t.intersection([t.type({ idTag: text('IdTag', 36, 'id tag (2.0.1: idToken) to authorize the transaction with') }), t.partial({ connectorId: ConnectorId })]),
    toRequest: (p, b) =>
      E.right(
        p === 'ocpp1.6'
          ? { action: 'RemoteStartTransaction', payload: { idTag: b.idTag, ...(b.connectorId !== undefined ? { connectorId: b.connectorId } : {}) } }
          : {
              action: 'RequestStartTransaction',
              // remoteStartId ties the charger's TransactionEvent to this request; any positive integer the charger has not seen recently.
              payload: { idToken: { idToken: b.idTag, type: 'Central' }, remoteStartId: randomInt(1, 2 ** 31 - 1), ...(b.connectorId !== undefined ? { evseId: b.connectorId } : {}) },
            },
      ),
  }),
  shortcut({
    name: 'remote-stop',
    summary: 'Stop a transaction: 1.6 RemoteStopTransaction, 2.0.1 RequestStopTransaction',
    body: t.type({ transactionId: described(t.union([t.string, t.number]), { anyOf: [{ type: 'string' }, { type: 'integer' }], description: "the charger's transaction id (an integer in 1.6)" }) }),
    toRequest: (p, b) =>
      p === 'ocpp1.6'
        ? E.right({ action: 'RemoteStopTransaction', payload: { transactionId: typeof b.transactionId === 'string' && /^\d+$/.test(b.transactionId) ? Number(b.transactionId) : b.transactionId } })
        : E.right({ action: 'RequestStopTransaction', payload: { transactionId: String(b.transactionId) } }),
  }),
  shortcut({
    name: 'unlock-connector',
    summary: 'Unlock a connector (UnlockConnector)',
    body: t.type({ connectorId: ConnectorId }),
    toRequest: (p, b) => E.right({ action: 'UnlockConnector', payload: p === 'ocpp1.6' ? { connectorId: b.connectorId } : { evseId: b.connectorId, connectorId: 1 } }),
  }),
  shortcut({
    name: 'reset',
    summary: 'Reset the charger: Hard / Soft (2.0.1: Immediate / OnIdle)',
    body: t.type({ type: t.keyof({ Hard: null, Soft: null }) }),
    toRequest: (p, b) => E.right({ action: 'Reset', payload: { type: p === 'ocpp1.6' ? b.type : b.type === 'Hard' ? 'Immediate' : 'OnIdle' } }),
  }),
  shortcut({
    name: 'change-availability',
    summary: 'Make a connector, or the whole charger (connectorId 0), operative or inoperative (ChangeAvailability)',
    body: t.type({ connectorId: ConnectorOrCharger, available: t.boolean }),
    toRequest: (p, b) => {
      const status = b.available ? 'Operative' : 'Inoperative';
      return E.right({
        action: 'ChangeAvailability',
        payload: p === 'ocpp1.6' ? { connectorId: b.connectorId, type: status } : { operationalStatus: status, ...(b.connectorId > 0 ? { evse: { id: b.connectorId } } : {}) },
      });
    },
  }),
  shortcut({
    name: 'trigger-message',
    summary: 'Ask the charger to send a message now, e.g. StatusNotification, Heartbeat, MeterValues (TriggerMessage)',
    body: t.intersection([t.type({ message: text('RequestedMessage', 64, "requestedMessage, one of the version's values") }), t.partial({ connectorId: ConnectorId })]),
    toRequest: (p, b) =>
      E.right({
        action: 'TriggerMessage',
        payload: { requestedMessage: b.message, ...(b.connectorId === undefined ? {} : p === 'ocpp1.6' ? { connectorId: b.connectorId } : { evse: { id: b.connectorId } }) },
      }),
  }),
  shortcut({
    name: 'clear-cache',
    summary: "Clear the charger's authorization cache (ClearCache)",
    body: t.type({}),
    toRequest: () => E.right({ action: 'ClearCache', payload: {} }),
  }),
  shortcut({
    name: 'get-configuration',
    summary: 'Read configuration keys of a 1.6 charger (GetConfiguration; all keys when none are named)',
    body: t.partial({ keys: t.array(text('ConfigurationKey', 50, 'configuration key')) }),
    toRequest: (p, b) => {
      const wrong = only(p, 'ocpp1.6', 'get-configuration', 'get-variables');
      return wrong.length ? E.left(wrong) : E.right({ action: 'GetConfiguration', payload: b.keys ? { key: b.keys } : {} });
    },
  }),
  shortcut({
    name: 'set-configuration',
    summary: 'Change one configuration key of a 1.6 charger (ChangeConfiguration)',
    body: t.type({ key: text('ConfigurationKey', 50, 'configuration key'), value: text('ConfigurationValue', 500, 'new value') }),
    toRequest: (p, b) => {
      const wrong = only(p, 'ocpp1.6', 'set-configuration', 'set-variables');
      return wrong.length ? E.left(wrong) : E.right({ action: 'ChangeConfiguration', payload: { key: b.key, value: b.value } });
    },
  }),
  shortcut({
    name: 'get-variables',
    summary: 'Read device-model variables of a 2.0.1 charger (GetVariables)',
    body: t.type({
      variables: t.array(t.intersection([t.type({ component: text('Component', 50, 'component name'), variable: text('Variable', 50, 'variable name') }), t.partial({ instance: text('Instance', 50, 'variable instance') })])),
    }),
    toRequest: (p, b) => {
      const wrong = only(p, 'ocpp2.0.1', 'get-variables', 'get-configuration');
      if (wrong.length) return E.left(wrong);
      return E.right({
        action: 'GetVariables',
        payload: { getVariableData: b.variables.map((v) => ({ component: { name: v.component }, variable: { name: v.variable, ...(v.instance ? { instance: v.instance } : {}) } })) },
      });
    },
  }),
  shortcut({
    name: 'set-variables',
    summary: 'Set device-model variables of a 2.0.1 charger (SetVariables)',
    body: t.type({
      variables: t.array(t.type({ component: text('Component', 50, 'component name'), variable: text('Variable', 50, 'variable name'), value: text('AttributeValue', 1000, 'new value') })),
    }),
    toRequest: (p, b) => {
      const wrong = only(p, 'ocpp2.0.1', 'set-variables', 'set-configuration');
      if (wrong.length) return E.left(wrong);
      return E.right({ action: 'SetVariables', payload: { setVariableData: b.variables.map((v) => ({ attributeValue: v.value, component: { name: v.component }, variable: { name: v.variable } })) } });
    },
  }),
];
