import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import { API_VERSION, KIND, type RkvCluster } from '../crd/spec.js';

/**
 * Names, labels and identities of everything an RkvCluster owns, in one
 * place: the builders, the reconcile decision and the stand-in API server's
 * tests all derive them from here.
 */
export const MANAGER = 'rkv-operator';
export const FINALIZER = 'rkv.io/orderly-shutdown';
export const SPEC_HASH = 'rkv.io/spec-hash';
export const CLAIM_TEMPLATE = 'data';
export const CONFIG_FILE = 'rkv.yaml';
export const DATA_DIR = '/var/lib/rkv';
export const CONFIG_DIR = '/etc/rkv';

export interface ClusterRef {
  name: string;
  namespace: string;
}

export function refOf(c: Pick<RkvCluster, 'metadata'>): ClusterRef {
  return { name: c.metadata.name ?? '', namespace: c.metadata.namespace ?? 'default' };
}

export const names = {
  statefulSet: (c: ClusterRef) => c.name,
  headless: (c: ClusterRef) => `${c.name}-headless`,
  client: (c: ClusterRef) => c.name,
  configMap: (c: ClusterRef) => `${c.name}-config`,
  secret: (c: ClusterRef) => `${c.name}-cluster-secret`,
  pdb: (c: ClusterRef) => c.name,
  serviceMonitor: (c: ClusterRef) => c.name,
  prometheusRule: (c: ClusterRef) => `${c.name}-alerts`,
  pod: (c: ClusterRef, ordinal: number) => `${c.name}-${ordinal}`,
  pvc: (c: ClusterRef, ordinal: number) => `${CLAIM_TEMPLATE}-${c.name}-${ordinal}`,
};

/** Labels selecting a cluster's pods; never changed after creation (a StatefulSet selector is immutable). */
export function selectorLabels(c: ClusterRef): Record<string, string> {
  return { 'app.kubernetes.io/name': 'rkv', 'app.kubernetes.io/instance': c.name };
}

export function labels(c: ClusterRef, component = 'storage'): Record<string, string> {
  return { ...selectorLabels(c), 'app.kubernetes.io/component': component, 'app.kubernetes.io/managed-by': MANAGER };
}

export function ownerReference(c: Pick<RkvCluster, 'metadata'>): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: c.metadata.name ?? '', uid: c.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

export function ownedMeta(c: Pick<RkvCluster, 'metadata'>, name: string, extra: { component?: string; hash?: string } = {}): ObjectMeta {
  const ref = refOf(c);
  return {
    name,
    namespace: ref.namespace,
    labels: labels(ref, extra.component),
    ...(extra.hash ? { annotations: { [SPEC_HASH]: extra.hash } } : {}),
    ownerReferences: [ownerReference(c)],
  };
}

/** Stable DNS name of a pod through the headless Service (resolvable from any namespace via the search path). */
export function podHost(c: ClusterRef, pod: string): string {
  return `${pod}.${names.headless(c)}.${c.namespace}.svc`;
}

/** The node's identity in the ring: `rkv@<pod DNS name>`, set explicitly so it never depends on how a pod is reached. */
export function memberName(c: ClusterRef, pod: string): string {
  return `rkv@${podHost(c, pod)}`;
}

/** The pod a ring member runs in, when the member is one of this cluster's pods. */
export function podOfMember(c: ClusterRef, member: string): string | undefined {
  const prefix = 'rkv@';
  const suffix = `.${names.headless(c)}.${c.namespace}.svc`;
  if (!member.startsWith(prefix) || !member.endsWith(suffix)) return undefined;
  const pod = member.slice(prefix.length, member.length - suffix.length);
  return ordinalOf(c, pod) === undefined ? undefined : pod;
}

export function ordinalOf(c: ClusterRef, pod: string): number | undefined {
  const prefix = `${names.statefulSet(c)}-`;
  if (!pod.startsWith(prefix)) return undefined;
  const rest = pod.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}
