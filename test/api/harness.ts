import { createContext } from '../../services/common/context';
import { ServiceContext } from '../../services/common/service';
import { quoteIdent } from '../../services/common/db';
import { ApiOptions, RunningApi, startApi } from '../../services/api/service';
import { testConfig, uniq } from '../support/stack';

/** Starts the real API (real Kafka, registry and the machine's PostgreSQL) on a free port, its key table in a fresh schema. */
export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests inspect response bodies freely
  readonly json: any;
  readonly text: string;
}

export interface TestApi {
  readonly ctx: ServiceContext;
  readonly api: RunningApi;
  readonly adminKey: string;
  readonly apiSchema: string;
  call(method: string, path: string, opts?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<TestResponse>;
  issueKey(scopes: string[]): Promise<string>;
  stop(): Promise<void>;
}

export const startTestApi = async (opts: ApiOptions = {}): Promise<TestApi> => {
  const adminKey = uniq('admin-key');
  const ctx = createContext(testConfig({ adminKey, logLevel: 'warn' }), uniq('api-test'));
  const apiSchema = uniq('api_test').replace(/-/g, '_');
  const analyticsSchema = uniq('analytics_test').replace(/-/g, '_');
  const api = await startApi(ctx, { port: 0, apiSchema, analyticsSchema, discover: false, ...opts });
  const call: TestApi['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const key = o.key === undefined ? adminKey : o.key;
    if (key !== null) headers.Authorization = `Bearer ${key}`;
    if (o.body !== undefined) headers['Content-Type'] ??= 'application/json';
    const res = await fetch(`${api.url}${path}`, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    ctx,
    api,
    adminKey,
    apiSchema,
    call,
    issueKey: async (scopes) => {
      const r = await call('POST', '/api/v1/api-keys', { body: { scopes, label: 'test' } });
      if (r.status !== 201) throw new Error(`issuing a key failed: ${r.status} ${r.text}`);
      return r.json.key as string;
    },
    stop: async () => {
      await api.stop();
      await ctx.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(opts.analyticsSchema ?? analyticsSchema)} CASCADE`);
      await ctx.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(apiSchema)} CASCADE`);
      await ctx.pool.end();
    },
  };
};
