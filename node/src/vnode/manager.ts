import type { Backend } from '../backend/backend.js';
import { log2RingSize } from '../ring/chash.js';
import { vnodeName, type NodeIdentity } from '../node_identity.js';
import { Vnode } from './vnode.js';

/**
 * Starts and finds the vnodes of this node. A vnode is named by its ring size
 * and partition: while a resize runs, the vnodes of the old and the new ring
 * live side by side in the one backend (the ring size is part of the key
 * prefix). Every vnode is created on demand: a primary for partitions the node
 * owns, a fallback, handoff or resize target for the others.
 */
export class VnodeManager {
  private readonly vnodes = new Map<number, Vnode>();

  constructor(
    private readonly backend: Backend,
    /** the current ring size (changes when a resize completes) */
    private readonly currentSize: () => number,
    /** names the vnodes' DVV actors (where each one's generation and counter start) */
    private readonly identity: Pick<NodeIdentity, 'epoch' | 'generations' | 'counters'>,
  ) {}

  get ringSize(): number {
    return this.currentSize();
  }

  vnode(partition: number, ringSize: number = this.currentSize()): Vnode {
    const log = log2RingSize(ringSize);
    const id = log * 65536 + partition;
    let v = this.vnodes.get(id);
    if (!v) {
      // the actor names the ring size too: partition 5 of a 64 ring and of a 128 ring are different replicas
      const name = vnodeName(log, partition);
      const prefix = `${this.identity.epoch}.${name}`;
      v = new Vnode(partition, log, this.backend, {
        generation: this.identity.generations[name] ?? 0,
        issued: this.identity.counters[name] ?? 0,
        actorOf: (g) => (g === 0 ? prefix : `${prefix}.${g}`),
      });
      this.vnodes.set(id, v);
    }
    return v;
  }

  /** Whether this node holds any data in vnodes of a ring of `ringSize` partitions. */
  async holdsRingSize(ringSize: number): Promise<boolean> {
    const log = log2RingSize(ringSize);
    return !(await this.backend.isEmpty({ gte: Buffer.from([log]), lt: Buffer.from([log + 1]) }));
  }

  /** Notes where every vnode's actor stands (generation, last dot counter) in the identity, for markCleanShutdown. */
  recordActors(): void {
    for (const [id, v] of this.vnodes) {
      const name = vnodeName(Math.floor(id / 65536), id % 65536);
      const { generation, issued } = v.actorState;
      if (generation > 0) this.identity.generations[name] = generation;
      if (issued > 0) this.identity.counters[name] = issued;
    }
  }

  get running(): number {
    return this.vnodes.size;
  }
}
