import type { Affinity, ResourceRequirements, Toleration, TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { applyDefaults, arr, bool, int, num, obj, oneOf, opaque, str, type JSONSchemaProps, type TypeOf } from './schema_dsl.js';

/**
 * The RkvCluster resource: its OpenAPI schema (with CEL rules) and its
 * TypeScript types, both from the declarations below (SPEC section 6).
 */
export const GROUP = 'rkv.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'RkvCluster';
export const PLURAL = 'rkvclusters';
export const DEFAULT_IMAGE = 'rkv:0.1.0';

export const RING_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024] as const;
const QUANTITY = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$';

const ring = obj({
  size: int({
    description: 'Partitions in the ring: a power of two between 8 and 1024. Changing it stages a ring resize.',
    default: 64,
    rules: [{ rule: `self in [${RING_SIZES.join(', ')}]`, message: 'ring.size must be a power of two between 8 and 1024' }],
  }),
  autoResize: bool({
    description: 'Resize the ring when replicas change so every node owns between 8 and 64 partitions (ring.size is the starting point).',
    default: false,
  }),
}, { description: 'The consistent-hashing ring.', default: {} });

const quorum = obj({
  r: int({ description: 'Read quorum of the default bucket (default: a majority of nVal).', minimum: 1 }),
  w: int({ description: 'Write quorum of the default bucket (default: a majority of nVal).', minimum: 1 }),
}, { description: 'Default bucket quorums.' });

const storage = obj({
  size: str({ description: 'Volume size per node, e.g. 10Gi. It can grow (PVCs are expanded) but never shrink.', default: '10Gi', pattern: QUANTITY, maxLength: 32 }),
  storageClassName: str({ description: 'StorageClass of the data volumes (cluster default when empty). Fixed at creation.', maxLength: 253 }),
  retainOnScaleDown: bool({ description: 'Keep the volume of a node that left on scale-down (true) or delete it once its leave completed (false).', default: true }),
}, {
  description: 'Persistent storage of each node.',
  default: {},
  rules: [
    { rule: 'quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0', message: 'storage.size cannot shrink: volumes can only be expanded', fieldPath: '.size' },
    { rule: 'has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)', message: 'storage.storageClassName cannot be changed', fieldPath: '.storageClassName' },
  ],
});

const port = (description: string, d: number) => int({ description, default: d, minimum: 1, maximum: 65535 });
const ports = obj({
  resp: port('Redis-protocol port.', 6379),
  http: port('HTTP API, admin API and /metrics port.', 8098),
  cluster: port('Node-to-node transport port.', 8099),
}, { description: 'Listener ports of every node.', default: {} });

const secretRef = obj({
  name: str({ description: 'Secret in the cluster namespace.', minLength: 1 }),
  key: str({ description: 'Key holding the shared secret.', default: 'secret' }),
}, { description: 'Use this Secret as the cluster secret instead of generating one.', required: ['name'] });

const monitoring = obj({
  serviceMonitor: bool({ description: 'Create a prometheus-operator ServiceMonitor scraping this cluster\'s nodes (needs its CRDs; the cluster is Degraded without them).', default: false }),
  prometheusRule: bool({ description: 'Create a prometheus-operator PrometheusRule with the rkv alerts for this cluster.', default: false }),
}, { description: 'Prometheus integration, per cluster (the Helm chart\'s monitoring values cover every cluster instead: use one or the other).', default: {} });

export const specField = obj({
  replicas: int({ description: 'Storage nodes. Scaling down makes the highest ordinals leave first.', default: 3, minimum: 1, maximum: 1000 }),
  image: str({ description: 'rkv node image.', default: DEFAULT_IMAGE }),
  imagePullPolicy: oneOf(['Always', 'IfNotPresent', 'Never'] as const, { description: 'Image pull policy of the node container.' }),
  ring,
  nVal: int({ description: 'Replicas of every key (default bucket n_val).', default: 3, minimum: 1, maximum: 16 }),
  quorum,
  backend: oneOf(['rocksdb', 'memory'] as const, {
    description: 'Storage backend; fixed at creation.',
    default: 'rocksdb',
    rules: [{ rule: 'self == oldSelf', message: 'backend cannot be changed on an existing cluster' }],
  }),
  storage,
  resources: opaque<ResourceRequirements>('object', { description: 'Compute resources of the node container.' }),
  affinity: opaque<Affinity>('object', { description: 'Pod affinity rules.' }),
  tolerations: opaque<Toleration[]>('array', { description: 'Pod tolerations.' }),
  topologySpreadConstraints: opaque<TopologySpreadConstraint[]>('array', { description: 'Pod topology spread constraints.' }),
  transferLimit: int({ description: 'Concurrent handoffs per node.', default: 2, minimum: 0, maximum: 64 }),
  clusterSecretRef: secretRef,
  ports,
  logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error'] as const, { description: 'Node log level.', default: 'info' }),
  monitoring,
}, {
  description: 'Desired state of an rkv cluster.',
  default: {},
  rules: [
    { rule: 'self.replicas >= self.nVal', message: 'replicas must be at least nVal: every key is stored on nVal distinct nodes', fieldPath: '.replicas' },
    { rule: '!has(self.quorum) || !has(self.quorum.r) || self.quorum.r <= self.nVal', message: 'quorum.r cannot exceed nVal', fieldPath: '.quorum.r' },
    { rule: '!has(self.quorum) || !has(self.quorum.w) || self.quorum.w <= self.nVal', message: 'quorum.w cannot exceed nVal', fieldPath: '.quorum.w' },
  ],
});

