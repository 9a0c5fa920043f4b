import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith } from '../common/decode';

/** Environment of the site meters service (on top of services/common/config.ts):
 *  - SITE_METERS_PORT: port of the push endpoint (default 8087; a free port when that one is taken);
 *  - SITE_METERS_HOST: its bind address (default 127.0.0.1);
 *  - SITE_METERS_FILE: sites, meters, push credentials and Modbus register maps (sites.ts), default the built-in
 *    local demo site; required outside development mode (VOLTSTREAM_MODE), since the demo key is published;
 *  - SITE_METERS_PRODUCE_TIMEOUT_MS: how long a push waits for Kafka's acknowledgement before a 503 (default 5000);
 *  - SITE_METERS_MODBUS=0: do not poll the Modbus meters. */
const Port = t.refinement(t.string, (s) => /^\d{1,5}$/.test(s) && Number(s) < 65536, 'port number');
const Millis = t.refinement(t.string, (s) => /^\d{1,7}$/.test(s) && Number(s) > 0, 'milliseconds');
const Flag = t.keyof({ '0': null, '1': null, true: null, false: null });

const Env = t.partial({
  SITE_METERS_PORT: Port,
  SITE_METERS_HOST: t.string,
  SITE_METERS_FILE: t.string,
  SITE_METERS_PRODUCE_TIMEOUT_MS: Millis,
  SITE_METERS_MODBUS: Flag,
  VOLTSTREAM_MODE: t.keyof({ development: null, production: null }),
});

export interface SiteMetersConfig {
  readonly port: number;
  readonly host: string;
  readonly file: string | undefined;
  readonly produceTimeoutMs: number;
  readonly modbus: boolean;
}

export const DefaultSiteMetersPort = 8087;

const defaultFileRefused =
  'SITE_METERS_FILE is unset, so the built-in development site would accept its published key (dev-site-meter-key); ' +
  'outside VOLTSTREAM_MODE=development name a sites file of your own';

export const decodeSiteMetersConfig = (env: NodeJS.ProcessEnv): E.Either<string[], SiteMetersConfig> =>
  pipe(
    decodeWith(Env)(env),
    E.filterOrElse(
      (e) => (e.VOLTSTREAM_MODE ?? 'production') === 'development' || Boolean(e.SITE_METERS_FILE),
      () => [defaultFileRefused],
    ),
    E.map((e) => ({
      port: e.SITE_METERS_PORT !== undefined ? Number(e.SITE_METERS_PORT) : DefaultSiteMetersPort,
      host: e.SITE_METERS_HOST || '127.0.0.1',
      file: e.SITE_METERS_FILE || undefined,
      produceTimeoutMs: e.SITE_METERS_PRODUCE_TIMEOUT_MS !== undefined ? Number(e.SITE_METERS_PRODUCE_TIMEOUT_MS) : 5000,
      modbus: e.SITE_METERS_MODBUS === undefined || e.SITE_METERS_MODBUS === '1' || e.SITE_METERS_MODBUS === 'true',
    })),
  );
