/** A site's grid-connection meter pushing its readings to the site-meter endpoint (services/site-meters) every
 *  `everyMs`, as a meter gateway at the depot would: what it measures is given by `importKw` at each reading. A
 *  reading answered 503 (Kafka did not take it: retry) or not answered is sent again, up to `attempts` times. */
export interface ConnectionMeterOptions {
  readonly url: string;
  readonly apiKey: string;
  readonly meterId: string;
  readonly everyMs: number;
  readonly importKw: () => number;
  readonly attempts?: number;
}

export interface PushedReading {
  readonly at: number;
  readonly importKw: number;
  /** The last answer's status (0: no answer). */
  readonly status: number;
  readonly attempts: number;
}

export interface ConnectionMeter {
  readonly pushed: readonly PushedReading[];
  stop(): Promise<void>;
}

export const startConnectionMeter = (o: ConnectionMeterOptions): ConnectionMeter => {
  const pushed: PushedReading[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  const push = async () => {
    const at = Date.now();
    const importKw = Math.round(o.importKw() * 1000) / 1000;
    const body = JSON.stringify({ meterId: o.meterId, measuredAt: new Date(at).toISOString(), importKw });
    let status = 0;
    let attempts = 0;
    while (attempts < (o.attempts ?? 3)) {
      if (attempts > 0) await new Promise((r) => setTimeout(r, 300));
      attempts++;
      status = await fetch(o.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Api-Key': o.apiKey }, body }).then(
        async (r) => {
          await r.text();
          return r.status;
        },
        () => 0,
      );
      if (status !== 0 && status !== 503) break;
    }
    pushed.push({ at, importKw, status, attempts });
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(push);
  }, o.everyMs);
  inFlight = push();
  return {
    pushed,
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
};
