import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { withDefaults, type RkvCluster, type RkvClusterStatus } from '../crd/spec.js';
import { canonicalJson } from '../reconcile/hash.js';
import { MANAGER } from '../reconcile/names.js';
import { reconcile } from '../reconcile/reconcile.js';
import type { Result } from '../reconcile/types.js';
import type { EventRecorder } from './events.js';
import { ActionError, describe, execute } from './execute.js';
import { Informer } from './informer.js';
import type { Kube } from './kube.js';
import type { OperatorMetrics } from './metrics.js';
import type { NodeAdmin, PodResolver } from './node_admin.js';
import { observe, type Caches } from './observe.js';
import { isConflict } from './rest.js';
import { R, type Resource } from './resources.js';

/**
 * The shell around the pure decision: informers feed a work queue of
 * clusters; one worker reconciles one cluster at a time: observe -> decide ->
 * write status (the progress record, guarded by resourceVersion) -> act ->
 * requeue as the decision says. A failed action is retried with backoff and
 * shown in status (Degraded) and as a Warning event.
 */
export interface ControllerOptions {
  kc: KubeConfig;
  kube: Kube;
  admin: NodeAdmin;
  resolve: PodResolver;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  /** watch one namespace (default: all) */
  namespace?: string;
  resyncMs?: number;
}

const OWNED = `app.kubernetes.io/managed-by=${MANAGER}`;
type Meta = { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } };

export class Controller {
  private clusters!: Informer<RkvCluster>;
  private caches!: Caches;
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastError = new Map<string, string>();
  private readonly backoff = new Map<string, number>();
  private pumping = false;
  private stopped = false;
  private resync: NodeJS.Timeout | undefined;

  constructor(private readonly o: ControllerOptions) {}

  async start(): Promise<void> {
    const o = this.o;
    const inf = <T extends Meta>(r: Resource, owned: boolean) =>
      new Informer<T>(o.kc, o.kube, r, {
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(owned ? { labelSelector: OWNED } : {}),
        metrics: o.metrics,
        log: o.log,
        onChange: (obj) => {
          const ns = obj.metadata?.namespace ?? '';
          const name = owned ? obj.metadata?.labels?.['app.kubernetes.io/instance'] : obj.metadata?.name;
          if (name) this.enqueue(`${ns}/${name}`);
        },
      });
    this.clusters = inf<RkvCluster>(R.rkvcluster, false);
    this.caches = {
      statefulSets: inf(R.statefulset, true),
      pods: inf(R.pod, true),
      pvcs: inf(R.pvc, true),
      services: inf(R.service, true),
      configMaps: inf(R.configmap, true),
      pdbs: inf(R.pdb, true),
    };
    // owned caches first, so the first passes see the objects that already exist
    await Promise.all(Object.values(this.caches).map((i) => i.start()));
    await this.clusters.start();
    this.resync = setInterval(() => {
      for (const c of this.clusters.list()) this.enqueue(`${c.metadata.namespace ?? ''}/${c.metadata.name ?? ''}`);
    }, o.resyncMs ?? 60_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.all([this.clusters, ...Object.values(this.caches)].map((i) => i.stop()));
  }

  enqueue(key: string, delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      clearTimeout(this.timers.get(key));
      this.timers.set(key, setTimeout(() => {
        this.timers.delete(key);
        this.enqueue(key);
      }, delayMs));
      return;
    }
    if (!this.queued.has(key)) {
      this.queued.add(key);
      this.ready.push(key);
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.ready.length && !this.stopped) {
        const key = this.ready.shift()!;
        this.queued.delete(key);
        await this.reconcileKey(key);
      }
    } finally {
      this.pumping = false;
    }
  }

  private schedule(key: string, r: Result): void {
    if (r.kind === 'requeue') this.enqueue(key, r.afterMs);
    // done: the next change or resync brings it back; terminal errors wait for a spec change
  }

  private async reconcileKey(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const cr = this.clusters.get(name, ns || undefined);
    if (!cr) {
      this.lastError.delete(key);
      this.backoff.delete(key);
      return;
    }
    const o = this.o;
    const cluster: RkvCluster = { ...cr, spec: withDefaults(cr.spec) };
    const log = o.log.child({ cluster: key });
    let stage = 'observe';
    try {
      const observed = await observe({ caches: this.caches, kube: o.kube, admin: o.admin, resolve: o.resolve }, cluster);
      const err = this.lastError.get(key);
      const timer = o.metrics.reconcileSeconds.startTimer();
      const d = reconcile({ cluster, observed, now: new Date().toISOString(), freshSecret: randomBytes(32).toString('base64url'), ...(err ? { lastError: err } : {}) });
      timer({ step: d.step });
      log.debug({ step: d.step, result: d.result, actions: d.actions.map(describe) }, 'decision');
      stage = 'status';
      let rv = cr.metadata.resourceVersion;
      if (canonicalJson(cr.status ?? {}) !== canonicalJson(d.status) && !cr.metadata.deletionTimestamp) {
        rv = await this.writeStatus(cluster, d.status);
      }
      stage = 'actions';
      await execute({ kube: o.kube, admin: o.admin, resolve: o.resolve, pods: this.caches.pods, events: o.events, metrics: o.metrics }, cluster, d.actions, rv);
      if (cr.status?.operation && !d.status.operation) {
        o.metrics.operationSeconds.observe({ type: cr.status.operation.type }, (Date.now() - Date.parse(cr.status.operation.startedAt)) / 1000);
      }
      for (const a of d.actions) if (a.kind !== 'event') log.info({ action: describe(a) }, 'done');
      this.lastError.delete(key);
      this.backoff.delete(key);
      o.metrics.reconciles.inc({ result: d.result.kind });
      if (d.result.kind === 'error') log.warn({ error: d.result.message, terminal: d.result.terminal }, 'reconcile error');
      this.schedule(key, d.result.kind === 'error' && !d.result.terminal ? { kind: 'requeue', afterMs: 5000, reason: d.result.message } : d.result);
    } catch (e) {
      if (isConflict(e) && stage === 'status') {
        // the cache was behind our own last write (or a user edit): decide again on the newer object
        o.metrics.reconciles.inc({ result: 'conflict' });
        this.enqueue(key, 200);
        return;
      }
      const message = e instanceof Error ? e.message : String(e);
      o.metrics.reconciles.inc({ result: 'error' });
      o.metrics.errors.inc({ stage });
      const delay = Math.min((this.backoff.get(key) ?? 500) * 2, 60_000);
      this.backoff.set(key, delay);
      log.warn({ stage, err: message, retryInMs: delay }, 'reconcile failed');
      if (this.lastError.get(key) !== message && e instanceof ActionError) {
        await o.events.record(cluster, 'Warning', 'ActionFailed', message).catch(() => undefined);
      }
      this.lastError.set(key, message);
      this.enqueue(key, delay);
    }
  }

  /** Merge-patches status as a whole (removed fields as null), conditional on the resourceVersion the decision read. */
  private async writeStatus(c: RkvCluster, next: RkvClusterStatus): Promise<string | undefined> {
    const status: Record<string, unknown> = { ...next };
    for (const k of Object.keys(c.status ?? {})) if (!(k in status)) status[k] = null;
    const updated = await this.o.kube.mergePatch<RkvCluster>(R.rkvcluster, c.metadata.namespace ?? 'default', c.metadata.name ?? '', {
      metadata: { resourceVersion: c.metadata.resourceVersion },
      status,
    }, 'status');
    return updated.metadata.resourceVersion;
  }
}
