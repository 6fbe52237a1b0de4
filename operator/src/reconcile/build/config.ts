import type { ConfigMap, Secret } from 'kubernetes-types/core/v1.js';
import { stringify } from 'yaml';
import type { RkvCluster } from '../../crd/spec.js';
import { specHash } from '../hash.js';
import { CONFIG_FILE, DATA_DIR, names, ownedMeta, refOf } from '../names.js';

/**
 * The node configuration file. Nodes read it at start (`--config`), so a
 * change reaches a node at its next restart and never restarts one by
 * itself. `ringSize` is the size the cluster was created with (see
 * steps/lifecycle.ts), not necessarily spec.ring.size nor the current size.
 */
export function nodeConfig(c: RkvCluster, ringSize: number): Record<string, unknown> {
  const s = c.spec;
  return {
    'cluster-name': refOf(c).name,
    bind: '0.0.0.0',
    'data-dir': DATA_DIR,
    backend: s.backend,
    'ring-size': ringSize,
    'n-val': s.nVal,
    ...(s.quorum?.r !== undefined ? { r: s.quorum.r } : {}),
    ...(s.quorum?.w !== undefined ? { w: s.quorum.w } : {}),
    'resp-port': s.ports.resp,
    'http-port': s.ports.http,
    'cluster-port': s.ports.cluster,
    'log-level': s.logLevel,
  };
}

export function buildConfigMap(c: RkvCluster, ringSize: number): ConfigMap {
  const data = { [CONFIG_FILE]: stringify(nodeConfig(c, ringSize)) };
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: ownedMeta(c, names.configMap(refOf(c)), { hash: specHash(data) }), data };
}

/**
 * The generated cluster secret. `secret` is random bytes the caller supplies
 * (the reconcile decision is pure); it is created once and never rewritten,
 * since changing it splits a running cluster.
 */
export function buildSecret(c: RkvCluster, secret: string): Secret {
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: ownedMeta(c, names.secret(refOf(c))), stringData: { secret } };
}

/** Where the nodes read the cluster secret from: the user's Secret, or the generated one. */
export function secretSource(c: RkvCluster): { name: string; key: string; generated: boolean } {
  const ref = c.spec.clusterSecretRef;
  return ref ? { name: ref.name, key: ref.key, generated: false } : { name: names.secret(refOf(c)), key: 'secret', generated: true };
}
