import { Logger } from '../common/log';
import { Ingest } from './ingest';
import { ProviderConfig } from './providers';

/** For providers without webhooks: GET the provider's endpoint every `intervalMs`, feed the answer (in the provider's
 *  shape) through the same ingest as a push, and pass the answer's cursor (`cursorField`, e.g. a feed's `toVersion`)
 *  back as `cursorParam` on the next poll. The cursor only advances once Kafka took the batch, so a Kafka outage
 *  re-polls the same data; the cursor lives in memory, so a restart re-reads the feed from where the provider starts
 *  it and duplicates are absorbed by the readingId check (and downstream by the deterministic readingId). */
export interface Poller {
  readonly provider: string;
  /** Polls done, and the current cursor (tests, diagnostics). */
  readonly polls: number;
  readonly cursor: string | undefined;
  stop(): Promise<void>;
}

export const startPoller = (ingest: Ingest, provider: ProviderConfig, log: Logger): Poller => {
  const pull = provider.pull;
  if (!pull) throw new Error(`provider ${provider.name} has no pull configuration`);
  let cursor: string | undefined;
  let polls = 0;
  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const controller = new AbortController();

  const fail = (message: string, fields: Record<string, unknown> = {}) => {
    // Logged once per failure streak, not every interval.
    if (!failing) log.warn(`polling ${provider.name} failed: ${message}`, { provider: provider.name, url: pull.url, ...fields });
    failing = true;
  };

  const pollOnce = async () => {
    const url = new URL(pull.url);
    if (cursor !== undefined) url.searchParams.set(pull.cursorParam, cursor);
    try {
      const res = await fetch(url, { headers: { Accept: 'application/json', ...pull.headers }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(15_000)]) });
      const raw = Buffer.from(await res.arrayBuffer());
      if (!res.ok) return fail(`HTTP ${res.status}`);
      const outcome = await ingest.ingest(provider, raw, Date.now());
      if (outcome.kind === 'unavailable') return fail(outcome.message);
      let next: unknown;
      try {
        next = (JSON.parse(raw.toString('utf8')) as Record<string, unknown>)[pull.cursorField];
      } catch {
        next = undefined;
      }
      if (typeof next === 'string' && next !== '') cursor = next;
      if (failing) log.info(`polling ${provider.name} works again`);
      failing = false;
    } catch (e) {
      if (!stopped) fail((e as Error).message);
    } finally {
      polls++;
    }
  };

  const loop = () => {
    if (stopped) return;
    current = pollOnce().finally(() => {
      if (!stopped) timer = setTimeout(loop, pull.intervalMs);
    });
  };
  loop();

  return {
    provider: provider.name,
    get polls() {
      return polls;
    },
    get cursor() {
      return cursor;
    },
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      controller.abort();
      await current.catch(() => undefined);
    },
  };
};
