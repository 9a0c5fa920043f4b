import { CliCommand } from '../command';
import { waitForSignal } from './stack';
import { loadConfig } from '../../common/config';
import { createContext, discoverServices } from '../../common/context';

export const command: CliCommand = {
  name: 'service',
  summary: 'Run one service or stream processor against a running stack',
  get usage() {
    return [
      'Usage: voltstream service <name>',
      '',
      'Runs a single service (the stack must be up: voltstream stack up). Ctrl-C stops it.',
      '',
      'Services:',
      ...discoverServices().map((s) => `  ${s.name.padEnd(20)} ${s.summary}`),
    ].join('\n');
  },
  run: async (args) => {
    const name = args[0];
    const def = discoverServices().find((s) => s.name === name);
    if (!def) {
      console.error(`unknown service '${name ?? ''}'; known: ${discoverServices().map((s) => s.name).join(', ')}`);
      return 2;
    }
    const ctx = createContext(loadConfig(), def.name);
    const running = await def.start(ctx);
    console.log(`${def.name} running${running.endpoints?.length ? `: ${running.endpoints.join(', ')}` : ''}. Ctrl-C stops it.`);
    await waitForSignal();
    await running.stop();
    await ctx.pool.end();
    return 0;
  },
};
