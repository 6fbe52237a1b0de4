import type { Pod } from 'kubernetes-types/core/v1.js';
import type { RkvCluster } from '../crd/spec.js';
import { FINALIZER, names, refOf } from '../reconcile/names.js';
import type { Action } from '../reconcile/types.js';
import type { EventRecorder } from './events.js';
import type { Informer } from './informer.js';
import type { Kube } from './kube.js';
import type { OperatorMetrics } from './metrics.js';
import { AdminCallError, type NodeAdmin, type PodResolver } from './node_admin.js';
import { R, resourceOfKind } from './resources.js';

/**
 * Performs a decision's actions in order and stops at the first failure
 * (the next pass re-derives what is left from fresh observations; every
 * action is safe to repeat). `resourceVersion` is the RkvCluster's latest,
 * so finalizer edits cannot overwrite a concurrent change.
 */
export interface ExecuteDeps {
  kube: Kube;
  admin: NodeAdmin;
  resolve: PodResolver;
  pods: Informer<Pod>;
  events: EventRecorder;
  metrics: OperatorMetrics;
}

export class ActionError extends Error {
  constructor(
    readonly action: Action,
    cause: unknown,
  ) {
    super(`${describe(action)} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ActionError';
  }
}

export function describe(a: Action): string {
  switch (a.kind) {
    case 'apply':
    case 'createIfMissing':
      return `${a.kind} ${a.object.kind}/${a.object.metadata?.name}`;
    case 'admin':
      return `admin ${a.call.op} on ${a.pod}`;
    case 'event':
      return `event ${a.reason}`;
    case 'scale':
      return `scale to ${a.replicas}`;
    case 'deletePVC':
    case 'expandPVC':
      return `${a.kind} ${a.name}`;
    case 'delete':
      return `delete ${a.objectKind}/${a.name}`;
    default:
      return a.kind;
  }
}

export async function execute(d: ExecuteDeps, c: RkvCluster, actions: readonly Action[], resourceVersion: string | undefined): Promise<void> {
  const ref = refOf(c);
  const ns = ref.namespace;
  let finalizers = c.metadata.finalizers ?? [];
  const endpoint = (pod: string) => {
    const p = d.pods.get(pod, ns);
    const ep = p ? d.resolve(c, p) : undefined;
    if (!ep) throw new AdminCallError(`pod ${pod} has no address yet`);
    return ep;
  };
  for (const a of actions) {
    const timer = d.metrics.actionSeconds.startTimer({ action: a.kind === 'admin' ? `admin_${a.call.op}` : a.kind });
    try {
      switch (a.kind) {
        case 'apply':
          await d.kube.apply(a.object);
          break;
        case 'createIfMissing':
          await d.kube.createIfMissing(a.object);
          break;
        case 'scale':
          await d.kube.mergePatch(R.statefulset, ns, names.statefulSet(ref), { spec: { replicas: a.replicas } });
          break;
        case 'deletePVC':
          await d.kube.delete(R.pvc, ns, a.name);
          break;
        case 'delete':
          await d.kube.delete(resourceOfKind(a.objectKind), ns, a.name);
          break;
        case 'expandPVC':
          await d.kube.mergePatch(R.pvc, ns, a.name, { spec: { resources: { requests: { storage: a.size } } } });
          break;
        case 'addFinalizer':
        case 'removeFinalizer': {
          finalizers = a.kind === 'addFinalizer' ? [...finalizers.filter((f) => f !== FINALIZER), FINALIZER] : finalizers.filter((f) => f !== FINALIZER);
          const updated = await d.kube.mergePatch<RkvCluster>(R.rkvcluster, ns, ref.name, { metadata: { finalizers, resourceVersion } });
          resourceVersion = updated.metadata.resourceVersion;
          break;
        }
        case 'admin':
          await d.admin.run(endpoint(a.pod), a.call, a.call.op === 'join' ? endpoint(a.call.seed) : undefined);
          break;
        case 'event':
          await d.events.record(c, a.type, a.reason, a.message);
          break;
      }
    } catch (e) {
      throw new ActionError(a, e);
    } finally {
      timer();
    }
  }
}
