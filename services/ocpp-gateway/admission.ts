/** Admission of handshakes: at most `concurrency` worked on at once, at most `queue` waiting for a slot and none of
 *  them longer than `maxWaitMs`; the rest refused (the caller answers 503 + Retry-After). A charger left waiting
 *  longer gives up its handshake itself, and the work done for it is lost. No I/O besides timers. */

export type Release = () => void;

export interface Admission {
  /** A slot, now or after waiting in line; undefined when the line is full or the wait was too long. */
  enter(): Promise<Release | undefined>;
  readonly active: number;
  readonly waiting: number;
}

interface Waiter {
  readonly resolve: (r: Release | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

export const createAdmission = (concurrency: number, queue: number, maxWaitMs: number): Admission => {
  let active = 0;
  const line: Waiter[] = [];
  const release = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = line.shift();
      if (!next) {
        active--;
        return;
      }
      clearTimeout(next.timer);
      next.resolve(release());
    };
  };
  return {
    enter: () => {
      if (active < concurrency) {
        active++;
        return Promise.resolve(release());
      }
      if (line.length >= queue) return Promise.resolve(undefined);
      return new Promise<Release | undefined>((resolve) => {
        const w: Waiter = {
          resolve,
          timer: setTimeout(() => {
            const i = line.indexOf(w);
            if (i >= 0) line.splice(i, 1);
            resolve(undefined);
          }, maxWaitMs),
        };
        line.push(w);
      });
    },
    get active() {
      return active;
    },
    get waiting() {
      return line.length;
    },
  };
};

/** Seconds to wait before retrying, spread uniformly over [base, 2 x base] so refused chargers don't return together. */
export const retryAfterSeconds = (base: number, random: () => number = Math.random): number => base + Math.floor(random() * (base + 1));
