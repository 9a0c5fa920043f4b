import { ChargingEvent } from '../../schemas/events';
import { ConfigEvent } from '../../schemas/fleet-config';
import { Row, TableDef } from '../sink/table';
import { PlanRecord } from '../../schemas/plan-record';
import { OcppCommandRecord } from '../../schemas/command-record';
import { CommandResult } from '../../schemas/records';
import { SiteMeterReading } from '../../schemas/site-meter-record';

/** A decoded telematics.readings record (schemas/avro/telematics.readings.avsc). */
export interface TelematicsReading {
  readingId: string;
  vehicleId: string;
  provider: string;
  providerReadingId: string;
  readingAt: number;
  receivedAt: number;
  socPct: number | null;
  rangeKm: number | null;
  odometerKm: number | null;
  latitude: number | null;
  longitude: number | null;
  chargingState: string | null;
  pluggedIn: boolean | null;
  batteryCapacityKwh: number | null;
  etaAt: number | null;
}

/** What a projection folds: the records of its input topics, decoded. */
export type ProjectionInput =
  /** chargerAt: the charger's own time, when it was implausible and event.occurredAt is the receive time (charger-time.ts). */
  | { readonly kind: 'event'; readonly event: ChargingEvent; readonly chargerAt?: number }
  | { readonly kind: 'reading'; readonly reading: TelematicsReading }
  | { readonly kind: 'config'; readonly config: ConfigEvent }
  | { readonly kind: 'plan'; readonly plan: PlanRecord }
  | { readonly kind: 'command'; readonly command: OcppCommandRecord }
  | { readonly kind: 'commandResult'; readonly result: CommandResult }
  | { readonly kind: 'meterReading'; readonly meterReading: SiteMeterReading };

/** A table holding one row per key (current state): the sink loads the rows a batch touches, folds `evolve` over
 *  the batch in memory and upserts the result. `evolve` returns the row unchanged (same object) when nothing changed. */
export interface DocumentProjection {
  readonly kind: 'document';
  readonly table: TableDef;
  /** Values of table.key (in order) of the row this input changes, or undefined when it doesn't concern the table. */
  keyOf(input: ProjectionInput): readonly (string | number)[] | undefined;
  evolve(row: Row | undefined, input: ProjectionInput): Row | undefined;
  /** Records of more than one partition change the same row (vehicle_state: readings keyed by vehicle, estimates and
   *  matches keyed by charger). The sink then locks the keys a batch touches before loading them, so two partitions
   *  applied at once (or by two instances) wait for each other instead of one overwriting the other's fold. */
  readonly keysSpanPartitions?: boolean;
}

/** An append-only time series: each input becomes zero or more rows. */
export interface AppendProjection {
  readonly kind: 'append';
  readonly table: TableDef;
  rows(input: ProjectionInput): Row[];
}

export type Projection = DocumentProjection | AppendProjection;

/** For tests and replays in memory: fold inputs through a document projection, keyed like the sink does. */
export const foldDocuments = (p: DocumentProjection, inputs: readonly ProjectionInput[], given: ReadonlyMap<string, Row> = new Map()): Map<string, Row> => {
  const rows = new Map(given);
  for (const i of inputs) {
    const k = p.keyOf(i);
    if (!k) continue;
    const key = JSON.stringify(k);
    const next = p.evolve(rows.get(key), i);
    if (next) rows.set(key, next);
  }
  return rows;
};

/** The later of two (time, tiebreak) stamps wins: makes folds over several topics independent of their interleaving. */
export const newer = (at: number, tie: string, prevAt: number | null | undefined, prevTie: string | null | undefined): boolean =>
  prevAt === null || prevAt === undefined || at > prevAt || (at === prevAt && tie > (prevTie ?? ''));
