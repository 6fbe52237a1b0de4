/**
 * The patch flavours the stand-in applies: JSON merge patch (RFC 7386; also
 * used for strategic merge patches, which the operator never sends), and a
 * small server-side apply: a field manager's applied configuration replaces
 * what it applied before (fields it stopped applying are removed), lists
 * are atomic, and other managers' fields are kept.
 */
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Leaf paths of an applied configuration (objects are descended, everything else is a leaf). */
export function leafPaths(v: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (isObj(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) leafPaths(x, [...prefix, k], out);
  } else {
    out.push(prefix);
  }
  return out;
}

function removePath(o: Record<string, unknown>, path: string[]): void {
  if (path.length === 0) return;
  const [head, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    delete o[head];
    return;
  }
  const child = o[head];
  if (isObj(child)) {
    removePath(child, rest);
    if (Object.keys(child).length === 0) delete o[head];
  }
}

function deepMerge(target: unknown, applied: unknown): unknown {
  if (!isObj(applied) || !isObj(target)) return structuredClone(applied);
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(applied)) out[k] = deepMerge(out[k], v);
  return out;
}

/** Applies `applied` for a manager that previously owned `previous` (leaf paths); returns the object and the new ownership. */
export function serverSideApply(existing: Record<string, unknown>, applied: Record<string, unknown>, previous: string[][]): { object: Record<string, unknown>; owned: string[][] } {
  const owned = leafPaths(applied).filter((p) => p[0] !== 'apiVersion' && p[0] !== 'kind' && !(p[0] === 'metadata' && (p[1] === 'name' || p[1] === 'namespace' || p[1] === 'resourceVersion')));
  const now = new Set(owned.map((p) => p.join('\u0000')));
  const base = structuredClone(existing);
  for (const p of previous) if (!now.has(p.join('\u0000'))) removePath(base, p);
  return { object: deepMerge(base, applied) as Record<string, unknown>, owned };
}
