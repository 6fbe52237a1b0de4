import type { Backend } from '../backend/backend.js';
import { log2RingSize } from '../ring/chash.js';
import { Vnode } from './vnode.js';

/**
 * Starts and finds the vnodes of this node. Every partition gets a vnode on
 * demand: a primary for partitions the node owns, a fallback (or a handoff
 * target) for the others, all sharing the node's one backend.
 */
export class VnodeManager {
  private readonly vnodes = new Map<number, Vnode>();
  private readonly ringLog2: number;

  constructor(
    private readonly backend: Backend,
    readonly ringSize: number,
    /** identifies this node's data incarnation in DVV actors */
    private readonly incarnation: string,
  ) {
    this.ringLog2 = log2RingSize(ringSize);
  }

  vnode(partition: number): Vnode {
    let v = this.vnodes.get(partition);
    if (!v) {
      v = new Vnode(partition, this.ringLog2, this.backend, `${this.incarnation}.${partition}`);
      this.vnodes.set(partition, v);
    }
    return v;
  }

  startAll(partitions: Iterable<number>): void {
    for (const p of partitions) this.vnode(p);
  }

  get running(): number {
    return this.vnodes.size;
  }
}
