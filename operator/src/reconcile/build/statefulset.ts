import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import type { RkvCluster } from '../../crd/spec.js';
import { specHash } from '../hash.js';
import { CLAIM_TEMPLATE, CONFIG_DIR, CONFIG_FILE, DATA_DIR, labels, names, ownedMeta, podHost, refOf, selectorLabels } from '../names.js';
import { secretSource } from './config.js';

/**
 * The nodes' StatefulSet (cass-operator's construct_statefulset): a pure
 * function of the cluster. Its hash annotation covers only the spec fields
 * it is built from, so the operator re-applies it when the user changes one
 * of those, never because a newer operator builds it differently: an
 * operator upgrade does not restart database pods. Replicas are not part of
 * it: they follow the membership steps (scale-up grows the set before the
 * joins; scale-down shrinks it only after the leaves completed).
 */
export function statefulSetInputs(c: RkvCluster) {
  const s = c.spec;
  return {
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    resources: s.resources,
    affinity: s.affinity,
    tolerations: s.tolerations,
    topologySpreadConstraints: s.topologySpreadConstraints,
    ports: s.ports,
    secret: secretSource(c),
    storageClassName: s.storage.storageClassName,
  };
}

export function statefulSetHash(c: RkvCluster): string {
  return specHash(statefulSetInputs(c));
}

export interface StatefulSetParams {
  replicas: number;
  /**
   * Size in the volume claim template. Claim templates are immutable, so
   * once the set exists the caller passes the size it was created with;
   * later growth is applied to each PVC instead.
   */
  claimSize: string;
}

function nodeContainer(c: RkvCluster): Container {
  const ref = refOf(c);
  const s = c.spec;
  const secret = secretSource(c);
  const host = podHost(ref, '$(POD_NAME)');
  return {
    name: 'rkv',
    image: s.image,
    ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
    args: ['start'],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'RKV_CONFIG', value: `${CONFIG_DIR}/${CONFIG_FILE}` },
      { name: 'RKV_NAME', value: `rkv@${host}` },
      { name: 'RKV_ADVERTISE', value: host },
      { name: 'RKV_DATA_DIR', value: DATA_DIR },
      { name: 'RKV_CLUSTER_SECRET', valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } },
    ],
    ports: [
      { name: 'resp', containerPort: s.ports.resp, protocol: 'TCP' },
      { name: 'http', containerPort: s.ports.http, protocol: 'TCP' },
      { name: 'cluster', containerPort: s.ports.cluster, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/health/ready', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/health/live', port: 'http' }, periodSeconds: 10, failureThreshold: 6, initialDelaySeconds: 10 },
    ...(s.resources ? { resources: s.resources } : {}),
    volumeMounts: [
      { name: CLAIM_TEMPLATE, mountPath: DATA_DIR },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    ],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  };
}

function podSpec(c: RkvCluster): PodSpec {
  const s = c.spec;
  return {
    containers: [nodeContainer(c)],
    volumes: [{ name: 'config', configMap: { name: names.configMap(refOf(c)) } }],
    // a clean shutdown flushes RocksDB; leaving the ring is the operator's job before the pod goes
    terminationGracePeriodSeconds: 60,
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
    ...(s.affinity ? { affinity: s.affinity } : {}),
    ...(s.tolerations ? { tolerations: s.tolerations } : {}),
    ...(s.topologySpreadConstraints ? { topologySpreadConstraints: s.topologySpreadConstraints } : {}),
  };
}

export function buildStatefulSet(c: RkvCluster, p: StatefulSetParams): StatefulSet {
  const ref = refOf(c);
  const s = c.spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMeta(c, names.statefulSet(ref), { hash: statefulSetHash(c) }),
    spec: {
      replicas: p.replicas,
      serviceName: names.headless(ref),
      // pods start together; the order of joins is the operator's, not the StatefulSet's
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      // the operator decides about volumes of nodes that left (storage.retainOnScaleDown)
      persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' },
      selector: { matchLabels: selectorLabels(ref) },
      template: { metadata: { labels: labels(ref) }, spec: podSpec(c) },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: CLAIM_TEMPLATE, labels: labels(ref) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(s.storage.storageClassName ? { storageClassName: s.storage.storageClassName } : {}),
            resources: { requests: { storage: p.claimSize } },
          },
        },
      ],
    },
  };
}
