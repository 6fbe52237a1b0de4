import { GROUP, PLURAL, VERSION } from '../crd/spec.js';

/** The API resources the operator touches, and their REST paths. */
export interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const R = {
  rkvcluster: { group: GROUP, version: VERSION, plural: PLURAL, kind: 'RkvCluster' },
  statefulset: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet' },
  pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
  pvc: { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim' },
  service: { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  configmap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
  secret: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' },
  pdb: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget' },
  event: { group: '', version: 'v1', plural: 'events', kind: 'Event' },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
  // prometheus-operator's CRDs: served only where it is installed (RkvCluster spec.monitoring)
  servicemonitor: { group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors', kind: 'ServiceMonitor' },
  prometheusrule: { group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules', kind: 'PrometheusRule' },
} as const satisfies Record<string, Resource>;

const BY_KIND = new Map<string, Resource>(Object.values(R).map((r) => [r.kind, r]));

export function resourceOfKind(kind: string): Resource {
  const r = BY_KIND.get(kind);
  if (!r) throw new Error(`the operator does not manage ${kind} objects`);
  return r;
}

/** `/api/v1/namespaces/ns/pods/name` or `/apis/apps/v1/statefulsets` (namespace omitted: all namespaces). */
export function pathOf(r: Resource, namespace?: string, name?: string, sub?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
}
