import type { RkvCluster } from '../../crd/spec.js';
import { withSpecHash } from '../hash.js';
import { MANAGER, names, ownedMeta, refOf, selectorLabels } from '../names.js';
import type { KubeObject } from '../types.js';
import { ALERT_RULE_GROUPS, SELECTOR_PLACEHOLDER, type AlertRule } from './alert_rules.generated.js';

/**
 * prometheus-operator objects for one cluster (spec.monitoring). They match
 * what the chart's cluster-wide ServiceMonitor and PrometheusRule do for every
 * cluster, scoped to this one: use either, not both, or every series is
 * scraped twice.
 */
export const MONITORING_API = 'monitoring.coreos.com/v1';

/**
 * Scrapes /metrics of every node through the client Service (so `service` is
 * the cluster's name on every series, `job` is "rkv"), not the headless one
 * over the same pods.
 */
export function buildServiceMonitor(c: RkvCluster): KubeObject {
  const ref = refOf(c);
  return withSpecHash({
    apiVersion: MONITORING_API,
    kind: 'ServiceMonitor',
    metadata: ownedMeta(c, names.serviceMonitor(ref), { component: 'monitoring' }),
    spec: {
      jobLabel: 'app.kubernetes.io/name',
      selector: { matchLabels: { ...selectorLabels(ref), 'app.kubernetes.io/managed-by': MANAGER } },
      namespaceSelector: { matchNames: [ref.namespace] },
      endpoints: [
        {
          port: 'http',
          path: '/metrics',
          scheme: 'http',
          relabelings: [{ sourceLabels: ['__meta_kubernetes_service_name'], regex: `${names.headless(ref)}`, action: 'drop' }],
        },
      ],
    },
  } as KubeObject);
}

/** The series of this cluster's nodes, as the ServiceMonitor above labels them. */
export function clusterSelector(c: RkvCluster): string {
  const ref = refOf(c);
  return `job="rkv", namespace="${ref.namespace}", service="${names.client(ref)}"`;
}

/** The chart's alerting rules with their default thresholds, every expression narrowed to this cluster. */
export function buildPrometheusRule(c: RkvCluster): KubeObject {
  const ref = refOf(c);
  const selector = clusterSelector(c);
  const scoped = (r: AlertRule): AlertRule => ({ ...r, expr: r.expr.split(SELECTOR_PLACEHOLDER).join(selector) });
  return withSpecHash({
    apiVersion: MONITORING_API,
    kind: 'PrometheusRule',
    metadata: ownedMeta(c, names.prometheusRule(ref), { component: 'monitoring' }),
    spec: { groups: ALERT_RULE_GROUPS.map((g) => ({ name: `${g.name}.${ref.namespace}.${ref.name}`, rules: g.rules.map(scoped) })) },
  } as KubeObject);
}
