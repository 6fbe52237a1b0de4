import type { VnodeManager } from '../vnode/manager.js';
import type { VnodeRouter } from './router.js';

/** Routes every request to a vnode of this node (a lone node, or a target that is this node). */
export function localRouter(vnodes: VnodeManager): VnodeRouter {
  return {
    get: (t, b) => vnodes.vnode(t.partition).get(b),
    coordinatePut: (t, b, content, context, lww) => vnodes.vnode(t.partition).coordinatePut(b, content, context, lww),
    mergePut: async (t, b, obj, lww) => {
      await vnodes.vnode(t.partition).mergePut(b, obj, lww);
    },
    reap: (t, b, clock) => vnodes.vnode(t.partition).reap(b, clock),
  };
}
