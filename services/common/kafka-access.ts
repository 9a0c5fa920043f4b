import * as fs from 'node:fs';
import * as path from 'node:path';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith, parseJson } from './decode';

/** How to reach a local broker started by infra/kafka/broker.ts: written by the broker at every start into its
 *  directory (VOLTSTREAM_HOME/kafka for the stack's broker), mode 0600 because it holds the generated service user's
 *  password, and read by createKafka when no KAFKA_SASL_* credentials are configured. */
const Mechanism = t.keyof({ 'scram-sha-256': null, 'scram-sha-512': null });

export const LocalKafkaAccess = t.type({
  /** host:port of the services' listener (of every node of a local cluster, comma-separated). */
  bootstrap: t.string,
  serviceProtocol: t.keyof({ PLAINTEXT: null, SASL_PLAINTEXT: null }),
  /** The service user (a super user of the broker); null: the services' listener is anonymous (development). */
  service: t.union([t.null, t.type({ mechanism: Mechanism, username: t.string, password: t.string })]),
  partner: t.type({
    bootstrap: t.string,
    protocol: t.keyof({ SASL_SSL: null, SASL_PLAINTEXT: null }),
    /** PEM of the CA that signed the partner listener's certificate; partners verify the broker with it. */
    caFile: t.union([t.null, t.string]),
  }),
});
export type LocalKafkaAccess = t.TypeOf<typeof LocalKafkaAccess>;

export const localBrokerDir = (home: string): string => path.join(home, 'kafka');
export const accessFile = (brokerDir: string): string => path.join(brokerDir, 'access.json');

/** The access file of the broker in `brokerDir`; Right(undefined) when there is none. */
export const readLocalKafkaAccess = (brokerDir: string): E.Either<string, LocalKafkaAccess | undefined> => {
  const file = accessFile(brokerDir);
  if (!fs.existsSync(file)) return E.right(undefined);
  return pipe(
    E.tryCatch(() => fs.readFileSync(file, 'utf8'), (e) => `cannot read ${file}: ${(e as Error).message}`),
    E.chain(parseJson),
    E.chain((json) => pipe(decodeWith(LocalKafkaAccess)(json), E.mapLeft((problems) => `${file}: ${problems.join('; ')}`))),
  );
};

export const writeLocalKafkaAccess = (brokerDir: string, access: LocalKafkaAccess): void => {
  const file = accessFile(brokerDir);
  fs.writeFileSync(file, `${JSON.stringify(access, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
};
