import { createHealth } from './health';
import { createLogger } from './log';
import { Supervisable, supervise } from './supervise';

/** A component whose death the test decides. */
const component = () => {
  let kill!: (e: Error) => void;
  const died = new Promise<Error>((r) => (kill = r));
  const c = { died, stopped: false, kill, stop: async () => void (c.stopped = true) };
  return c;
};

const log = createLogger('supervise-test', 'error');
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

describe('supervise', () => {
  test('given a running component, when it dies, then the part is down naming why and a new one is started', async () => {
    const health = createHealth();
    const made: ReturnType<typeof component>[] = [];
    const part = health.part('normalizer');
    const s = await supervise({ name: 'normalizer', part, log, minBackoffMs: 20, start: async () => {
      const c = component();
      made.push(c);
      part.running();
      return c;
    } });
    expect(health.report().ready).toBe(true);
    made[0]!.kill(new Error('Failed to find group coordinator'));
    await until(() => health.report().parts.normalizer?.status === 'down');
    expect(health.report().notReady).toEqual(['normalizer: down (Failed to find group coordinator)']);
    expect(health.report().alive).toBe(false);
    await until(() => made.length === 2 && health.report().ready);
    expect(made[0]!.stopped).toBe(true);
    expect(health.report().parts.normalizer?.restarts).toBe(1);
    await s.stop();
    expect(made[1]!.stopped).toBe(true);
    expect(health.report().parts.normalizer).toBeUndefined();
  });

  test('given a start that fails, then it is retried with growing backoff until it succeeds', async () => {
    const health = createHealth();
    const part = health.part('projections');
    const attempts: number[] = [];
    const s = await supervise({ name: 'projections', part, log, minBackoffMs: 10, maxBackoffMs: 40, start: async (): Promise<Supervisable> => {
      attempts.push(Date.now());
      if (attempts.length < 4) throw new Error(`database not answering (${attempts.length})`);
      part.running();
      return component();
    } });
    expect(health.report().parts.projections?.status).toBe('down');
    await until(() => health.report().ready);
    expect(attempts).toHaveLength(4);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[1]!).toBeGreaterThanOrEqual(gaps[0]! - 5);
    await s.stop();
  });

  test('stop during a backoff ends the loop without starting again', async () => {
    const health = createHealth();
    const part = health.part('tracker');
    let attempts = 0;
    const s = await supervise({ name: 'tracker', part, log, minBackoffMs: 60000, start: async (): Promise<Supervisable> => {
      attempts++;
      throw new Error('no broker');
    } });
    await s.stop();
    expect(attempts).toBe(1);
  });
});
