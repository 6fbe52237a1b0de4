import type { JSONSchemaProps } from '../../../operator/src/crd/schema_dsl.js';
import { evalRule, usesOldSelf } from './cel.js';

/**
 * A structural-schema validator as the API server applies a CRD's
 * openAPIV3Schema: defaulting, pruning of unknown fields, OpenAPI checks and
 * x-kubernetes-validations (CEL) with `self` and, on updates, `oldSelf`.
 */
export interface FieldError {
  path: string;
  message: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Defaults, then prunes; returns the new value. */
export function defaultAndPrune(s: JSONSchemaProps, v: unknown): unknown {
  if (s.type === 'object' && isObj(v)) {
    if (s['x-kubernetes-preserve-unknown-fields'] && !s.properties) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const ps = s.properties?.[k] ?? s.additionalProperties;
      if (ps) out[k] = x;
      else if (s['x-kubernetes-preserve-unknown-fields']) out[k] = x;
    }
    for (const [k, ps] of Object.entries(s.properties ?? {})) {
      if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
      if (out[k] !== undefined) out[k] = defaultAndPrune(ps, out[k]);
    }
    if (s.additionalProperties) for (const k of Object.keys(out)) if (!s.properties?.[k]) out[k] = defaultAndPrune(s.additionalProperties, out[k]);
    return out;
  }
  if (s.type === 'array' && Array.isArray(v) && s.items) return v.map((x) => defaultAndPrune(s.items!, x));
  return v;
}

/** Converts a value to what CEL sees: integers as int (bigint) where the schema says integer. */
function celValue(s: JSONSchemaProps | undefined, v: unknown): unknown {
  if (v === null || v === undefined) return v;
  if (s?.type === 'integer' && typeof v === 'number') return BigInt(v);
  if (Array.isArray(v)) return v.map((x) => celValue(s?.items, x));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = celValue(s?.properties?.[k] ?? s?.additionalProperties, x);
    return out;
  }
  return v;
}

function typeOk(s: JSONSchemaProps, v: unknown): boolean {
  if (v === null) return !!s.nullable;
  if (s['x-kubernetes-int-or-string']) return typeof v === 'string' || Number.isInteger(v);
  switch (s.type) {
    case 'object':
      return isObj(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : isObj(v) ? '"object"' : Array.isArray(v) ? '"array"' : String(v));

export function validate(s: JSONSchemaProps, v: unknown, old: unknown, path: string, errs: FieldError[]): void {
  if (!typeOk(s, v)) {
    errs.push({ path, message: `Invalid value: ${show(v)}: ${path} in body must be of type ${s.type}` });
    return;
  }
  if (v === null) return;
  if (s.enum && !s.enum.some((e) => e === v)) errs.push({ path, message: `Unsupported value: ${show(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errs.push({ path, message: `Invalid value: ${v}: ${path} in body should be greater than or equal to ${s.minimum}` });
    if (s.maximum !== undefined && v > s.maximum) errs.push({ path, message: `Invalid value: ${v}: ${path} in body should be less than or equal to ${s.maximum}` });
  }
  if (typeof v === 'string') {
    if (s.pattern && !new RegExp(s.pattern).test(v)) errs.push({ path, message: `Invalid value: ${show(v)}: ${path} in body should match '${s.pattern}'` });
    if (s.maxLength !== undefined && v.length > s.maxLength) errs.push({ path, message: `Too long: may not be longer than ${s.maxLength}` });
    if (s.minLength !== undefined && v.length < s.minLength) errs.push({ path, message: `Invalid value: ${show(v)}: ${path} in body should be at least ${s.minLength} chars long` });
  }
  if (isObj(v)) {
    for (const r of s.required ?? []) if (v[r] === undefined) errs.push({ path: `${path}.${r}`, message: 'Required value' });
    for (const [k, ps] of Object.entries(s.properties ?? {})) {
      if (v[k] !== undefined) validate(ps, v[k], isObj(old) ? old[k] : undefined, `${path}.${k}`, errs);
    }
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) errs.push({ path, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (s.items) v.forEach((x, i) => validate(s.items!, x, undefined, `${path}[${i}]`, errs));
  }
  for (const rule of s['x-kubernetes-validations'] ?? []) {
    const transition = usesOldSelf(rule.rule);
    if (transition && old === undefined) continue;
    const at = rule.fieldPath ? `${path}${rule.fieldPath}` : path;
    try {
      const ok = evalRule(rule.rule, transition ? { self: celValue(s, v), oldSelf: celValue(s, old) } : { self: celValue(s, v) });
      if (!ok) errs.push({ path: at, message: `Invalid value: ${show(v)}: ${rule.message}` });
    } catch (e) {
      errs.push({ path: at, message: `Invalid value: ${show(v)}: rule "${rule.rule}" failed: ${(e as Error).message}` });
    }
  }
}
