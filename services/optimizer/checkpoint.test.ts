import { gunzipSync, gzipSync } from 'node:zlib';
import * as E from 'fp-ts/Either';
import { CHECKPOINT_SHAPE, decodeCheckpoint, encodeCheckpoint, FoldCheckpoint, resumeFrom } from './checkpoint';
import { defaultOptimizerConfig } from './config';
import { foldAll, syntheticHistory } from './fold.bench';
import { lateDepotState } from './forecast-fixture';
import { T0 } from './fixtures';
import { PMap } from './pmap';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState } from './state';

/** Every field of the state as plain data, in iteration order (PMap keeps insertion order). */
const plain = (s: FleetState) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof PMap ? v.entries() : [...(v as ReadonlySet<string>)]]));

const checkpointOf = (state: FleetState, o: Partial<FoldCheckpoint> = {}): FoldCheckpoint => ({
  takenAt: T0,
  state,
  positions: new Map([['charging.events:0', 120], ['fleet.config:0', 7]]),
  lastKw: new Map([['CP1:1', 7.4]]),
  unconfigured: new Map([['V9', Buffer.from([0, 1, 2, 250])]]),
  ...o,
});

const decoded = (c: FoldCheckpoint): FoldCheckpoint => {
  const d = decodeCheckpoint(encodeCheckpoint(c));
  if (E.isLeft(d)) throw new Error(d.left);
  return d.right;
};

describe('the optimizer fold checkpoint', () => {
  const now = T0 + 6 * 3600000;
  const history = syntheticHistory(20, now);

  it('given a fold checkpointed half-way, folding the rest from it gives the state and snapshot of the whole history', () => {
    const half = Math.floor(history.length / 2);
    const resumed = history.slice(half).reduce(evolve, decoded(checkpointOf(foldAll(history.slice(0, half)))).state);
    const whole = foldAll(history);
    expect(plain(resumed)).toEqual(plain(whole));
    expect(snapshotOf(resumed, 'S', now, defaultOptimizerConfig)).toEqual(snapshotOf(whole, 'S', now, defaultOptimizerConfig));
  });

  it('given learned vehicle histories, they come back unchanged, and so do positions, last commands and held readings', () => {
    const state = lateDepotState(14);
    const c = decoded(checkpointOf(state));
    expect(plain(c.state)).toEqual(plain(state));
    expect(c.state.histories.size).toBeGreaterThan(0);
    expect(c.positions).toEqual(new Map([['charging.events:0', 120], ['fleet.config:0', 7]]));
    expect(c.lastKw).toEqual(new Map([['CP1:1', 7.4]]));
    expect(c.unconfigured.get('V9')).toEqual(Buffer.from([0, 1, 2, 250]));
    expect(c.takenAt).toBe(T0);
  });

  it('given numbers JSON has no literal for, they come back as they were', () => {
    const state = foldAll(history.slice(0, 50));
    const odd = { ...state, chargerMw: state.chargerMw.set('inf', Infinity).set('neg', -Infinity).set('nan', NaN) };
    const back = decoded(checkpointOf(odd)).state.chargerMw;
    expect([back.get('inf'), back.get('neg'), back.get('nan')]).toEqual([Infinity, -Infinity, NaN]);
  });

  it('given a checkpoint of another shape, or not a checkpoint at all, refuses it with the reason', () => {
    const body = JSON.parse(gunzipSync(encodeCheckpoint(checkpointOf(foldAll(history.slice(0, 50))))).toString()) as Record<string, unknown>;
    const older = decodeCheckpoint(gzipSync(JSON.stringify({ ...body, shape: CHECKPOINT_SHAPE - 1 })));
    expect(older).toEqual(E.left(expect.stringContaining('checkpoint of another shape')));
    const fewerFields = decodeCheckpoint(gzipSync(JSON.stringify({ ...body, fields: 'sites:map' })));
    expect(fewerFields).toEqual(E.left(expect.stringContaining('checkpoint of another shape')));
    const brokenMap = decodeCheckpoint(gzipSync(JSON.stringify({ ...body, state: { ...(body.state as object), sessions: [[1, 2]] } })));
    expect(brokenMap).toEqual(E.left(expect.stringContaining('state.sessions')));
    expect(decodeCheckpoint(Buffer.from('not gzip'))).toEqual(E.left(expect.stringContaining('unreadable checkpoint')));
  });

  it('given a restore plan, resumes each partition from the checkpoint, or from the plan where that is later or unknown', () => {
    const plan = {
      starts: new Map([['charging.events:0', 0], ['telematics.readings:0', 500], ['charging.events:1', 0]]),
      targets: new Map([['charging.events:0', 900], ['telematics.readings:0', 800], ['charging.events:1', 40]]),
    };
    const resumed = resumeFrom(plan, new Map([['charging.events:0', 850], ['telematics.readings:0', 300]]));
    expect(resumed).toEqual(E.right({ starts: new Map([['charging.events:0', 850], ['telematics.readings:0', 500], ['charging.events:1', 0]]), targets: plan.targets }));
  });

  it('given a checkpoint beyond a partition’s end (the topic was created again), refuses it', () => {
    const plan = { starts: new Map([['charging.events:0', 0]]), targets: new Map([['charging.events:0', 10]]) };
    expect(resumeFrom(plan, new Map([['charging.events:0', 11]]))).toEqual(E.left(expect.stringContaining('taken on other logs')));
  });
});
