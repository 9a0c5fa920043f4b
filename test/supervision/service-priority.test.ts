/** `voltstream start` runs stream processors at a lower CPU priority than what chargers wait on: on a saturated
 *  machine they fall behind instead of taking the gateway's CPU. Checked on real processes: a processor started the
 *  way `start` starts it runs at its nice value, and the gateway's entry keeps the default. */
import * as os from 'node:os';
import * as path from 'node:path';
import { findDeployable, healthPortVariable } from '../../services/cli/services';
import { startServiceProcesses } from '../../services/cli/service-processes';
import { portOrFree } from '../../services/common/ports';

test('a processor started as `voltstream start` starts it runs at its lower priority', async () => {
  const tracker = findDeployable('vehicle-tracker')!;
  expect(tracker.nice).toBeGreaterThan(0);
  expect(findDeployable('ocpp-gateway')!.nice).toBe(0);

  const port = await portOrFree(0);
  const services = startServiceProcesses(
    [{ name: 'vehicle-tracker', nice: tracker.nice, healthUrl: `http://127.0.0.1:${port}/health`, env: { ...process.env, [healthPortVariable('vehicle-tracker')]: String(port) } }],
    { logDir: path.join(os.tmpdir(), `voltstream-priority-${process.pid}`), say: () => undefined },
  );
  try {
    await services.answering(120_000);
    const [st] = services.status();
    expect(st!.nice).toBe(tracker.nice);
    expect(os.getPriority(st!.pid!)).toBe(tracker.nice);
  } finally {
    await services.stop();
  }
}, 180_000);
