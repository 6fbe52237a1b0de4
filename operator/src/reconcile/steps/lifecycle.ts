import { buildConfigMap, buildSecret, secretSource } from '../build/config.js';
import { buildClientService, buildHeadlessService, buildPodDisruptionBudget } from '../build/services.js';
import { buildPrometheusRule, buildServiceMonitor, MONITORING_API } from '../build/monitoring.js';
import { buildStatefulSet, statefulSetHash } from '../build/statefulset.js';
import { admin, event, stsReplicas, type Ctx } from '../context.js';
import { FINALIZER, SPEC_HASH, names, refOf } from '../names.js';
import { compareQuantity } from '../quantity.js';
import { targetRingSize } from '../ring_size.js';
import { done, next, requeue, type KubeObject, type StepResult } from '../types.js';

/**
 * Steps around the membership work: deletion, the finalizer, the owned
 * objects, and the small steady-state corrections.
 */

/** Orderly deletion: stop every node cleanly (RocksDB flushed) before the finalizer goes and the objects are collected. */
export function deletion(ctx: Ctx): StepResult {
  if (!ctx.cluster.metadata.deletionTimestamp) return next();
  if (!ctx.cluster.metadata.finalizers?.includes(FINALIZER)) return done();
  const replicas = stsReplicas(ctx);
  if (replicas !== undefined && replicas > 0) {
    ctx.actions.push({ kind: 'scale', replicas: 0 });
    event(ctx, 'ShuttingDown', `stopping ${replicas} node(s) before deletion; volumes are kept`);
    return requeue(1000, 'nodes stopping');
  }
  const left = ctx.input.observed.pods.length;
  if (left > 0) {
    ctx.waiting = `waiting for ${left} pod(s) to stop`;
    return requeue(1000, ctx.waiting);
  }
  ctx.actions.push({ kind: 'removeFinalizer' });
  return done();
}

export function finalizer(ctx: Ctx): StepResult {
  if (ctx.cluster.metadata.finalizers?.includes(FINALIZER)) return next();
  ctx.actions.push({ kind: 'addFinalizer' });
  return next();
}

function key(o: KubeObject): string {
  return `${o.kind}/${o.metadata?.name ?? ''}`;
}

/** Applies an object when it is missing or its hash annotation differs from the built one. */
function ensure(ctx: Ctx, o: KubeObject): boolean {
  const k = key(o);
  const have = ctx.input.observed.hashes;
  if (Object.hasOwn(have, k) && have[k] === o.metadata?.annotations?.[SPEC_HASH]) return false;
  ctx.actions.push({ kind: 'apply', object: o });
  return true;
}

/**
 * `--ring-size` of every node: the size the cluster was created with, for
 * good. rkv checks a data dir and a joiner against the creation size, while
 * the current size (after resizes) lives in the ring itself. So the
 * ConfigMap keeps the first value; only a brand-new cluster gets the size
 * autoResize would pick.
 */
function createdRingSize(ctx: Ctx): number {
  return ctx.view?.ring.createdRingSize ?? ctx.input.observed.configRingSize ?? targetRingSize(ctx.spec, ctx.spec.replicas);
}

/**
 * ConfigMap, Secret, Services, PDB and StatefulSet. The StatefulSet keeps its
 * replicas: only the membership steps change those.
 */
export function ownedObjects(ctx: Ctx): StepResult {
  const c = ctx.cluster;
  const obs = ctx.input.observed;
  const ringSize = createdRingSize(ctx);
  const secret = secretSource(c);
  if (!obs.secretExists) {
    if (!secret.generated) {
      ctx.degraded.push(`secret ${secret.name} (clusterSecretRef) not found`);
      return requeue(10_000, `secret ${secret.name} missing`);
    }
    ctx.actions.push({ kind: 'createIfMissing', object: buildSecret(c, ctx.input.freshSecret) });
  }
  ensure(ctx, buildConfigMap(c, ringSize));
  ensure(ctx, buildHeadlessService(c));
  ensure(ctx, buildClientService(c));
  ensure(ctx, buildPodDisruptionBudget(c));
  monitoring(ctx);
  const sts = obs.statefulSet;
  if (!sts) {
    ctx.actions.push({ kind: 'apply', object: buildStatefulSet(c, { replicas: ctx.spec.replicas, claimSize: ctx.spec.storage.size }) });
    event(ctx, 'Created', `created StatefulSet with ${ctx.spec.replicas} node(s), ring size ${ringSize}`);
    ctx.waiting = 'waiting for pods';
    return requeue(1000, 'StatefulSet created');
  }
  if (sts.hash !== statefulSetHash(c)) {
    ctx.actions.push({ kind: 'apply', object: buildStatefulSet(c, { replicas: sts.replicas, claimSize: sts.claimSize ?? ctx.spec.storage.size }) });
    event(ctx, 'Updated', 'StatefulSet template updated from the spec; pods roll one at a time');
  }
  return next();
}

/**
 * spec.monitoring: the ServiceMonitor and PrometheusRule asked for, removed
 * again when no longer asked for; without prometheus-operator's API the
 * cluster is Degraded (it runs, unmonitored) until the CRDs are installed.
 */
function monitoring(ctx: Ctx): void {
  const c = ctx.cluster;
  const ref = refOf(c);
  const want = ctx.spec.monitoring;
  const wanted: { on: boolean; kind: string; name: string; build: () => KubeObject }[] = [
    { on: want.serviceMonitor, kind: 'ServiceMonitor', name: names.serviceMonitor(ref), build: () => buildServiceMonitor(c) },
    { on: want.prometheusRule, kind: 'PrometheusRule', name: names.prometheusRule(ref), build: () => buildPrometheusRule(c) },
  ];
  const obs = ctx.input.observed;
  if (!obs.monitoringApi || obs.monitoringError) {
    const asked = wanted.filter((w) => w.on).map((w) => w.kind);
    if (!asked.length) return;
    ctx.degraded.push(obs.monitoringError
      ? `spec.monitoring: cannot read the ${asked.join(' and the ')}: ${obs.monitoringError}`
      : `spec.monitoring asks for a ${asked.join(' and a ')}, but the API server does not serve ${MONITORING_API} (install prometheus-operator's CRDs)`);
    return;
  }
  for (const w of wanted) {
    if (w.on) ensure(ctx, w.build());
    else if (Object.hasOwn(ctx.input.observed.hashes, `${w.kind}/${w.name}`)) ctx.actions.push({ kind: 'delete', objectKind: w.kind, name: w.name });
  }
}

/** Volume growth (PVCs of current nodes) and the transfer limit, once nothing else is going on. */
export function steady(ctx: Ctx): StepResult {
  const replicas = stsReplicas(ctx) ?? 0;
  for (const pvc of ctx.input.observed.pvcs) {
    if (pvc.ordinal >= replicas || pvc.terminating || !pvc.storage) continue;
    if ((compareQuantity(pvc.storage, ctx.spec.storage.size) ?? 0) < 0) {
      ctx.actions.push({ kind: 'expandPVC', name: pvc.name, size: ctx.spec.storage.size });
      event(ctx, 'VolumeExpanded', `${pvc.name}: ${pvc.storage} -> ${ctx.spec.storage.size}`);
    }
  }
  for (const p of ctx.input.observed.pods) {
    const limit = p.node?.transferLimit;
    if (limit !== undefined && limit !== ctx.spec.transferLimit && ctx.view?.memberPods.has(p.name)) {
      admin(ctx, p.name, { op: 'transferLimit', limit: ctx.spec.transferLimit });
    }
  }
  return done();
}
