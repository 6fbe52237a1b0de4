import type { RkvClusterSpec } from '../crd/spec.js';

/** Partitions per node that autoResize keeps every node within (Riak's guidance: tens of vnodes per node). */
export const MIN_PARTITIONS_PER_NODE = 8;
export const MAX_PARTITIONS_PER_NODE = 64;

/**
 * The ring size the cluster should have. Without autoResize it is
 * spec.ring.size. With it, spec.ring.size is the starting point, doubled or
 * halved (within 8..1024) until each of `replicas` nodes owns between 8 and
 * 64 partitions; a size already in the band is kept, so a small change of
 * replicas does not move every key.
 */
export function targetRingSize(spec: Pick<RkvClusterSpec, 'ring'>, replicas: number, current?: number): number {
  if (!spec.ring.autoResize) return spec.ring.size;
  const inBand = (s: number) => s / replicas >= MIN_PARTITIONS_PER_NODE && s / replicas <= MAX_PARTITIONS_PER_NODE;
  if (current !== undefined && inBand(current)) return current;
  let s = current ?? spec.ring.size;
  while (s / replicas < MIN_PARTITIONS_PER_NODE && s < 1024) s *= 2;
  while (s / replicas > MAX_PARTITIONS_PER_NODE && s > 8) s /= 2;
  return s;
}
