import * as t from 'io-ts';

/** JSON Schema (2020-12, as OpenAPI 3.1 uses it) derived from the io-ts codecs the API decodes with, so the OpenAPI
 *  document and the decoder cannot drift apart. Codecs that io-ts can't describe by structure (numbers with bounds,
 *  patterns) carry their schema with `described`. */
export type JsonSchema = { readonly [k: string]: unknown };

const annotations = new WeakMap<object, JsonSchema>();

export const described = <C extends t.Any>(codec: C, schema: JsonSchema): C => {
  annotations.set(codec, schema);
  return codec;
};

type Tagged = t.Any & { readonly _tag?: string };

export const toJsonSchema = (codec: t.Any): JsonSchema => {
  const own = annotations.get(codec);
  if (own) return own;
  const c = codec as Tagged & Record<string, unknown>;
  switch (c._tag) {
    case 'StringType':
      return { type: 'string' };
    case 'NumberType':
      return { type: 'number' };
    case 'BooleanType':
      return { type: 'boolean' };
    case 'NullType':
      return { type: 'null' };
    case 'UnknownType':
      return {};
    case 'LiteralType':
      return { const: c.value };
    case 'KeyofType':
      return { enum: Object.keys(c.keys as object) };
    case 'ArrayType':
    case 'ReadonlyArrayType':
      return { type: 'array', items: toJsonSchema(c.type as t.Any) };
    case 'InterfaceType':
    case 'StrictType': {
      const props = c.props as t.Props;
      return { type: 'object', properties: mapProps(props), required: Object.keys(props) };
    }
    case 'PartialType':
      return { type: 'object', properties: mapProps(c.props as t.Props) };
    case 'IntersectionType': {
      const parts = (c.types as t.Any[]).map(toJsonSchema);
      if (parts.every((p) => p.type === 'object')) {
        return {
          type: 'object',
          properties: Object.assign({}, ...parts.map((p) => p.properties)),
          required: parts.flatMap((p) => (p.required as string[] | undefined) ?? []),
        };
      }
      return { allOf: parts };
    }
    case 'UnionType': {
      const parts = (c.types as t.Any[]).map(toJsonSchema);
      return { anyOf: parts };
    }
    case 'RefinementType':
    case 'ExactType':
    case 'ReadonlyType':
      return toJsonSchema(c.type as t.Any);
    default:
      return { description: codec.name };
  }
};

const mapProps = (props: t.Props): Record<string, JsonSchema> =>
  Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toJsonSchema(v)]));
