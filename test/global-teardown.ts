import * as fs from 'node:fs';
import { loadConfig } from '../services/common/config';
import { defaultBrokerOptions, stopBroker } from '../infra/kafka/broker';
import { defaultRegistryOptions, stopRegistry } from '../infra/registry/apicurio';
import { startedFile } from './global-setup';

/** Stops only what global-setup started; a stack that was already running stays up. */
export default async function globalTeardown(): Promise<void> {
  if (!fs.existsSync(startedFile)) return;
  const started = JSON.parse(fs.readFileSync(startedFile, 'utf8')) as string[];
  fs.rmSync(startedFile, { force: true });
  const config = loadConfig();
  if (started.includes('registry')) await stopRegistry(defaultRegistryOptions(config.home, config.kafkaBrokers));
  if (started.includes('kafka')) await stopBroker(defaultBrokerOptions(config.home));
}
