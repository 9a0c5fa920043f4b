import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../services/common/config';
import { up } from '../infra/stack';
import './setup-env';

/** Integration tests run against the real stack: Kafka and the schema registry are started here when nothing answers
 *  on their ports (and stopped again by global-teardown). Tests use the machine's PostgreSQL through DATABASE_URL
 *  (default postgres://127.0.0.1:5432/test) and start embedded TimescaleDB instances of their own. */
export const startedFile = path.join(__dirname, '..', '.voltstream', 'test-started.json');

export default async function globalSetup(): Promise<void> {
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  const config = loadConfig();
  const t0 = Date.now();
  const stack = await up(config, { database: false, log: (s) => process.stderr.write(`[stack] ${s}\n`) });
  fs.mkdirSync(path.dirname(startedFile), { recursive: true });
  fs.writeFileSync(startedFile, JSON.stringify(stack.started));
  if (stack.started.length) process.stderr.write(`[stack] started ${stack.started.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
