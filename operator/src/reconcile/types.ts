import type { RkvCluster, RkvClusterStatus } from '../crd/spec.js';

/**
 * The reconcile decision's inputs and outputs. Everything the decision needs
 * is observed by the caller (informer caches, the nodes' admin API) and
 * passed in; everything it wants done comes back as actions, performed in
 * order by the driver after the status (the progress record) is written.
 */

/** A row of GET /admin/member-status. */
export interface MemberRow {
  name: string;
  status: string;
  ringPct: number;
  pendingPct: number;
  reachable: boolean;
}

/** GET /admin/ring-status (the fields the operator reads). */
export interface RingView {
  ringSize: number;
  /** the size the cluster was created with: every node's --ring-size (newer nodes report it) */
  createdRingSize?: number;
  claimant: string;
  pendingOwnershipTransfers: number;
  staged: { action: string; node: string; size?: number }[];
  unreachable: string[];
  /** present while a committed resize copies data into the new ring */
  resize?: { to: number; pendingPartitions: number };
}

/** What one node says about the cluster it belongs to. */
export interface NodeView {
  members: MemberRow[];
  ring: RingView;
  transferLimit?: number;
}

export interface PodObservation {
  name: string;
  ordinal: number;
  /** the pod's Ready condition */
  ready: boolean;
  terminating: boolean;
  /** the node's admin API answer; absent when the pod was not probed or did not answer */
  node?: NodeView;
  error?: string;
}

export interface PvcObservation {
  name: string;
  ordinal: number;
  /** spec.resources.requests.storage */
  storage?: string;
  terminating: boolean;
}

export interface Observed {
  statefulSet?: { replicas: number; readyReplicas: number; hash?: string; claimSize?: string };
  pods: PodObservation[];
  pvcs: PvcObservation[];
  /** spec-hash annotation of each owned object that exists, keyed by `Kind/name` (undefined: exists without one) */
  hashes: Record<string, string | undefined>;
  /** the Secret the nodes read the cluster secret from exists */
  secretExists: boolean;
  /** `ring-size` in the existing ConfigMap's rkv.yaml */
  configRingSize?: number;
  /** whether the API server serves ServiceMonitors and PrometheusRules (prometheus-operator installed) */
  monitoringApi?: boolean;
  /** why the monitoring objects could not be read (missing RBAC, say) */
  monitoringError?: string;
}

export interface ReconcileInput {
  /** the cluster with its spec defaulted */
  cluster: RkvCluster;
  observed: Observed;
  /** RFC 3339; the decision reads no clock */
  now: string;
  /** random bytes for a cluster secret, used only when one must be generated */
  freshSecret: string;
  /** the last action failure the driver saw for this cluster, shown in status until a reconcile succeeds */
  lastError?: string;
}

export type AdminCall =
  | { op: 'join'; seed: string }
  | { op: 'leave'; node: string }
  | { op: 'plan' }
  | { op: 'commit' }
  | { op: 'resize'; size: number }
  | { op: 'transferLimit'; limit: number };

/** A Kubernetes object to server-side apply (or create), typed loosely: the builders give it its real type. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
}

export type Action =
  | { kind: 'apply'; object: KubeObject }
  | { kind: 'createIfMissing'; object: KubeObject }
  | { kind: 'scale'; replicas: number }
  | { kind: 'deletePVC'; name: string }
  /** an owned object the spec no longer asks for */
  | { kind: 'delete'; objectKind: string; name: string }
  | { kind: 'expandPVC'; name: string; size: string }
  | { kind: 'addFinalizer' }
  | { kind: 'removeFinalizer' }
  /** an admin API call on `pod` (for join: the joining pod, given the seed pod) */
  | { kind: 'admin'; pod: string; call: AdminCall }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string };

/** cass-operator style step results; `continue` only lives between steps. */
export type Result =
  | { kind: 'done' }
  | { kind: 'requeue'; afterMs: number; reason: string }
  | { kind: 'error'; terminal: boolean; message: string };

export type StepResult = Result | { kind: 'continue' };

export interface Decision {
  status: RkvClusterStatus;
  actions: Action[];
  result: Result;
  /** the step that ended the pass (for metrics and logs) */
  step: string;
}

export const done = (): Result => ({ kind: 'done' });
export const requeue = (afterMs: number, reason: string): Result => ({ kind: 'requeue', afterMs, reason });
export const fail = (message: string, terminal = false): Result => ({ kind: 'error', terminal, message });
export const next = (): StepResult => ({ kind: 'continue' });
