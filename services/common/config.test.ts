import * as E from 'fp-ts/Either';
import { decodeConfig, defaultRegistryUrl } from './config';

describe('the environment', () => {
  const registryOf = (env: NodeJS.ProcessEnv) => E.map((c: { schemaRegistryUrl: string }) => c.schemaRegistryUrl)(decodeConfig(env));

  it('given no registry settings, names the local registry on loopback', () => {
    expect(registryOf({})).toEqual(E.right(defaultRegistryUrl));
  });

  it('given REGISTRY_HOST only, names the local registry where it is bound (a wildcard bind on loopback)', () => {
    expect(registryOf({ REGISTRY_HOST: '127.0.0.2' })).toEqual(E.right('http://127.0.0.2:8081/apis/ccompat/v7'));
    expect(registryOf({ REGISTRY_HOST: '0.0.0.0' })).toEqual(E.right(defaultRegistryUrl));
    expect(registryOf({ REGISTRY_HOST: '::1' })).toEqual(E.right('http://[::1]:8081/apis/ccompat/v7'));
  });

  it('given SCHEMA_REGISTRY_URL, uses it whatever REGISTRY_HOST says', () => {
    expect(registryOf({ REGISTRY_HOST: '127.0.0.2', SCHEMA_REGISTRY_URL: 'http://registry.example:8081/apis/ccompat/v7' })).toEqual(E.right('http://registry.example:8081/apis/ccompat/v7'));
  });

  it('given no HEALTH_HOST, or an empty one, health listeners bind loopback; given one, there', () => {
    const healthHostOf = (env: NodeJS.ProcessEnv) => E.map((c: { healthHost: string }) => c.healthHost)(decodeConfig(env));
    expect(healthHostOf({})).toEqual(E.right('127.0.0.1'));
    expect(healthHostOf({ HEALTH_HOST: '' })).toEqual(E.right('127.0.0.1'));
    expect(healthHostOf({ HEALTH_HOST: '0.0.0.0' })).toEqual(E.right('0.0.0.0'));
    expect(healthHostOf({ HEALTH_HOST: '::1' })).toEqual(E.right('::1'));
  });
});
