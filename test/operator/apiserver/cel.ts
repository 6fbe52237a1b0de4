import { Environment } from '@marcbachmann/cel-js';
import { parseQuantity } from '../../../operator/src/reconcile/quantity.js';

/**
 * CEL as the API server evaluates x-kubernetes-validations: cel-js plus the
 * part of the Kubernetes quantity library the CRD uses (quantity(),
 * isQuantity(), compareTo, isGreaterThan, isLessThan).
 */
class Quantity {
  constructor(readonly bytes: number) {}
}

const env = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerType('Quantity', Quantity)
  .registerFunction('quantity(string): Quantity', (s: string) => {
    const b = parseQuantity(s);
    if (b === undefined) throw new Error(`quantities must match the regular expression: ${s}`);
    return new Quantity(b);
  })
  .registerFunction('isQuantity(string): bool', (s: string) => parseQuantity(s) !== undefined)
  .registerFunction('Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) => BigInt(Math.sign(a.bytes - b.bytes)))
  .registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.bytes > b.bytes)
  .registerFunction('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.bytes < b.bytes);

const compiled = new Map<string, (ctx: Record<string, unknown>) => unknown>();

/** Evaluates a rule; throws on a rule that does not compile or evaluate (the API server reports those too). */
export function evalRule(rule: string, vars: { self: unknown; oldSelf?: unknown }): boolean {
  let fn = compiled.get(rule);
  if (!fn) {
    const parsed = env.parse(rule);
    fn = (ctx) => parsed(ctx);
    compiled.set(rule, fn);
  }
  const out = fn(vars.oldSelf === undefined ? { self: vars.self } : { self: vars.self, oldSelf: vars.oldSelf });
  if (typeof out !== 'boolean') throw new Error(`rule "${rule}" evaluated to ${String(out)}, not a bool`);
  return out;
}

export function usesOldSelf(rule: string): boolean {
  return /\boldSelf\b/.test(rule);
}
