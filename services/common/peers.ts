import * as t from 'io-ts';
import * as E from 'fp-ts/Either';

/** The other processes of a deployment whose health the API reports beside its own (VOLTSTREAM_PEERS, set by
 *  `voltstream start`: `name=http://host:port,...`), so that `GET /health` on the API never says ok while a
 *  processor in another process is down. */
export interface Peer {
  readonly name: string;
  readonly url: string;
}

const PeerList = new t.Type<Peer[], string, unknown>(
  'PeerList',
  (u): u is Peer[] => Array.isArray(u),
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'a comma-separated list of name=url');
    const peers: Peer[] = [];
    for (const item of u.split(',').map((s) => s.trim()).filter(Boolean)) {
      const m = /^([a-z][a-z0-9-]*)=(https?:\/\/[^\s,]+)$/.exec(item);
      if (!m) return t.failure(u, c, `not name=http://host:port: '${item}'`);
      peers.push({ name: m[1]!, url: m[2]!.replace(/\/$/, '') });
    }
    return t.success(peers);
  },
  (peers) => peers.map((p) => `${p.name}=${p.url}`).join(','),
);

export const peersFromEnv = (env: NodeJS.ProcessEnv = process.env): E.Either<string, Peer[]> =>
  env.VOLTSTREAM_PEERS === undefined
    ? E.right([])
    : E.mapLeft((errors: t.Errors) => `VOLTSTREAM_PEERS: ${errors.map((e) => e.message ?? 'invalid').join('; ')}`)(PeerList.decode(env.VOLTSTREAM_PEERS));

export interface PeerState {
  readonly ok: boolean;
  readonly detail: string;
}

/** Asks each peer's `/health` or `/ready` (1 s each, side by side). An unreachable peer is not ok. */
export const askPeers = async (peers: readonly Peer[], which: 'health' | 'ready'): Promise<Record<string, PeerState>> => {
  const answers = await Promise.all(
    peers.map(async (p): Promise<[string, PeerState]> => {
      try {
        const res = await fetch(`${p.url}/${which}`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json().catch(() => ({}))) as { notReady?: string[] };
        return [p.name, { ok: res.ok, detail: res.ok ? 'ok' : (body.notReady ?? []).join('; ') || `HTTP ${res.status}` }];
      } catch (e) {
        return [p.name, { ok: false, detail: `not answering (${(e as Error).message})` }];
      }
    }),
  );
  return Object.fromEntries(answers);
};
