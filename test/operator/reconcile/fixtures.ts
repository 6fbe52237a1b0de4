import { withDefaults, type Operation, type RkvCluster, type RkvClusterSpec, type RkvClusterStatus } from '../../../operator/src/crd/spec.js';
import { buildConfigMap } from '../../../operator/src/reconcile/build/config.js';
import { buildClientService, buildHeadlessService, buildPodDisruptionBudget } from '../../../operator/src/reconcile/build/services.js';
import { statefulSetHash } from '../../../operator/src/reconcile/build/statefulset.js';
import { FINALIZER, SPEC_HASH, memberName, names } from '../../../operator/src/reconcile/names.js';
import type { Action, MemberRow, NodeView, Observed, PodObservation, ReconcileInput, RingView } from '../../../operator/src/reconcile/types.js';

/** Builders of reconcile inputs for the table tests: a cluster `c` in namespace `ns`. */
export const REF = { name: 'c', namespace: 'ns' };
export const NOW = '2030-01-01T00:00:00Z';
export const pod = (i: number) => names.pod(REF, i);
export const node = (i: number) => memberName(REF, pod(i));

export function cluster(spec: Partial<RkvClusterSpec> = {}, status?: RkvClusterStatus, meta: Partial<RkvCluster['metadata']> = {}): RkvCluster {
  return {
    apiVersion: 'rkv.io/v1alpha1',
    kind: 'RkvCluster',
    metadata: { name: 'c', namespace: 'ns', uid: 'uid-1', generation: 1, resourceVersion: '7', finalizers: [FINALIZER], ...meta },
    spec: withDefaults({ ring: { size: 16 }, ...spec }),
    ...(status ? { status } : {}),
  };
}

export function member(i: number, status = 'valid', ringPct = 0, pendingPct = ringPct, reachable = true): MemberRow {
  return { name: node(i), status, ringPct, pendingPct, reachable };
}

/** `n` valid members 0..n-1 with an even share. */
export function members(n: number): MemberRow[] {
  return Array.from({ length: n }, (_, i) => member(i, 'valid', Math.round(1000 / n) / 10));
}

export function ring(o: Partial<RingView> = {}): RingView {
  return { ringSize: 16, claimant: node(0), pendingOwnershipTransfers: 0, staged: [], unreachable: [], ...o };
}

export function view(ms: MemberRow[], r: Partial<RingView> = {}, transferLimit = 2): NodeView {
  return { members: ms, ring: ring(r), transferLimit };
}

export function standalone(i: number): NodeView {
  return view([member(i, 'valid', 100)]);
}

export function podObs(i: number, nv: NodeView | undefined, o: Partial<PodObservation> = {}): PodObservation {
  return { name: pod(i), ordinal: i, ready: true, terminating: false, ...(nv ? { node: nv } : {}), ...o };
}

/** Everything owned exists with the hashes the builders give; `created` is the ring size the ConfigMap holds. */
export function objectsFor(c: RkvCluster, replicas: number, created = c.status?.ring?.size ?? c.spec.ring.size): Pick<Observed, 'statefulSet' | 'hashes' | 'secretExists' | 'configRingSize'> {
  const hash = (o: { metadata?: { name?: string; annotations?: Record<string, string> }; kind?: string }) => [`${o.kind}/${o.metadata?.name}`, o.metadata?.annotations?.[SPEC_HASH]] as const;
  return {
    statefulSet: { replicas, readyReplicas: replicas, hash: statefulSetHash(c), claimSize: c.spec.storage.size },
    configRingSize: created,
    hashes: Object.fromEntries([buildConfigMap(c, created), buildHeadlessService(c), buildClientService(c), buildPodDisruptionBudget(c)].map(hash)),
    secretExists: true,
  };
}

/** A settled cluster of `n` pods that all see the same `n` members. */
export function steady(c: RkvCluster, n: number, r: Partial<RingView> = {}): Observed {
  const v = view(members(n), r);
  return { ...objectsFor(c, n), pods: Array.from({ length: n }, (_, i) => podObs(i, v)), pvcs: Array.from({ length: n }, (_, i) => ({ name: names.pvc(REF, i), ordinal: i, storage: c.spec.storage.size, terminating: false })) };
}

export function input(c: RkvCluster, observed: Observed, extra: Partial<ReconcileInput> = {}): ReconcileInput {
  return { cluster: c, observed, now: NOW, freshSecret: 'fresh-secret', ...extra };
}

export function op(o: Partial<Operation> & Pick<Operation, 'type'>): Operation {
  return { nodes: [], targetReplicas: 3, step: 'Starting', startedAt: '2029-12-31T23:00:00Z', ...o };
}

export function statusWith(c: RkvCluster, operation: Operation | undefined, extra: Partial<RkvClusterStatus> = {}): RkvClusterStatus {
  return { phase: 'Running', ring: { size: c.spec.ring.size, pendingTransfers: 0 }, ...(operation ? { operation } : {}), ...extra };
}

/** Short descriptions of actions, for readable assertions. */
export function kinds(actions: readonly Action[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case 'admin':
        return `admin:${a.call.op}:${a.pod}${a.call.op === 'join' ? `<-${a.call.seed}` : a.call.op === 'leave' ? `:${a.call.node.split('.')[0]}` : a.call.op === 'resize' ? `:${a.call.size}` : ''}`;
      case 'apply':
      case 'createIfMissing':
        return `${a.kind}:${a.object.kind}`;
      case 'scale':
        return `scale:${a.replicas}`;
      case 'event':
        return `event:${a.reason}`;
      case 'deletePVC':
      case 'expandPVC':
        return `${a.kind}:${a.name}`;
      case 'delete':
        return `delete:${a.objectKind}/${a.name}`;
      default:
        return a.kind;
    }
  });
}

export const nonEvents = (actions: readonly Action[]) => kinds(actions.filter((a) => a.kind !== 'event'));
export const eventReasons = (actions: readonly Action[]) => actions.flatMap((a) => (a.kind === 'event' ? [a.reason] : []));
