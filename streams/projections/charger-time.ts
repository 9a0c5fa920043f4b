import { Projection, ProjectionInput } from './projection';

/** How far a charger's own clock is believed, against the time the log received its event (the charging.events
 *  record's timestamp). Ahead: a day covers a charger sending local time as UTC (at most 14 h). Behind: chargers queue
 *  transaction messages while offline and send them later with their original times; 30 days covers the offline
 *  periods chargers are built to bridge. Outside these bounds (1970 after a reset, 9999, a clock a year off) the
 *  event's time in the projections becomes its receive time, so that a time-series table never gets rows (and
 *  TimescaleDB chunks) far from when the data arrived; the charger's time is kept beside it in `charger_at`. */
export const CHARGER_CLOCK_AHEAD_MS = 24 * 3600 * 1000;
export const CHARGER_CLOCK_BEHIND_MS = 30 * 24 * 3600 * 1000;

export const CHARGER_TIME_COLUMN = 'charger_at';

export const isPlausibleChargerTime = (chargerAt: number, receivedAt: number): boolean =>
  chargerAt <= receivedAt + CHARGER_CLOCK_AHEAD_MS && chargerAt >= receivedAt - CHARGER_CLOCK_BEHIND_MS;

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
