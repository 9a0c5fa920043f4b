import { Adapter } from './codecs';
import { voltstreamAdapter } from './voltstream';
import { consumerCarAdapter } from './consumer-car';
import { fleetDiagnosticsAdapter } from './fleet-diagnostics';

/** Every payload shape the ingest understands, by the `shape` name a provider's configuration uses. */
export const adapters = {
  voltstream: voltstreamAdapter,
  'consumer-car': consumerCarAdapter,
  'fleet-diagnostics': fleetDiagnosticsAdapter,
} as const satisfies Record<string, Adapter>;

export type Shape = keyof typeof adapters;
export type { Adapter, AdapterItem } from './codecs';
