import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Logger } from 'pino';
import type { Kube } from './kube.js';
import { isConflict, isNotFound } from './rest.js';
import { R } from './resources.js';

/**
 * Leader election on a coordination.k8s.io Lease, as client-go's
 * leaderelection: the holder renews every `retryMs`; another replica takes
 * the lease only after it went unrenewed for `leaseSeconds`. Writes carry
 * the resourceVersion they read, so of two contenders exactly one wins (the
 * other gets 409 Conflict). A leader that cannot renew in time stops leading.
 */
export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds?: number;
  retryMs?: number;
  log: Logger;
  clock?: () => Date;
}

/** MicroTime: RFC 3339 with microseconds. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly leaseSeconds: number;
  private readonly retryMs: number;
  private readonly clock: () => Date;

  constructor(
    private readonly kube: Kube,
    private readonly o: LeaderOptions,
  ) {
    this.leaseSeconds = o.leaseSeconds ?? 15;
    this.retryMs = o.retryMs ?? 2000;
    this.clock = o.clock ?? (() => new Date());
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica leads; `onLost` runs if it later loses the lease. */
  run(onLost: () => void): Promise<void> {
    return new Promise((resolve) => {
      const tick = async () => {
        const was = this.leading;
        try {
          this.leading = await this.tryAcquireOrRenew();
        } catch (e) {
          this.o.log.warn({ err: (e as Error).message }, 'leader lease check failed');
          // keep leading only while the lease we hold cannot have expired
          this.leading = this.leading && this.clock().getTime() - this.lastRenew < this.leaseSeconds * 1000 * 0.8;
        }
        if (!was && this.leading) {
          this.o.log.info({ identity: this.o.identity, lease: this.o.name }, 'became leader');
          resolve();
        }
        if (was && !this.leading) {
          this.o.log.error({ identity: this.o.identity }, 'lost the leader lease');
          onLost();
          return;
        }
        this.timer = setTimeout(() => void tick(), this.retryMs);
      };
      void tick();
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock();
    const lease = await this.kube.get<Lease>(R.lease, this.o.namespace, this.o.name);
    const mine = { holderIdentity: this.o.identity, leaseDurationSeconds: this.leaseSeconds, renewTime: microTime(now) };
    if (!lease) {
      try {
        await this.kube.create(R.lease, this.o.namespace, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
        } satisfies Lease);
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
      this.lastRenew = now.getTime();
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = !holder || renewed + (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000 < now.getTime();
    if (holder !== this.o.identity && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: holder === this.o.identity
        ? { ...spec, ...mine }
        : { ...spec, ...mine, acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 },
    };
    try {
      await this.kube.replace(R.lease, this.o.namespace, this.o.name, next);
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
    this.lastRenew = now.getTime();
    return true;
  }

  /** Gives the lease up on shutdown so a standby takes over at once. */
  async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const lease = await this.kube.get<Lease>(R.lease, this.o.namespace, this.o.name);
    if (lease?.spec?.holderIdentity !== this.o.identity) return;
    await this.kube.replace(R.lease, this.o.namespace, this.o.name, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } }).catch(() => undefined);
  }
}
