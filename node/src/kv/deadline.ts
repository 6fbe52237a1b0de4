import { performance } from 'node:perf_hooks';
/**
 * Request deadlines for the coordinators without a timer per request. A
 * setTimeout/clearTimeout pair costs a Timeout object and a timer-list insert
 * and unlink per request; here a coordinator links itself into the list of
 * its timeout value (within one timeout value deadlines expire in insertion
 * order, so the head is always the first due) and unlinks itself in O(1) when
 * it finishes. One timer per list, set for its head, keeps the process alive
 * exactly while some deadline is armed; an emptied list is dropped when its
 * timer fires.
 */
interface DeadlineList {
  readonly ms: number;
  head: Deadline | null;
  tail: Deadline | null;
  timer: NodeJS.Timeout | null;
}

/** Lists by timeout value; a list is dropped when its timer fires and finds it empty. */
const lists = new Map<number, DeadlineList>();

export abstract class Deadline {
  private dlList: DeadlineList | null = null;
  private dlPrev: Deadline | null = null;
  private dlNext: Deadline | null = null;
  /** performance.now() time the deadline passes */
  private dlAt = 0;

  /** Called once when the deadline passes while it is still armed. */
  protected abstract onDeadline(): void;

  /**
   * Arms the deadline `ms` after `from` (a performance.now() time, now when
   * omitted: callers that read the clock anyway pass their reading). Re-arming
   * replaces an armed deadline.
   */
  protected armDeadline(ms: number, from = performance.now()): void {
    if (this.dlList !== null) this.disarmDeadline();
    let list = lists.get(ms);
    if (list === undefined) {
      list = { ms, head: null, tail: null, timer: null };
      lists.set(ms, list);
    }
    this.dlAt = from + ms;
    this.dlList = list;
    this.dlPrev = list.tail;
    if (list.tail !== null) list.tail.dlNext = this;
    else list.head = this;
    list.tail = this;
    // A timer is set for the head only; when it fires it re-arms for the head of that time.
    // A timer left from an earlier head fires no later than this deadline, so it is only woken up.
    if (list.timer === null) Deadline.setTimer(list);
    else if (list.head === this) list.timer.ref();
  }

  /** Unlinks an armed deadline; a no-op when it is not armed. */
  protected disarmDeadline(): void {
    const list = this.dlList;
    if (list === null) return;
    const prev = this.dlPrev;
    const next = this.dlNext;
    if (prev !== null) prev.dlNext = next;
    else list.head = next;
    if (next !== null) next.dlPrev = prev;
    else list.tail = prev;
    this.dlList = null;
    this.dlPrev = null;
    this.dlNext = null;
    // Nothing left to wait for: the timer stays (busy nodes empty and refill a list
    // all the time, and a timer is dearer than ref/unref) but no longer keeps the process alive.
    if (list.head === null && list.timer !== null) list.timer.unref();
  }

  private static setTimer(list: DeadlineList): void {
    const head = list.head!;
    list.timer = setTimeout(() => Deadline.expire(list), Math.max(1, Math.ceil(head.dlAt - performance.now())));
  }

  private static expire(list: DeadlineList): void {
    list.timer = null;
    const now = performance.now();
    // A handler may finish other coordinators (unlinking them), so the head is re-read each time.
    while (list.head !== null && list.head.dlAt <= now) {
      const d = list.head;
      d.disarmDeadline();
      d.onDeadline();
    }
    if (list.head !== null) {
      if (list.timer === null) Deadline.setTimer(list);
    } else if (list.timer === null && lists.get(list.ms) === list) {
      lists.delete(list.ms);
    }
  }
}
