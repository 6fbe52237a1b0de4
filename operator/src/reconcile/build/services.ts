import type { Service } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { RkvCluster } from '../../crd/spec.js';
import { withSpecHash } from '../hash.js';
import { names, ownedMeta, refOf, selectorLabels } from '../names.js';

/** Peer DNS: every pod gets `<pod>.<cluster>-headless`, published before it is ready so joining nodes can be reached. */
export function buildHeadlessService(c: RkvCluster): Service {
  const ref = refOf(c);
  const p = c.spec.ports;
  return withSpecHash({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(c, names.headless(ref)),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(ref),
      ports: [
        { name: 'cluster', port: p.cluster, targetPort: 'cluster', protocol: 'TCP' },
        { name: 'http', port: p.http, targetPort: 'http', protocol: 'TCP' },
        { name: 'resp', port: p.resp, targetPort: 'resp', protocol: 'TCP' },
      ],
    },
  });
}

/** What clients use: RESP and HTTP over the ready nodes. */
export function buildClientService(c: RkvCluster): Service {
  const ref = refOf(c);
  const p = c.spec.ports;
  return withSpecHash({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(c, names.client(ref)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(ref),
      ports: [
        { name: 'resp', port: p.resp, targetPort: 'resp', protocol: 'TCP' },
        { name: 'http', port: p.http, targetPort: 'http', protocol: 'TCP' },
      ],
    },
  });
}

/** One node down at a time for voluntary disruptions: with nVal >= 3 a quorum of every key stays up. */
export function buildPodDisruptionBudget(c: RkvCluster): PodDisruptionBudget {
  const ref = refOf(c);
  return withSpecHash({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMeta(c, names.pdb(ref)),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(ref) } },
  });
}
