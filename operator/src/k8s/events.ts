import type { Event } from 'kubernetes-types/core/v1.js';
import type { RkvCluster } from '../crd/spec.js';
import { MANAGER } from '../reconcile/names.js';
import type { Kube } from './kube.js';
import { R } from './resources.js';

/** Events on the RkvCluster for every membership step (`kubectl describe rkvcluster` shows them). */
export class EventRecorder {
  private seq = 0;

  constructor(
    private readonly kube: Kube,
    private readonly instance: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async record(c: RkvCluster, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = this.clock();
    const ns = c.metadata.namespace ?? 'default';
    const ev: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${c.metadata.name}.${now.getTime().toString(16)}${(this.seq++ % 4096).toString(16).padStart(3, '0')}`, namespace: ns },
      involvedObject: { apiVersion: c.apiVersion, kind: c.kind, name: c.metadata.name ?? '', namespace: ns, uid: c.metadata.uid ?? '' },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: MANAGER },
      reportingComponent: `rkv.io/${MANAGER}`,
      reportingInstance: this.instance.slice(0, 128),
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      count: 1,
    };
    await this.kube.create(R.event, ns, ev);
  }
}
