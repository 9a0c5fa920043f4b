/** Chain heads saved after acknowledgement, coalesced over `everyMs`, one write at a time. They only shorten the scan
 *  after an unclean takeover (a clean release stores its final head itself), so they need not be current. */
import { Logger } from '../common/log';
import { GatewayStore, StoredHead } from './store';

export interface HeadsWriter {
  onHeads(heads: ReadonlyMap<string, StoredHead>): void;
  /** Writes what is pending and waits for it. */
  flush(): Promise<void>;
  /** No more writes (a killed instance). */
  stop(): void;
}

export const createHeadsWriter = (store: GatewayStore, log: Logger, everyMs = 500): HeadsWriter => {
  let pending = new Map<string, StoredHead>();
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const write = () => {
    timer = undefined;
    writing = writing.then(async () => {
      const batch = pending;
      pending = new Map();
      if (batch.size && !stopped) await store.saveHeads(batch).catch((e) => log.warn('chain heads not saved', { err: e as Error }));
    });
  };
  return {
    onHeads: (heads) => {
      if (stopped) return;
      for (const [cp, h] of heads) {
        const prev = pending.get(cp);
        if (!prev || prev.seq < h.seq) pending.set(cp, h);
      }
      timer ??= setTimeout(write, everyMs);
    },
    flush: async () => {
      if (timer) clearTimeout(timer);
      write();
      await writing;
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
};
