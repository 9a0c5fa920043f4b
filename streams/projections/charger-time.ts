import { Projection, ProjectionInput } from './projection';

/** Which charger times are believed. Ahead: at most a day past the time the log received the event (the
 *  charging.events record's timestamp); a day covers a charger sending local time as UTC (at most 14 h). Behind: not
 *  before 2015, when OCPP-J 1.6 was published, so before any charger that speaks to us could have existed. A bound
 *  relative to the receive time would misplace what chargers queue while offline and send later with their original
 *  times, and every replay of an old log. Outside these bounds (1970 after a reset, 9999, a clock running a year
 *  ahead) the event's time in the projections becomes its receive time, so a time-series table gets no rows, and
 *  TimescaleDB no chunks, far from when the data arrived; the charger's time is kept beside it in `charger_at`. */
export const CHARGER_CLOCK_AHEAD_MS = 24 * 3600 * 1000;
export const CHARGER_TIME_FLOOR = Date.UTC(2015, 0, 1);

export const CHARGER_TIME_COLUMN = 'charger_at';

export const isPlausibleChargerTime = (chargerAt: number, receivedAt: number): boolean => chargerAt <= receivedAt + CHARGER_CLOCK_AHEAD_MS && chargerAt >= CHARGER_TIME_FLOOR;

/** An event whose time is implausible against its receive time takes the receive time; `chargerAt` keeps its own.
 *  Without a receive time (inputs not read from the log) the input is left as it is. */
export const withPlausibleTime = (input: ProjectionInput, receivedAt: number | undefined): ProjectionInput => {
  if (input.kind !== 'event' || receivedAt === undefined || !Number.isFinite(receivedAt)) return input;
  const at = input.event.occurredAt;
  if (isPlausibleChargerTime(at, receivedAt)) return input;
  return { kind: 'event', event: { ...input.event, occurredAt: receivedAt }, chargerAt: at };
};

/** Time-series projections whose table has a charger_at column write the charger's own time there for such events. */
export const keepingChargerTime = (projections: readonly Projection[]): readonly Projection[] =>
  projections.map((p) => {
    if (p.kind !== 'append' || !p.table.columns.some((c) => c.name === CHARGER_TIME_COLUMN)) return p;
    return {
      ...p,
      rows: (i: ProjectionInput) => {
        const rows = p.rows(i);
        if (i.kind !== 'event' || i.chargerAt === undefined) return rows;
        return rows.map((r) => ({ ...r, [CHARGER_TIME_COLUMN]: i.chargerAt }));
      },
    };
  });
