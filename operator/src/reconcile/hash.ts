import { createHash } from 'node:crypto';
import { SPEC_HASH } from './names.js';

/** JSON with object keys sorted, so equal values always hash the same (cass-operator's hash annotation idea). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function specHash(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

/** The object with its own specHash in the `rkv.io/spec-hash` annotation: re-applied only when that changes. */
export function withSpecHash<T extends { metadata?: { annotations?: Record<string, string> } }>(o: T): T {
  return { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata?.annotations, [SPEC_HASH]: specHash(o) } } };
}
