/**
 * A tiny schema DSL: each builder returns the OpenAPI v3 (structural) schema
 * fragment for the CRD *and* carries the TypeScript type of the value it
 * describes, so the CRD and the RkvCluster types come from one source and
 * cannot drift. Fields with a default are required in the inferred type: the
 * API server (and `applyDefaults` for objects read from older CRD versions)
 * always fills them.
 */
export interface ValidationRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** transition rules (oldSelf) on optional fields are skipped on create unless this is set */
  optionalOldSelf?: boolean;
}

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  enum?: unknown[];
  format?: string;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
}

/** A schema fragment typed with the value it describes; D marks fields that have a default. */
export interface Field<T, D extends boolean = boolean> {
  readonly schema: JSONSchemaProps;
  readonly defaulted: D;
  /** phantom: never set, only carries T */
  readonly __type?: T;
}

export type TypeOf<F> = F extends Field<infer T, boolean> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Props = Record<string, Field<unknown, boolean>>;
type RequiredKeys<P extends Props, R extends string> = { [K in keyof P]: K extends R ? K : P[K] extends Field<unknown, true> ? K : never }[keyof P];
export type ObjectOf<P extends Props, R extends string> = Simplify<
  { [K in RequiredKeys<P, R>]-?: TypeOf<P[K]> } & { [K in Exclude<keyof P, RequiredKeys<P, R>>]?: TypeOf<P[K]> }
>;

interface Common<T> {
  description: string;
  default?: T;
  rules?: ValidationRule[];
}
type HasDefault<O> = O extends { default: unknown } ? true : false;

function field<T, O extends Common<T>>(base: JSONSchemaProps, o: O): Field<T, HasDefault<O>> {
  const schema: JSONSchemaProps = { ...base, description: o.description };
  if (o.default !== undefined) schema.default = o.default;
  if (o.rules?.length) schema['x-kubernetes-validations'] = o.rules;
  return { schema, defaulted: (o.default !== undefined) as HasDefault<O> };
}

export function int<O extends Common<number> & { minimum?: number; maximum?: number }>(o: O): Field<number, HasDefault<O>> {
  return field<number, O>({ type: 'integer', ...(o.minimum !== undefined ? { minimum: o.minimum } : {}), ...(o.maximum !== undefined ? { maximum: o.maximum } : {}) }, o);
}

export function num<O extends Common<number> & { minimum?: number; maximum?: number }>(o: O): Field<number, HasDefault<O>> {
  return field<number, O>({ type: 'number', ...(o.minimum !== undefined ? { minimum: o.minimum } : {}), ...(o.maximum !== undefined ? { maximum: o.maximum } : {}) }, o);
}

export function str<O extends Common<string> & { pattern?: string; maxLength?: number; minLength?: number }>(o: O): Field<string, HasDefault<O>> {
  const { pattern, maxLength, minLength } = o;
  return field<string, O>({ type: 'string', ...(pattern ? { pattern } : {}), ...(maxLength !== undefined ? { maxLength } : {}), ...(minLength !== undefined ? { minLength } : {}) }, o);
}

export function bool<O extends Common<boolean>>(o: O): Field<boolean, HasDefault<O>> {
  return field<boolean, O>({ type: 'boolean' }, o);
}

export function oneOf<const A extends readonly string[], O extends Common<string>>(values: A, o: O & Common<A[number]>): Field<A[number], HasDefault<O>> {
  return field<A[number], Common<A[number]>>({ type: 'string', enum: [...values] }, o) as Field<A[number], HasDefault<O>>;
}

export function obj<P extends Props, R extends string = never, O extends Common<Record<string, never>> & { required?: readonly R[] } = Common<Record<string, never>>>(
  props: P,
  o: O & { required?: readonly R[] },
): Field<ObjectOf<P, R>, HasDefault<O>> {
  const properties: Record<string, JSONSchemaProps> = {};
  for (const [k, f] of Object.entries(props)) properties[k] = f.schema;
  const base: JSONSchemaProps = { type: 'object', properties, ...(o.required?.length ? { required: [...o.required] } : {}) };
  return field<Record<string, never>, O>(base, o) as unknown as Field<ObjectOf<P, R>, HasDefault<O>>;
}

export function arr<T, O extends Common<T[]> & { maxItems?: number; listType?: 'atomic' | 'set' | 'map'; mapKeys?: string[] }>(item: Field<T>, o: O): Field<T[], HasDefault<O>> {
  return field<T[], O>({
    type: 'array',
    items: item.schema,
    ...(o.maxItems !== undefined ? { maxItems: o.maxItems } : {}),
    ...(o.listType ? { 'x-kubernetes-list-type': o.listType } : {}),
    ...(o.mapKeys ? { 'x-kubernetes-list-map-keys': o.mapKeys } : {}),
  }, o);
}

/** An embedded Kubernetes type (affinity, resources...) kept as given: its own API types check it where it lands. */
export function opaque<T>(type: 'object' | 'array', o: { description: string }): Field<T, false> {
  const schema: JSONSchemaProps = type === 'object'
    ? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: o.description }
    : { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, description: o.description };
  return { schema, defaulted: false };
}

/**
 * Structural defaulting as the API server does it: top-down, a default is
 * filled in where a field is absent, and the defaults of its own properties
 * are applied inside it. Returns a new value; the input is not modified.
 */
export function applyDefaults(schema: JSONSchemaProps, value: unknown): unknown {
  if (schema.type === 'object' && schema.properties && isPlainObject(value)) {
    const out: Record<string, unknown> = { ...value };
    for (const [k, s] of Object.entries(schema.properties)) {
      const v = out[k] === undefined && s.default !== undefined ? structuredClone(s.default) : out[k];
      if (v !== undefined) out[k] = applyDefaults(s, v);
    }
    return out;
  }
  if (schema.type === 'array' && schema.items && Array.isArray(value)) return value.map((v) => applyDefaults(schema.items!, v));
  return value;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
