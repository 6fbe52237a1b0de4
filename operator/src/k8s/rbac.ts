import type { ClusterRole, PolicyRule, Role } from 'kubernetes-types/rbac/v1.js';
import { GROUP, PLURAL } from '../crd/spec.js';

/**
 * Least privilege: exactly the verbs the operator's code uses, per resource.
 * Secrets are read one by one (never listed or watched); Leases only in the
 * operator's own namespace. The e2e API stand-in enforces these rules, so a
 * missing verb fails the tests rather than a user's cluster.
 */
export const CLUSTER_RULES: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch'] },
  // blockOwnerDeletion on owner references needs update on the owner's finalizers
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['services', 'configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  // the generated cluster secret is created once and never rewritten
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  // RkvCluster spec.monitoring (prometheus-operator's CRDs; the chart's rbac.monitoring=false leaves this out)
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors', 'prometheusrules'], verbs: ['get', 'create', 'patch', 'delete'] },
];

export const LEADER_RULES: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];

export const OPERATOR_NAME = 'rkv-operator';

export function operatorClusterRole(): ClusterRole {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: OPERATOR_NAME, labels: { 'app.kubernetes.io/name': OPERATOR_NAME } }, rules: CLUSTER_RULES };
}

export function leaderElectionRole(namespace: string): Role {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace, labels: { 'app.kubernetes.io/name': OPERATOR_NAME } }, rules: LEADER_RULES };
}

/** The full RBAC set: ServiceAccount, ClusterRole(+Binding) and the leader-election Role(+Binding). */
export function rbacObjects(namespace: string): object[] {
  const sa = { kind: 'ServiceAccount', name: OPERATOR_NAME, namespace };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: OPERATOR_NAME, namespace } },
    operatorClusterRole(),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: OPERATOR_NAME }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME }, subjects: [sa] },
    leaderElectionRole(namespace),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-leader-election` }, subjects: [sa] },
  ];
}
