import { Protocol } from '../ocpp-gateway/protocol';
import { OcppRequest } from './command-shortcuts';

/** Local authorization lists, kept in sync per charger. Pure: what the charger holds is the fold of the SendLocalList
 *  commands it accepted (ocpp.commands + ocpp.command-results, projection `commands`); what it should hold is the
 *  id-token registry (projection `id_tokens`). A sync sends one SendLocalList: the differential update from the held
 *  list to the wanted one with the next version when the charger still reports the version we last gave it, a full
 *  update when the versions have diverged (a reset charger, an update sent by someone else), nothing when in sync. */

export interface ListEntry {
  readonly idTag: string;
  readonly tokenType: string;
  readonly status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid';
  readonly expiresAt?: number;
  readonly parentIdTag?: string;
}

export interface HeldList {
  readonly version: number;
  readonly entries: ReadonlyMap<string, ListEntry>;
}

export const emptyList: HeldList = { version: 0, entries: new Map() };

export type ListChange = { readonly kind: 'set'; readonly entry: ListEntry } | { readonly kind: 'remove'; readonly idTag: string };

export interface ListUpdate {
  readonly updateType: 'Full' | 'Differential';
  readonly version: number;
  readonly changes: readonly ListChange[];
}

const sameEntry = (a: ListEntry, b: ListEntry): boolean =>
  a.status === b.status && a.tokenType === b.tokenType && a.expiresAt === b.expiresAt && a.parentIdTag === b.parentIdTag;

/** The differential changes that turn `held` into `wanted`, in idTag order (deterministic). */
export const listDiff = (held: ReadonlyMap<string, ListEntry>, wanted: ReadonlyMap<string, ListEntry>): ListChange[] => {
  const tags = [...new Set([...held.keys(), ...wanted.keys()])].sort();
  const out: ListChange[] = [];
  for (const idTag of tags) {
    const h = held.get(idTag);
    const w = wanted.get(idTag);
    if (w && (!h || !sameEntry(h, w))) out.push({ kind: 'set', entry: w });
    else if (!w && h) out.push({ kind: 'remove', idTag });
  }
  return out;
};

/** What to send so the charger (reporting `chargerVersion`) holds `wanted`; undefined when it already does. */
export const planSync = (held: HeldList, chargerVersion: number, wanted: ReadonlyMap<string, ListEntry>): ListUpdate | undefined => {
  const diverged = chargerVersion !== held.version;
  if (diverged || held.version === 0) {
    if (!diverged && wanted.size === 0) return undefined;
    return { updateType: 'Full', version: Math.max(held.version, chargerVersion, 0) + 1, changes: [...wanted.values()].sort((a, b) => a.idTag.localeCompare(b.idTag)).map((entry) => ({ kind: 'set', entry })) };
  }
  const changes = listDiff(held.entries, wanted);
  return changes.length === 0 ? undefined : { updateType: 'Differential', version: held.version + 1, changes };
};

export const applyUpdate = (held: HeldList, u: ListUpdate): HeldList => {
  const entries = new Map(u.updateType === 'Full' ? [] : held.entries);
  for (const c of u.changes) {
    if (c.kind === 'set') entries.set(c.entry.idTag, c.entry);
    else entries.delete(c.idTag);
  }
  return { version: u.version, entries };
};

const iso = (ms: number) => new Date(ms).toISOString();

/** The SendLocalList request of the charger's version. */
export const sendLocalListRequest = (p: Protocol, u: ListUpdate): OcppRequest => {
  if (p === 'ocpp1.6') {
    const localAuthorizationList = u.changes.map((c) =>
      c.kind === 'remove'
        ? { idTag: c.idTag }
        : {
            idTag: c.entry.idTag,
            idTagInfo: {
              status: c.entry.status,
              ...(c.entry.expiresAt !== undefined ? { expiryDate: iso(c.entry.expiresAt) } : {}),
              ...(c.entry.parentIdTag !== undefined ? { parentIdTag: c.entry.parentIdTag } : {}),
            },
          },
    );
    return { action: 'SendLocalList', payload: { listVersion: u.version, updateType: u.updateType, ...(localAuthorizationList.length ? { localAuthorizationList } : {}) } };
  }
  const localAuthorizationList = u.changes.map((c) =>
    c.kind === 'remove'
      ? { idToken: { idToken: c.idTag, type: 'ISO14443' } }
      : {
          idToken: { idToken: c.entry.idTag, type: c.entry.tokenType },
          idTokenInfo: {
            status: c.entry.status,
            ...(c.entry.expiresAt !== undefined ? { cacheExpiryDateTime: iso(c.entry.expiresAt) } : {}),
            ...(c.entry.parentIdTag !== undefined ? { groupIdToken: { idToken: c.entry.parentIdTag, type: 'Central' } } : {}),
          },
        },
  );
  return { action: 'SendLocalList', payload: { versionNumber: u.version, updateType: u.updateType, ...(localAuthorizationList.length ? { localAuthorizationList } : {}) } };
};

