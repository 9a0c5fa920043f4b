import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith } from '../common/decode';

/** Environment of the telematics ingest (on top of services/common/config.ts):
 *  - TELEMATICS_PORT: serve the telematics route on this port with a standalone node:http server (default: no
 *    standalone server; services/api serves the route on API_PORT);
 *  - TELEMATICS_STANDALONE=1: same, on the default port 8082;
 *  - TELEMATICS_PROVIDERS_FILE: provider configuration (providers.ts), default the built-in local demo providers;
 *  - TELEMATICS_PRODUCE_TIMEOUT_MS: how long a request waits for Kafka's acknowledgement before a 503 (default 5000);
 *  - TELEMATICS_PULL=0: do not poll pull providers;
 *  - TELEMATICS_JUMP_CHECKS=0: no impossible-jump checks (plausibility.ts), for simulated fleets whose physics runs
 *    faster than the wall clock (the simulator's compressed days).
 *  Outside development mode (VOLTSTREAM_MODE, services/common/config.ts) TELEMATICS_PROVIDERS_FILE is required: the
 *  built-in providers' keys are published in the README. */
const Port = t.refinement(t.string, (s) => /^\d{1,5}$/.test(s) && Number(s) < 65536, 'port number');
const Millis = t.refinement(t.string, (s) => /^\d{1,7}$/.test(s) && Number(s) > 0, 'milliseconds');
const Flag = t.keyof({ '0': null, '1': null, true: null, false: null });

const Env = t.partial({
  TELEMATICS_PORT: Port,
  TELEMATICS_STANDALONE: Flag,
  TELEMATICS_PROVIDERS_FILE: t.string,
  TELEMATICS_PRODUCE_TIMEOUT_MS: Millis,
  TELEMATICS_PULL: Flag,
  TELEMATICS_JUMP_CHECKS: Flag,
  VOLTSTREAM_MODE: t.keyof({ development: null, production: null }),
});

export interface TelematicsConfig {
  /** undefined: no standalone server. */
  readonly port: number | undefined;
  readonly providersFile: string | undefined;
  readonly produceTimeoutMs: number;
  readonly pull: boolean;
  readonly jumpChecks: boolean;
}

export const DefaultTelematicsPort = 8082;

const on = (f: string | undefined) => f === '1' || f === 'true';

const defaultProvidersRefused =
  'TELEMATICS_PROVIDERS_FILE is unset, so the built-in development providers would accept their published keys ' +
  '(dev-telematics-key, dev-webhook-secret, dev-fleet-key); outside VOLTSTREAM_MODE=development name a providers file of your own';

export const decodeTelematicsConfig = (env: NodeJS.ProcessEnv): E.Either<string[], TelematicsConfig> =>
  pipe(
    decodeWith(Env)(env),
    E.filterOrElse(
      (e) => (e.VOLTSTREAM_MODE ?? 'production') === 'development' || Boolean(e.TELEMATICS_PROVIDERS_FILE),
      () => [defaultProvidersRefused],
    ),
    E.map((e) => ({
      port: e.TELEMATICS_PORT !== undefined ? Number(e.TELEMATICS_PORT) : on(e.TELEMATICS_STANDALONE) ? DefaultTelematicsPort : undefined,
      providersFile: e.TELEMATICS_PROVIDERS_FILE || undefined,
      produceTimeoutMs: e.TELEMATICS_PRODUCE_TIMEOUT_MS !== undefined ? Number(e.TELEMATICS_PRODUCE_TIMEOUT_MS) : 5000,
      pull: e.TELEMATICS_PULL === undefined || on(e.TELEMATICS_PULL),
      jumpChecks: e.TELEMATICS_JUMP_CHECKS === undefined || on(e.TELEMATICS_JUMP_CHECKS),
    })),
  );
