/** Admission of handshakes: at most `concurrency` worked on at once, at most `queue` waiting for a slot, and the rest
 *  refused at once (the caller answers 503 + Retry-After). No I/O. */

export type Release = () => void;

export interface Admission {
  /** A slot, now or after waiting in line; undefined when the line is full. */
  enter(): Promise<Release> | undefined;
  readonly active: number;
  readonly waiting: number;
}

export const createAdmission = (concurrency: number, queue: number): Admission => {
  let active = 0;
  const line: ((r: Release) => void)[] = [];
  const release = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = line.shift();
      if (next) next(release());
      else active--;
    };
  };
  return {
    enter: () => {
      if (active < concurrency) {
        active++;
        return Promise.resolve(release());
      }
      if (line.length >= queue) return undefined;
      return new Promise<Release>((resolve) => line.push(resolve));
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
