import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import * as TE from 'fp-ts/TaskEither';
import { readSchema, TopicSpec, topicSpecs } from './topics';

/** Avro in the Confluent wire format, subject `<topic>-value`, compatibility BACKWARD set explicitly per subject
 *  (Apicurio answers 200 NONE for a subject without a rule where Confluent answers 404, which the client takes for a mismatch). */
export interface TopicSerde {
  readonly registry: SchemaRegistry;
  /** Registers (idempotently) the topic's schema on first use and encodes with its id. */
  encode(topic: string, value: unknown): Promise<Buffer>;
  decode<T = unknown>(buffer: Buffer): Promise<T>;
  /** Register a topic spec that is not in the static list (partner topics). */
  ensure(spec: TopicSpec): Promise<number>;
  schemaId(topic: string): number | undefined;
}

export const subjectOf = (topic: string): string => `${topic}-value`;

const setCompatibility = async (baseUrl: string, subject: string | null, level: string): Promise<void> => {
  const url = subject === null ? `${baseUrl}/config` : `${baseUrl}/config/${encodeURIComponent(subject)}`;
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  if (!res.ok) throw new Error(`schema registry refused compatibility ${level} for ${subject ?? 'global'}: ${res.status} ${await res.text()}`);
};

export const createTopicSerde = (registryUrl: string, specs: readonly TopicSpec[] = topicSpecs): TopicSerde => {
  const baseUrl = registryUrl.replace(/\/$/, '');
  const registry = new SchemaRegistry({ host: baseUrl, retry: { retries: 5 } });
  const ids = new Map<string, number>();
  const pending = new Map<string, Promise<number>>();
  const known = new Map(specs.map((s) => [s.name, s]));

  const ensure = (spec: TopicSpec): Promise<number> => {
    known.set(spec.name, spec);
    const ready = ids.get(spec.name);
    if (ready !== undefined) return Promise.resolve(ready);
    let p = pending.get(spec.name);
    if (!p) {
      p = (async () => {
        const subject = subjectOf(spec.name);
        await setCompatibility(baseUrl, subject, 'BACKWARD');
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: readSchema(spec.schemaFile) },
          { subject, compatibility: 'BACKWARD' as never },
        );
        ids.set(spec.name, id);
        return id;
      })();
      pending.set(spec.name, p);
      p.catch(() => pending.delete(spec.name));
    }
    return p;
  };

  return {
    registry,
    ensure,
    schemaId: (topic) => ids.get(topic),
    encode: async (topic, value) => {
      const spec = known.get(topic);
      if (!spec) throw new Error(`no schema known for topic ${topic}`);
      const id = await ensure(spec);
      return registry.encode(id, value);
    },
    decode: (buffer) => registry.decode(buffer) as never,
  };
};

/** Registers every contract topic's schema; safe to run on every start. */
export const registerAll = (serde: TopicSerde, specs: readonly TopicSpec[] = topicSpecs): TE.TaskEither<string, ReadonlyMap<string, number>> =>
  TE.tryCatch(
    async () => {
      const out = new Map<string, number>();
      for (const spec of specs) out.set(spec.name, await serde.ensure(spec));
      return out;
    },
    (e) => `schema registration failed: ${(e as Error).message}`,
  );
