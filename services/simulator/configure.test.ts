import { apiServes } from './configure';

describe('whether the API can take the depot configuration', () => {
  it('given /health says 200, then it serves', () => {
    expect(apiServes(200, '{"status":"ok"}').serves).toBe(true);
  });

  it('given a 503 because a peer process is slow, while Kafka and the database answer the API, then it serves', () => {
    const body = JSON.stringify({ status: 'degraded', checks: { kafka: true, database: true }, parts: { 'dashboard-feed': { status: 'restoring' } }, peers: { optimizer: { ok: false, detail: 'timeout' } } });
    expect(apiServes(503, body).serves).toBe(true);
  });

  it('given a 503 because the database does not answer, one of the API’s own consumers is down, or no JSON at all, then it does not, and says what it got', () => {
    const noDb = apiServes(503, JSON.stringify({ status: 'degraded', checks: { kafka: true, database: false }, parts: {} }));
    const ownConsumerDown = apiServes(503, JSON.stringify({ status: 'degraded', checks: { kafka: true, database: true }, parts: { 'vehicle-registry': { status: 'down' } } }));
    expect(ownConsumerDown.serves).toBe(false);
    expect(noDb).toEqual({ serves: false, said: expect.stringContaining('"database":false') as unknown });
    expect(apiServes(502, '<html>Bad gateway</html>')).toEqual({ serves: false, said: '502 <html>Bad gateway</html>' });
  });
});
