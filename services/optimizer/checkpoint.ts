/** The optimizer's fold as a checkpoint, pure: its state, the position reached in every input partition, what it last
 *  commanded per connector and the telematics readings it holds for vehicles not configured yet, as one gzipped JSON
 *  document. A restart resumes from the latest checkpoint and folds only the records after it (issue 13: restore
 *  cost grows with what changed since, not with the history). The checkpoint store is checkpoint-store.ts.
 *
 *  A checkpoint names its shape: CHECKPOINT_SHAPE and the state's fields with their kind. One that does not match this
 *  code's shape is refused and the fold is rebuilt from the log start, once, with progress; the next checkpoint has
 *  the new shape. Bump CHECKPOINT_SHAPE when the shape of a value in FleetState changes (a field of Session, say):
 *  the field list catches only fields added to or removed from FleetState itself. */
import { gunzipSync, gzipSync } from 'node:zlib';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { formatErrors } from '../common/decode';
import { PMap } from './pmap';
import { RestorePlan } from './restore';
import { FleetState, initial } from './state';

export const CHECKPOINT_SHAPE = 1;

export interface FoldCheckpoint {
  readonly takenAt: number;
  readonly state: FleetState;
  /** `topic:partition` → the next offset to fold. */
  readonly positions: ReadonlyMap<string, number>;
  /** controlKey → slot-0 kW of the last TxProfile (the LP's stickiness and the hysteresis start from it). */
  readonly lastKw: ReadonlyMap<string, number>;
  /** vehicleId → its latest telematics reading, undecoded, kept until its configuration arrives. */
  readonly unconfigured: ReadonlyMap<string, Buffer>;
}

type FieldKind = 'map' | 'set';
const fieldKinds: readonly (readonly [keyof FleetState, FieldKind])[] = (Object.keys(initial) as (keyof FleetState)[])
  .sort()
  .map((k) => [k, initial[k] instanceof PMap ? 'map' : 'set'] as const);
const fieldsSignature = fieldKinds.map(([k, kind]) => `${k}:${kind}`).join(',');

const Envelope = t.type({
  shape: t.number,
  fields: t.string,
  takenAt: t.number,
  positions: t.record(t.string, t.number),
  lastKw: t.array(t.tuple([t.string, t.number])),
  unconfigured: t.array(t.tuple([t.string, t.string])),
  state: t.record(t.string, t.array(t.unknown)),
});

const Entries = t.array(t.tuple([t.string, t.unknown]));
const Members = t.array(t.string);

// JSON has no Infinity or NaN (the fold uses -Infinity for "none yet" in places): they travel tagged.
const NUMBER_TAG = '$number';
const replacer = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? { [NUMBER_TAG]: String(v) } : v);
const reviver = (_key: string, v: unknown): unknown => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  return keys.length === 1 && keys[0] === NUMBER_TAG && typeof o[NUMBER_TAG] === 'string' ? Number(o[NUMBER_TAG]) : v;
};

export const encodeCheckpoint = (c: FoldCheckpoint): Buffer => {
  const state: Record<string, unknown[]> = {};
  for (const [k, kind] of fieldKinds) {
    const v = c.state[k];
    state[k] = kind === 'map' ? [...(v as PMap<unknown>).entries()] : [...(v as ReadonlySet<string>)];
  }
  const envelope: t.TypeOf<typeof Envelope> = {
    shape: CHECKPOINT_SHAPE,
    fields: fieldsSignature,
    takenAt: c.takenAt,
    positions: Object.fromEntries(c.positions),
    lastKw: [...c.lastKw],
    unconfigured: [...c.unconfigured].map(([k, v]) => [k, v.toString('base64')]),
    state,
  };
  // Level 1: most of the gain for a fraction of the CPU (the fold waits while it is written).
  return gzipSync(JSON.stringify(envelope, replacer), { level: 1 });
};

/** The checkpoint, or why it cannot be used (unreadable, or another shape than this code's). */
export const decodeCheckpoint = (body: Buffer): E.Either<string, FoldCheckpoint> => {
  const parsed = E.tryCatch(
    () => JSON.parse(gunzipSync(body).toString('utf8'), reviver) as unknown,
    (e) => `unreadable checkpoint: ${(e as Error).message}`,
  );
  return pipe(
    parsed,
    E.chain((u) => pipe(Envelope.decode(u), E.mapLeft((errors) => `invalid checkpoint: ${formatErrors(errors).join('; ')}`))),
    E.chain((env) =>
      env.shape !== CHECKPOINT_SHAPE || env.fields !== fieldsSignature
        ? E.left(`checkpoint of another shape (${env.shape}, fields ${env.fields}); this code's is ${CHECKPOINT_SHAPE}, fields ${fieldsSignature}`)
        : E.right(env),
    ),
    E.chain((env) => {
      const state: Record<string, unknown> = {};
      for (const [k, kind] of fieldKinds) {
        const raw = env.state[k];
        if (raw === undefined) return E.left(`invalid checkpoint: state.${k} is missing`);
        const decoded = kind === 'map' ? pipe(Entries.decode(raw), E.map((es) => PMap.of(es))) : pipe(Members.decode(raw), E.map((ms) => new Set(ms)));
        if (E.isLeft(decoded)) return E.left(`invalid checkpoint: state.${k}: ${formatErrors(decoded.left).join('; ')}`);
        state[k] = decoded.right;
      }
      return E.right({
        takenAt: env.takenAt,
        state: state as unknown as FleetState,
        positions: new Map(Object.entries(env.positions)),
        lastKw: new Map(env.lastKw),
        unconfigured: new Map(env.unconfigured.map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      });
    }),
  );
};

/** The restore plan from a checkpoint: every partition from the checkpoint's position, or from the plan's own start
 *  where that is later (readings beyond the lookback cannot matter); a partition the checkpoint does not know, from the
 *  plan's start. A position beyond a partition's end means the checkpoint was taken on other logs (the topic was
 *  deleted and created again): it cannot be used. */
export const resumeFrom = (plan: RestorePlan, positions: ReadonlyMap<string, number>): E.Either<string, RestorePlan> => {
  const starts = new Map(plan.starts);
  for (const [key, end] of plan.targets) {
    const at = positions.get(key);
    if (at === undefined) continue;
    if (at > end) return E.left(`checkpoint is at offset ${at} of ${key}, whose log ends at ${end}: taken on other logs`);
    starts.set(key, Math.max(at, plan.starts.get(key) ?? 0));
  }
  return E.right({ starts, targets: plan.targets });
};
