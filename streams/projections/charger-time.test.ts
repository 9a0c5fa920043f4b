import { ChargingEvent } from '../../schemas/events';
import { CHARGER_CLOCK_AHEAD_MS, CHARGER_TIME_FLOOR, keepingChargerTime, withPlausibleTime } from './charger-time';
import { chargerStatusHistoryProjection, connectorStatusProjection } from './charger-status';
import { ProjectionInput } from './projection';

const receivedAt = Date.UTC(2026, 11, 7, 12, 0);
const status = (occurredAt: number): ProjectionInput => ({
  kind: 'event',
  event: { eventId: 'e1', chargePointId: 'CP1', occurredAt, source: null, body: { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null } } as ChargingEvent,
});

test('given a charger time within the bounds, when read from the log, then it is the time', () => {
  for (const at of [receivedAt, receivedAt + CHARGER_CLOCK_AHEAD_MS, CHARGER_TIME_FLOOR, receivedAt - 200 * 24 * 3600 * 1000]) {
    const i = status(at);
    expect(withPlausibleTime(i, receivedAt)).toBe(i);
  }
});

test('given a charger time of 1970, 9999 or just over a day ahead, then the receive time, the charger time kept beside it', () => {
  for (const at of [0, Date.UTC(9999, 11, 31), receivedAt + CHARGER_CLOCK_AHEAD_MS + 1, CHARGER_TIME_FLOOR - 1]) {
    const i = withPlausibleTime(status(at), receivedAt);
    expect(i).toMatchObject({ kind: 'event', event: { occurredAt: receivedAt }, chargerAt: at });
  }
});

test('without a receive time (inputs not from the log) the input is left alone', () => {
  const i = status(0);
  expect(withPlausibleTime(i, undefined)).toBe(i);
});

test('time-series rows carry charger_at; current-state projections are left as they are', () => {
  const [history, connector] = keepingChargerTime([chargerStatusHistoryProjection, connectorStatusProjection]);
  expect(connector).toBe(connectorStatusProjection);
  if (history?.kind !== 'append') throw new Error('expected an append projection');
  expect(history.rows(withPlausibleTime(status(0), receivedAt))).toEqual([expect.objectContaining({ at: receivedAt, charger_at: 0 })]);
  expect(history.rows(status(receivedAt))[0]).not.toHaveProperty('charger_at');
});
