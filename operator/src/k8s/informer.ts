import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { OperatorMetrics } from './metrics.js';
import type { Kube } from './kube.js';
import { pathOf, type Resource } from './resources.js';

/**
 * A client-node ListWatch cache (list, then watch from its resourceVersion;
 * a 410 Gone makes it relist) that does not stay dead: in client-node 1.x an
 * informer stops for good on any other error, so it is restarted here with
 * exponential backoff, and every restart is counted.
 */
export type ChangeHandler<T> = (obj: T, verb: 'add' | 'update' | 'delete') => void;

/** T is the wire shape of the objects (kubernetes-types); client-node's own model types use Dates for times. */
export class Informer<T> {
  private readonly lw: ListWatch<KubernetesObject>;
  private backoffMs = 500;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    kc: KubeConfig,
    kube: Kube,
    private readonly resource: Resource,
    private readonly o: { namespace?: string; labelSelector?: string; metrics: OperatorMetrics; log: Logger; onChange: ChangeHandler<T> },
  ) {
    const path = pathOf(resource, o.namespace);
    this.lw = new ListWatch<KubernetesObject>(path, new Watch(kc), () => kube.list<KubernetesObject>(resource, o.namespace, o.labelSelector), false, o.labelSelector);
    this.lw.on('add', (obj) => o.onChange(obj as T, 'add'));
    this.lw.on('update', (obj) => o.onChange(obj as T, 'update'));
    this.lw.on('delete', (obj) => o.onChange(obj as T, 'delete'));
    this.lw.on('error', (err: unknown) => this.restart(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start();
  }

  private restart(err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    const kind = this.resource.plural;
    this.o.metrics.informerRestarts.inc({ resource: kind });
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.o.log.warn({ resource: kind, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'informer stopped; restarting');
    this.timer = setTimeout(() => {
      const before = this.failures;
      // ListWatch reports a failed relist through the error callback, not by rejecting
      this.lw.start().then(
        () => {
          if (this.failures === before) this.backoffMs = 500;
        },
        (e: unknown) => this.restart(e),
      );
    }, delay);
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace) as readonly T[];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.lw.stop();
  }
}
