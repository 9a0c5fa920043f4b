import * as E from 'fp-ts/Either';
import { Config, defaultAdminKey } from './config';

/** Development defaults: the secrets every copy of this repository shares. `voltstream start` says aloud which ones a
 *  development run uses; outside development mode a service that would use one refuses to start. */
export const defaultsInUse = (config: Pick<Config, 'adminKey' | 'kafkaSasl'>, telematics?: { readonly providersFile: string | undefined }): string[] => [
  ...(config.adminKey === defaultAdminKey ? [`admin API key "${defaultAdminKey}" (set VOLTSTREAM_ADMIN_KEY)`] : []),
  ...(telematics && telematics.providersFile === undefined
    ? ['telematics providers with keys dev-telematics-key, dev-webhook-secret, dev-fleet-key (set TELEMATICS_PROVIDERS_FILE)']
    : []),
  ...(config.kafkaSasl === undefined ? ['Kafka: no KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (the local broker\'s anonymous listener, or its generated service user)'] : []),
];

/** The API's admin key may not be the published default outside development mode. */
export const refuseDefaultAdminKey = (config: Pick<Config, 'adminKey' | 'mode'>): E.Either<string, void> =>
  config.mode !== 'development' && config.adminKey === defaultAdminKey
    ? E.left(
        `refusing to start: VOLTSTREAM_ADMIN_KEY is unset or "${defaultAdminKey}", the published development key, and VOLTSTREAM_MODE is ` +
          `"${config.mode}". Set VOLTSTREAM_ADMIN_KEY to a secret of your own, or VOLTSTREAM_MODE=development for a local stack.`,
      )
    : E.right(undefined);
