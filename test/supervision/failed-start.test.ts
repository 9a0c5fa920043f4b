import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, uniq } from '../support/stack';

/** A service whose start fails exits, so that `voltstream start` restarts it (services/cli/service-processes.ts); a
 *  process left alive by what its start had opened would neither serve nor be restarted. The gateway fails late in
 *  its start: its internal listener, producers and instance lease are running when its OCPP port turns out taken. */
jest.setTimeout(90_000);

const root = path.join(__dirname, '..', '..');

test('given the OCPP port is taken, when the gateway service starts, then it says why and the process exits with code 1', async () => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, VOLTSTREAM_MODE: 'development', LOG_LEVEL: 'warn', OCPP_HOST: '127.0.0.1', OCPP_PORT: String(port), OCPP_INTERNAL_PORT: String(await freePort()), GATEWAY_ID: uniq('gw-failed-start') };
    const child = spawn(process.execPath, [path.join(root, 'bin', 'voltstream.js'), 'service', 'ocpp-gateway', '--health-port', '0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killed = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c, signal) => resolve(signal ? null : c)));
    clearTimeout(killed);
    expect(output).toMatch(/voltstream service ocpp-gateway: failed to start: .*EADDRINUSE/);
    expect(code).toBe(1);
  } finally {
    busy.close();
  }
});
