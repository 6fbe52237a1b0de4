import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, PersistentVolumeClaim, Pod, Secret, Service } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { RkvCluster } from '../crd/spec.js';
import { secretSource } from '../reconcile/build/config.js';
import { parse } from 'yaml';
import { CLAIM_TEMPLATE, CONFIG_FILE, SPEC_HASH, names, ordinalOf, refOf, selectorLabels } from '../reconcile/names.js';
import type { KubeObject, Observed, PodObservation, PvcObservation } from '../reconcile/types.js';
import type { Informer } from './informer.js';
import type { Kube } from './kube.js';
import type { NodeAdmin, PodResolver } from './node_admin.js';
import { R } from './resources.js';

/**
 * Gathers what one reconcile pass decides from: owned objects from the
 * informer caches, the Secret by a GET (the operator does not list or watch
 * Secrets), and each running pod's own account of the ring from its admin API.
 */
export interface Caches {
  statefulSets: Informer<StatefulSet>;
  pods: Informer<Pod>;
  pvcs: Informer<PersistentVolumeClaim>;
  services: Informer<Service>;
  configMaps: Informer<ConfigMap>;
  pdbs: Informer<PodDisruptionBudget>;
}

export interface ObserveDeps {
  caches: Caches;
  kube: Kube;
  admin: NodeAdmin;
  resolve: PodResolver;
}

function isReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function matches(labels: Record<string, string> | undefined, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

function configRingSize(cm: ConfigMap | undefined): { configRingSize?: number } {
  try {
    const size = (parse(cm?.data?.[CONFIG_FILE] ?? '') as Record<string, unknown> | null)?.['ring-size'];
    return typeof size === 'number' ? { configRingSize: size } : {};
  } catch {
    return {};
  }
}

export async function observe(d: ObserveDeps, c: RkvCluster): Promise<Observed> {
  const ref = refOf(c);
  const ns = ref.namespace;
  const sts = d.caches.statefulSets.get(names.statefulSet(ref), ns);
  const selector = selectorLabels(ref);
  const pods = d.caches.pods.list(ns).filter((p) => matches(p.metadata?.labels, selector) && ordinalOf(ref, p.metadata?.name ?? '') !== undefined);
  const podObs = await Promise.all(pods.map(async (p): Promise<PodObservation> => {
    const name = p.metadata?.name ?? '';
    const base = { name, ordinal: ordinalOf(ref, name)!, ready: isReady(p), terminating: !!p.metadata?.deletionTimestamp };
    const ep = p.status?.phase === 'Running' && !base.terminating ? d.resolve(c, p) : undefined;
    if (!ep) return base;
    try {
      return { ...base, node: await d.admin.view(ep) };
    } catch (e) {
      return { ...base, error: (e as Error).message };
    }
  }));
  const pvcs: PvcObservation[] = [];
  for (const pvc of d.caches.pvcs.list(ns)) {
    const name = pvc.metadata?.name ?? '';
    const prefix = `${CLAIM_TEMPLATE}-`;
    const ordinal = name.startsWith(prefix) ? ordinalOf(ref, name.slice(prefix.length)) : undefined;
    if (ordinal === undefined) continue;
    pvcs.push({ name, ordinal, storage: pvc.spec?.resources?.requests?.storage, terminating: !!pvc.metadata?.deletionTimestamp });
  }
  const hashes: Record<string, string | undefined> = {};
  const note = (kind: string, o: { metadata?: { name?: string; annotations?: Record<string, string> } } | undefined) => {
    if (o?.metadata?.name) hashes[`${kind}/${o.metadata.name}`] = o.metadata.annotations?.[SPEC_HASH];
  };
  const cm = d.caches.configMaps.get(names.configMap(ref), ns);
  note('ConfigMap', cm);
  note('Service', d.caches.services.get(names.headless(ref), ns));
  note('Service', d.caches.services.get(names.client(ref), ns));
  note('PodDisruptionBudget', d.caches.pdbs.get(names.pdb(ref), ns));
  // prometheus-operator's kinds are looked up only where they are served: most clusters have no such CRDs
  const monitoringApi = await d.kube.serves([R.servicemonitor, R.prometheusrule]);
  let monitoringError: string | undefined;
  if (monitoringApi) {
    try {
      note('ServiceMonitor', await d.kube.get<KubeObject>(R.servicemonitor, ns, names.serviceMonitor(ref)));
      note('PrometheusRule', await d.kube.get<KubeObject>(R.prometheusrule, ns, names.prometheusRule(ref)));
    } catch (e) {
      // e.g. 403 when the chart was installed with rbac.monitoring=false: the rest of the cluster is still reconciled
      monitoringError = (e as Error).message;
    }
  }
  const secret = await d.kube.get<Secret>(R.secret, ns, secretSource(c).name);
  const claim = sts?.spec?.volumeClaimTemplates?.find((t) => t.metadata?.name === CLAIM_TEMPLATE);
  return {
    ...(sts ? {
      statefulSet: {
        replicas: sts.spec?.replicas ?? 0,
        readyReplicas: sts.status?.readyReplicas ?? 0,
        hash: sts.metadata?.annotations?.[SPEC_HASH],
        claimSize: claim?.spec?.resources?.requests?.storage,
      },
    } : {}),
    pods: podObs,
    pvcs,
    hashes,
    monitoringApi,
    ...(monitoringError ? { monitoringError } : {}),
    ...configRingSize(cm),
    secretExists: !!secret && (secretSource(c).generated || secret.data?.[secretSource(c).key] !== undefined || secret.stringData?.[secretSource(c).key] !== undefined),
  };
}
