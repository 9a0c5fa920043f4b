import * as http from 'node:http';
import { followReadiness, readinessLines, waitingFor, withoutRepeatedName } from './readiness';

test('a process and its part of the same name are said once', () => {
  expect(withoutRepeatedName('audit-checkpoints: audit-checkpoints: restoring 0/3198')).toBe('audit-checkpoints: restoring 0/3198');
  expect(withoutRepeatedName('projections: dashboard-feed: restoring')).toBe('projections: dashboard-feed: restoring');
});

describe('readinessLines: what the start command prints while parts catch up', () => {
  const fresh = { printed: null, printedAt: 0 };

  test('given parts not ready, when first probed, then it lists each', () => {
    const r = readinessLines(fresh, ['projections: dashboard-feed: restoring (10 %)', 'audit: audit-checkpoints: starting'], 1000, 15000);
    expect(r.lines).toEqual(['  still catching up:', '    projections: dashboard-feed: restoring (10 %)', '    audit: audit-checkpoints: starting']);
  });

  test('given the same processes waiting with new progress, when probed within the repeat interval, then it prints nothing', () => {
    const first = readinessLines(fresh, ['projections: dashboard-feed: restoring (10 %)'], 1000, 15000);
    const again = readinessLines(first, ['projections: dashboard-feed: restoring (40 %)'], 5000, 15000);
    expect(again.lines).toEqual([]);
    const later = readinessLines(again, ['projections: dashboard-feed: restoring (70 %)'], 17000, 15000);
    expect(later.lines).toEqual(['  still catching up:', '    projections: dashboard-feed: restoring (70 %)']);
  });

  test('given a different process waiting, when probed, then it prints at once', () => {
    const first = readinessLines(fresh, ['projections: dashboard-feed: restoring (10 %)', 'audit: audit-checkpoints: starting'], 1000, 15000);
    const next = readinessLines(first, ['audit: audit-checkpoints: starting'], 2000, 15000);
    expect(next.lines).toEqual(['  still catching up:', '    audit: audit-checkpoints: starting']);
  });

  test('given nothing waiting, then it prints nothing (the caller says ready)', () => {
    expect(readinessLines(fresh, [], 1000, 15000).lines).toEqual([]);
  });
});

describe('followReadiness against a /ready that becomes ready', () => {
  let server: http.Server;
  let url: string;
  let answers: { status: number; body: unknown }[];

  beforeAll(async () => {
    answers = [
      { status: 503, body: { status: 'not ready', notReady: ['projections: dashboard-feed: restoring (12 %)'] } },
      { status: 503, body: { status: 'not ready', notReady: ['audit: audit-checkpoints: starting'] } },
      { status: 200, body: { status: 'ready' } },
    ];
    server = http.createServer((_req, res) => {
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      res.writeHead(a.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ready`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('it names what waits, then resolves true once ready', async () => {
    const said: string[] = [];
    const f = followReadiness([{ name: 'api', readyUrl: url }], { say: (l) => said.push(l), everyMs: 20 });
    await expect(f.done).resolves.toBe(true);
    expect(said).toEqual(['  still catching up:', '    projections: dashboard-feed: restoring (12 %)', '  still catching up:', '    audit: audit-checkpoints: starting']);
  });

  test('a process that does not answer is named as such', async () => {
    const w = await waitingFor([{ name: 'api', readyUrl: 'http://127.0.0.1:1/ready' }]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^api: not answering/);
  });

  test('stopped before ready, it resolves false', async () => {
    const f = followReadiness([{ name: 'api', readyUrl: 'http://127.0.0.1:1/ready' }], { say: () => undefined, everyMs: 10_000 });
    f.stop();
    await expect(f.done).resolves.toBe(false);
  });
});
