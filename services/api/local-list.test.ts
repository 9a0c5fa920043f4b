import { applyUpdate, carriable, emptyList, heldFrom, ListEntry, planSync, sendLocalListRequest, updateFromPayload, wantedFrom } from './local-list';

/** given the list a charger holds / when the registry changes / then the one update a sync sends. Pure. */
const entry = (idTag: string, status: ListEntry['status'] = 'Accepted', o: Partial<ListEntry> = {}): ListEntry => ({ idTag, tokenType: 'ISO14443', status, ...o });
const listOf = (...es: ListEntry[]) => new Map(es.map((e) => [e.idTag, e]));

describe('local list sync', () => {
  const v1 = applyUpdate(emptyList, { updateType: 'Full', version: 1, changes: [entry('A'), entry('B'), entry('C')].map((e) => ({ kind: 'set', entry: e })) });

  test('a first sync is a full update with version 1; nothing to send when in sync', () => {
    expect(planSync(emptyList, 0, listOf(entry('A')))).toEqual({ updateType: 'Full', version: 1, changes: [{ kind: 'set', entry: entry('A') }] });
    expect(planSync(v1, 1, listOf(entry('A'), entry('B'), entry('C')))).toBeUndefined();
  });

  test('three changes are one differential update with the next version', () => {
    const wanted = listOf(entry('A', 'Blocked'), entry('C', 'Accepted', { expiresAt: 5 }), entry('D'));
    // B removed would be a fourth change: keep it to have exactly three.
    wanted.set('B', entry('B'));
    expect(planSync(v1, 1, wanted)).toEqual({
      updateType: 'Differential',
      version: 2,
      changes: [
        { kind: 'set', entry: entry('A', 'Blocked') },
        { kind: 'set', entry: entry('C', 'Accepted', { expiresAt: 5 }) },
        { kind: 'set', entry: entry('D') },
      ],
    });
  });

  test('a token gone from the registry is removed; diverged versions get a full update past both', () => {
    expect(planSync(v1, 1, listOf(entry('A'), entry('C')))).toEqual({ updateType: 'Differential', version: 2, changes: [{ kind: 'remove', idTag: 'B' }] });
    expect(planSync(v1, 7, listOf(entry('A')))).toMatchObject({ updateType: 'Full', version: 8 });
    expect(planSync(v1, 0, listOf(entry('A')))).toMatchObject({ updateType: 'Full', version: 2 });
  });

  test('what was sent folds back to the same held list, for both versions', () => {
    const u = planSync(v1, 1, listOf(entry('A', 'Blocked', { parentIdTag: 'G', expiresAt: Date.parse('2027-01-01T00:00:00Z') }), entry('C')))!;
    for (const p of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      const sent = sendLocalListRequest(p, u);
      expect(updateFromPayload(sent.payload)).toEqual(u);
      expect(heldFrom([sendLocalListRequest(p, { updateType: 'Full', version: 1, changes: [...v1.entries.values()].map((e) => ({ kind: 'set', entry: e })) }).payload, sent.payload])).toEqual(applyUpdate(v1, u));
    }
  });

  test('an Accepted token past its expiry is listed as Expired; 1.6 leaves out tags over 20 characters', () => {
    const wanted = wantedFrom([{ idToken: 'A', tokenType: 'ISO14443', status: 'Accepted', expiresAt: 10, parentIdTag: null }], 11);
    expect(wanted.get('A')).toEqual(entry('A', 'Expired', { expiresAt: 10 }));
    const long = listOf(entry('X'.repeat(21)), entry('B'));
    expect(carriable('ocpp1.6', long).leftOut).toEqual(['X'.repeat(21)]);
    expect(carriable('ocpp2.0.1', long).leftOut).toEqual([]);
  });
});