const condition = obj({
  type: oneOf(['Available', 'Progressing', 'Degraded', 'Resizing'] as const, { description: 'Condition type.' }),
  status: oneOf(['True', 'False', 'Unknown'] as const, { description: 'Condition status.' }),
  reason: str({ description: 'CamelCase reason.' }),
  message: str({ description: 'Human-readable detail.' }),
  lastTransitionTime: str({ description: 'When status last changed (RFC 3339).' }),
  observedGeneration: int({ description: 'Generation the condition was computed for.' }),
}, { description: 'A status condition.', required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'] });

const member = obj({
  name: str({ description: 'Node name in the ring.' }),
  status: str({ description: 'joining, valid, leaving, exiting or down.' }),
  ringPct: num({ description: 'Share of the ring owned now, in percent.' }),
}, { description: 'A ring member.', required: ['name', 'status', 'ringPct'] });

/** The membership step in progress, recorded before it is acted on, so a restarted operator resumes it. */
const operation = obj({
  type: oneOf(['Join', 'Leave', 'Resize'] as const, { description: 'What is being done.' }),
  nodes: arr(str({ description: 'Pod name.' }), { description: 'Pods joining or leaving (held steady until the operation ends).' }),
  targetReplicas: int({ description: 'StatefulSet replicas once the operation is over.' }),
  ringSize: int({ description: 'Target ring size of a resize.' }),
  step: str({ description: 'Current step, e.g. Staging, Committed, Shrinking.' }),
  startedAt: str({ description: 'When the operation started (RFC 3339).' }),
}, { description: 'Membership operation in progress.', required: ['type', 'nodes', 'targetReplicas', 'step', 'startedAt'] });

export const statusField = obj({
  phase: oneOf(['Pending', 'Creating', 'Running', 'Scaling', 'Resizing', 'Degraded', 'Terminating'] as const, { description: 'Summary of the cluster state.' }),
  observedGeneration: int({ description: 'The spec generation this status reflects.' }),
  replicas: int({ description: 'Ring members.' }),
  readyReplicas: int({ description: 'Ready pods.' }),
  members: arr(member, { description: 'Ring members as the nodes report them.' }),
  ring: obj({
    size: int({ description: 'Current partitions.' }),
    pendingTransfers: int({ description: 'Ownership handoffs not finished yet.' }),
  }, { description: 'Ring state.', required: ['size', 'pendingTransfers'] }),
  conditions: arr(condition, { description: 'Available, Progressing, Degraded, Resizing.', listType: 'map', mapKeys: ['type'] }),
  operation,
  message: str({ description: 'Last error or wait reason, for humans.' }),
}, { description: 'Observed state of an rkv cluster.' });

export type RkvClusterSpec = TypeOf<typeof specField>;
export type RkvClusterStatus = TypeOf<typeof statusField>;
export type Condition = TypeOf<typeof condition>;
export type ConditionType = Condition['type'];
export type Operation = TypeOf<typeof operation>;
export type MemberStatusEntry = TypeOf<typeof member>;
export type Phase = NonNullable<RkvClusterStatus['phase']>;

export interface RkvCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: RkvClusterSpec;
  status?: RkvClusterStatus;
}

export const specSchema: JSONSchemaProps = specField.schema;
export const statusSchema: JSONSchemaProps = statusField.schema;

/** The spec with every schema default filled in (objects stored before a default was added lack it). */
export function withDefaults(spec: unknown): RkvClusterSpec {
  return applyDefaults(specSchema, spec ?? {}) as RkvClusterSpec;
}
