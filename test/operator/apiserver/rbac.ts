import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';

/**
 * RBAC in the stand-in: each bearer token is an identity with ClusterRole
 * rules and namespaced Role rules, checked as the API server's RBAC
 * authorizer does (apiGroup, resource[/subresource], verb; resourceNames
 * are not used by the operator's rules).
 */
export interface Identity {
  name: string;
  /** 'all' for the tests' admin */
  clusterRules: PolicyRule[] | 'all';
  roles?: { namespace: string; rules: PolicyRule[] }[];
}

function match(rules: readonly PolicyRule[], verb: string, group: string, resource: string): boolean {
  return rules.some((r) =>
    (r.apiGroups ?? []).some((g) => g === '*' || g === group)
    && (r.resources ?? []).some((x) => x === '*' || x === resource)
    && r.verbs.some((v) => v === '*' || v === verb));
}

export function authorize(id: Identity, verb: string, group: string, resource: string, namespace: string | undefined): boolean {
  if (id.clusterRules === 'all') return true;
  if (match(id.clusterRules, verb, group, resource)) return true;
  return (id.roles ?? []).some((r) => r.namespace === namespace && match(r.rules, verb, group, resource));
}
