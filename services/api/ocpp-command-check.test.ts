import * as E from 'fp-ts/Either';
import { Protocol } from '../ocpp-gateway/protocol';
import { knownAction } from '../ocpp-gateway/schemas';
import { actionProblem, checkCommandFor, isChargerInitiated } from './ocpp-command-check';
import { commandShortcuts } from './command-shortcuts';

const problems = (p: Protocol, action: string, payload: unknown): string[] => {
  const r = checkCommandFor(p, action, payload);
  return E.isLeft(r) ? r.left : [];
};

describe('commands the central system may send (official OCPP schemas)', () => {
  test('a valid payload passes in its version', () => {
    expect(problems('ocpp1.6', 'Reset', { type: 'Soft' })).toEqual([]);
    expect(problems('ocpp2.0.1', 'Reset', { type: 'OnIdle' })).toEqual([]);
  });

  test('every schema error is named, not only the first', () => {
    expect(problems('ocpp1.6', 'ChangeAvailability', { connectorId: 'one', extra: true })).toEqual(
      expect.arrayContaining(['payload: unknown field extra', "payload: must have required property 'type'", 'payload.connectorId: must be integer']),
    );
    expect(problems('ocpp2.0.1', 'Reset', { type: 'Soft' })).toEqual(['payload.type: must be one of Immediate, OnIdle']);
  });

  test('an action of the other version, a charger-initiated action and an unknown one are refused', () => {
    expect(actionProblem('ocpp2.0.1', 'RemoteStartTransaction')).toBe('action: RemoteStartTransaction is an ocpp1.6 action; this charger speaks ocpp2.0.1');
    expect(actionProblem('ocpp1.6', 'RequestStartTransaction')).toBe('action: RequestStartTransaction is an ocpp2.0.1 action; this charger speaks ocpp1.6');
    expect(actionProblem('ocpp1.6', 'StartTransaction')).toMatch(/sent by chargers/);
    expect(actionProblem('ocpp2.0.1', 'TransactionEvent')).toMatch(/sent by chargers/);
    expect(actionProblem('ocpp1.6', 'Teleport')).toBe('action: Teleport is not an OCPP action of ocpp1.6');
    expect(actionProblem('ocpp1.6', 'DataTransfer')).toBeUndefined();
  });

  test('the charger-initiated lists name only actions of their version', () => {
    const named: Record<Protocol, string[]> = {
      'ocpp1.6': ['Authorize', 'BootNotification', 'Heartbeat', 'MeterValues', 'StartTransaction', 'StatusNotification', 'StopTransaction', 'SignCertificate'],
      'ocpp2.0.1': ['Authorize', 'BootNotification', 'Heartbeat', 'MeterValues', 'TransactionEvent', 'StatusNotification', 'NotifyReport', 'NotifyEVChargingNeeds'],
    };
    for (const p of ['ocpp1.6', 'ocpp2.0.1'] as const) for (const a of named[p]) expect([a, knownAction(p, a) && isChargerInitiated(p, a)]).toEqual([a, true]);
  });

  test.each(['ocpp1.6', 'ocpp2.0.1'] as const)('every everyday command builds a schema-valid request for an %s charger, or says which to use instead', (p) => {
    const bodies: Record<string, unknown> = {
      'remote-start': { idTag: 'TAG-1', connectorId: 1 },
      'remote-stop': { transactionId: '42' },
      'unlock-connector': { connectorId: 2 },
      reset: { type: 'Hard' },
      'change-availability': { connectorId: 0, available: false },
      'trigger-message': { message: 'StatusNotification', connectorId: 1 },
      'clear-cache': {},
      'get-configuration': { keys: ['HeartbeatInterval'] },
      'set-configuration': { key: 'HeartbeatInterval', value: '300' },
      'get-variables': { variables: [{ component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval' }] },
      'set-variables': { variables: [{ component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval', value: '300' }] },
    };
    expect(Object.keys(bodies).sort()).toEqual(commandShortcuts.map((s) => s.name).sort());
    for (const s of commandShortcuts) {
      const body = s.body.decode(bodies[s.name]);
      expect([s.name, E.isRight(body)]).toEqual([s.name, true]);
      const req = s.toRequest(p, (body as E.Right<unknown>).right);
      if (E.isLeft(req)) {
        expect(req.left[0]).toMatch(new RegExp(`^${s.name} is for ocpp.* chargers; this charger speaks ${p.replace('.', '\\.')} \\(use [a-z-]+\\)$`));
        continue;
      }
      expect([s.name, problems(p, req.right.action, req.right.payload)]).toEqual([s.name, []]);
    }
  });

  test('the everyday commands map to the right action per version', () => {
    const build = (name: string, p: Protocol, body: unknown) => {
      const s = commandShortcuts.find((x) => x.name === name)!;
      return s.toRequest(p, (s.body.decode(body) as E.Right<unknown>).right);
    };
    expect(build('unlock-connector', 'ocpp1.6', { connectorId: 2 })).toEqual(E.right({ action: 'UnlockConnector', payload: { connectorId: 2 } }));
    expect(build('unlock-connector', 'ocpp2.0.1', { connectorId: 2 })).toEqual(E.right({ action: 'UnlockConnector', payload: { evseId: 2, connectorId: 1 } }));
    expect(build('reset', 'ocpp2.0.1', { type: 'Soft' })).toEqual(E.right({ action: 'Reset', payload: { type: 'OnIdle' } }));
    expect(build('remote-stop', 'ocpp1.6', { transactionId: '42' })).toEqual(E.right({ action: 'RemoteStopTransaction', payload: { transactionId: 42 } }));
    expect(build('remote-stop', 'ocpp2.0.1', { transactionId: 42 })).toEqual(E.right({ action: 'RequestStopTransaction', payload: { transactionId: '42' } }));
    expect(build('change-availability', 'ocpp2.0.1', { connectorId: 0, available: true })).toEqual(E.right({ action: 'ChangeAvailability', payload: { operationalStatus: 'Operative' } }));
  });
});
