import * as E from 'fp-ts/Either';
import { decodeConfig, Config } from './config';
import { defaultsInUse, refuseDefaultAdminKey } from './defaults';
import { kafkaClientSecurity } from './kafka';
import { reservedPrincipalProblem } from './kafka-principals';

const config = (env: NodeJS.ProcessEnv): Config => {
  const c = decodeConfig(env);
  if (E.isLeft(c)) throw new Error(c.left);
  return c.right;
};

describe('mode and Kafka credentials from the environment', () => {
  it('is production unless VOLTSTREAM_MODE says development', () => {
    expect(config({}).mode).toBe('production');
    expect(config({ VOLTSTREAM_MODE: 'development' }).mode).toBe('development');
    expect(decodeConfig({ VOLTSTREAM_MODE: 'dev' })).toEqual(E.left(expect.stringContaining('VOLTSTREAM_MODE')));
  });

  it('takes SASL credentials as a pair, SCRAM-SHA-512 unless told', () => {
    expect(config({ KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' }).kafkaSasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
    expect(config({ KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' }).kafkaSasl?.mechanism).toBe('scram-sha-256');
    expect(decodeConfig({ KAFKA_SASL_USERNAME: 'svc' })).toEqual(E.left('invalid environment: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together, only KAFKA_SASL_USERNAME is set'));
    expect(config({ KAFKA_TLS: '1', KAFKA_TLS_CA_FILE: '/ca.pem' }).kafkaTls).toEqual({ caFile: '/ca.pem' });
    expect(config({}).kafkaTls).toBeUndefined();
  });
});

describe('which credentials a Kafka client uses', () => {
  const local = {
    bootstrap: '127.0.0.1:9092',
    serviceProtocol: 'SASL_PLAINTEXT' as const,
    service: { mechanism: 'scram-sha-512' as const, username: 'voltstream-service', password: 'generated' },
    partner: { bootstrap: '127.0.0.1:9094', protocol: 'SASL_SSL' as const, caFile: '/ca.pem' },
  };
  const base = { kafkaBrokers: ['127.0.0.1:9092'], kafkaTls: undefined };

  it('prefers configured credentials, then the local broker service user it points at', () => {
    const explicit = { mechanism: 'scram-sha-256' as const, username: 'a', password: 'b' };
    expect(kafkaClientSecurity({ ...base, mode: 'production', kafkaSasl: explicit }, local)).toEqual(E.right({ sasl: explicit, tls: undefined }));
    expect(kafkaClientSecurity({ ...base, mode: 'production', kafkaSasl: undefined }, local)).toEqual(E.right({ sasl: local.service, tls: undefined }));
  });

  it('refuses anonymity in production mode, naming the variables; allows it in development', () => {
    const other = { ...base, kafkaBrokers: ['10.0.0.5:9092'], kafkaSasl: undefined };
    expect(kafkaClientSecurity({ ...other, mode: 'production' }, local)).toEqual(E.left(expect.stringContaining('Set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD')));
    expect(kafkaClientSecurity({ ...other, mode: 'development' }, local)).toEqual(E.right({ sasl: undefined, tls: undefined }));
    // A local broker explicitly started in development mode (anonymous services' listener) is reached as it offers.
    expect(kafkaClientSecurity({ ...base, mode: 'production', kafkaSasl: undefined }, { ...local, service: null })).toEqual(E.right({ sasl: undefined, tls: undefined }));
    expect(kafkaClientSecurity({ ...base, kafkaBrokers: [local.bootstrap, '10.0.0.9:9092'], mode: 'production', kafkaSasl: undefined }, { ...local, service: null })).toEqual(E.left(expect.stringContaining('refusing to connect to Kafka')));
  });
});

describe('development defaults', () => {
  it('names the defaults in use', () => {
    expect(defaultsInUse(config({}), { providersFile: undefined })).toEqual([
      expect.stringContaining('admin API key "dev-admin-key"'),
      expect.stringContaining('TELEMATICS_PROVIDERS_FILE'),
      expect.stringContaining('KAFKA_SASL_USERNAME'),
    ]);
    expect(defaultsInUse(config({ VOLTSTREAM_ADMIN_KEY: 'k', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }), { providersFile: '/p.json' })).toEqual([]);
  });

  it('refuses the default admin key outside development mode only', () => {
    expect(E.isLeft(refuseDefaultAdminKey(config({})))).toBe(true);
    expect(E.isRight(refuseDefaultAdminKey(config({ VOLTSTREAM_MODE: 'development' })))).toBe(true);
    expect(E.isRight(refuseDefaultAdminKey(config({ VOLTSTREAM_ADMIN_KEY: 'own' })))).toBe(true);
  });
});

describe('reserved Kafka user names', () => {
  it.each(['ANONYMOUS', 'anonymous', 'Anonymous', 'voltstream-service', 'VOLTSTREAM', 'Kafka-x', 'admin', 'broker1', 'controller'])('refuses %s', (name) => {
    expect(reservedPrincipalProblem(name)).toEqual(expect.stringContaining('reserved'));
  });
  it.each(['acme', 'bolt-2', 'anonymous2x', 'my_voltstream'])('accepts %s', (name) => {
    expect(reservedPrincipalProblem(name)).toBeUndefined();
  });
});