/** Reads back a SendLocalList payload as sent (either version), to fold what the charger accepted. */
export const updateFromPayload = (payload: unknown): ListUpdate | undefined => {
  const p = payload as Record<string, unknown> | null;
  if (!p || typeof p !== 'object') return undefined;
  const version = Number(p.listVersion ?? p.versionNumber);
  const updateType = p.updateType === 'Full' ? 'Full' : p.updateType === 'Differential' ? 'Differential' : undefined;
  if (!Number.isFinite(version) || !updateType) return undefined;
  const list = Array.isArray(p.localAuthorizationList) ? (p.localAuthorizationList as Record<string, unknown>[]) : [];
  const changes: ListChange[] = list.map((x) => {
    const token = x.idToken as { idToken?: string; type?: string } | undefined;
    const idTag = String(typeof x.idTag === 'string' ? x.idTag : (token?.idToken ?? ''));
    const info = (x.idTagInfo ?? x.idTokenInfo) as Record<string, unknown> | undefined;
    if (!info) return { kind: 'remove', idTag };
    const expiry = info.expiryDate ?? info.cacheExpiryDateTime;
    const parent = typeof info.parentIdTag === 'string' ? info.parentIdTag : (info.groupIdToken as { idToken?: string } | undefined)?.idToken;
    return {
      kind: 'set',
      entry: {
        idTag,
        tokenType: token?.type ?? 'ISO14443',
        status: info.status as ListEntry['status'],
        ...(typeof expiry === 'string' ? { expiresAt: Date.parse(expiry) } : {}),
        ...(parent !== undefined ? { parentIdTag: parent } : {}),
      },
    };
  });
  return { updateType, version, changes };
};

/** The list a charger holds: its accepted SendLocalList payloads, in the order they were issued. */
export const heldFrom = (accepted: readonly unknown[]): HeldList =>
  accepted.reduce<HeldList>((held, payload) => {
    const u = updateFromPayload(payload);
    return u ? applyUpdate(held, u) : held;
  }, emptyList);

/** The version GetLocalListVersion answered (1.6 listVersion, 2.0.1 versionNumber); -1/absent: no list. */
export const reportedVersion = (response: unknown): number => {
  const r = response as { listVersion?: unknown; versionNumber?: unknown } | undefined;
  const v = Number(r?.listVersion ?? r?.versionNumber ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
};

export interface RegistryRow {
  readonly idToken: string;
  readonly tokenType: string;
  readonly status: 'Accepted' | 'Blocked' | 'Expired';
  readonly expiresAt: number | null;
  readonly parentIdTag: string | null;
}

/** The list a charger should hold at `now`: every registry token, an Accepted one past its expiry as Expired. */
export const wantedFrom = (rows: readonly RegistryRow[], now: number): Map<string, ListEntry> =>
  new Map(
    rows.map((r) => [
      r.idToken,
      {
        idTag: r.idToken,
        tokenType: r.tokenType,
        status: r.status === 'Accepted' && r.expiresAt !== null && r.expiresAt <= now ? 'Expired' : r.status,
        ...(r.expiresAt !== null ? { expiresAt: r.expiresAt } : {}),
        ...(r.parentIdTag !== null ? { parentIdTag: r.parentIdTag } : {}),
      },
    ]),
  );

/** 1.6 idTags (and parent tags) are CiString20; 2.0.1 idTokens CiString36. A token the charger's version cannot carry
 *  stays off its list (the charger asks the central system about it online). */
export const carriable = (p: Protocol, wanted: ReadonlyMap<string, ListEntry>): { list: Map<string, ListEntry>; leftOut: string[] } => {
  const max = p === 'ocpp1.6' ? 20 : 36;
  const list = new Map<string, ListEntry>();
  const leftOut: string[] = [];
  for (const [k, e] of wanted) {
    if (e.idTag.length <= max && (e.parentIdTag === undefined || e.parentIdTag.length <= max)) list.set(k, e);
    else leftOut.push(k);
  }
  return { list, leftOut };
};
