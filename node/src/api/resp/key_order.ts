/**
 * Per-connection ordering of pipelined commands. Redis runs a connection's
 * commands one after the other; we run them concurrently (pipelining would be
 * pointless otherwise) but keep redis' visible semantics: a command waits for
 * earlier commands of the same connection that touch one of its keys, unless
 * both only read. Keyspace-wide commands (DBSIZE, KEYS, SCAN) wait for every
 * earlier command and hold back later ones. Waits only ever point backwards
 * in request order, so there is no deadlock.
 */

interface Ticket {
  blocked: number;
  resolve: (() => void) | null;
}

/** A readers-writer queue per key: running readers are only counted, so release is O(1). */
interface Queue {
  readers: number;
  writer: boolean;
  waiting: Array<{ ticket: Ticket; write: boolean }>;
}

/** Held by a running command; pass it to release() when the command is done. */
export interface Hold {
  /** the keys (null: the whole keyspace) */
  readonly keys: Buffer[] | null;
  readonly write: boolean;
  /** the distinct keys as queue names, set once the hold is registered in the queues */
  names: string[] | null;
}

/** latin1 maps each byte to one UTF-16 unit: a lossless Map key. */
const keyName = (k: Buffer): string => k.toString('latin1');

export class KeyOrder {
  private readonly queues = new Map<string, Queue>();
  /** Key commands share the keyspace queue as readers; keyspace commands take it alone. */
  private readonly keyspace: Queue = { readers: 0, writer: false, waiting: [] };
  /**
   * The one command running while nothing else runs or waits (always the case
   * for a client that does not pipeline). It cannot conflict with anything, so
   * it stays out of the queues until a second command arrives.
   */
  private solo: Hold | null = null;

  /** Number of keys (and the keyspace) with commands running or waiting (for tests). */
  get size(): number {
    const ks = this.keyspace;
    if (this.solo !== null) return this.solo.keys === null ? 1 : new Set(this.solo.keys.map(keyName)).size + 1;
    return this.queues.size + (ks.readers > 0 || ks.writer || ks.waiting.length > 0 ? 1 : 0);
  }

  /**
   * Registers a command touching `keys` (or the whole keyspace when keys is
   * null). Returns the hold and, when the command has to wait, a promise that
   * resolves once it may run. Call release() only after it ran.
   */
  acquire(keys: Buffer[] | null, write: boolean): { hold: Hold; wait: Promise<void> | null } {
    const hold: Hold = { keys, write, names: null };
    if (this.solo === null && this.idle()) {
      this.solo = hold;
      return { hold, wait: null };
    }
    if (this.solo !== null) {
      // Nothing waits behind the solo command, so registering it late changes nothing.
      const solo = this.solo;
      this.solo = null;
      this.enqueue(solo, { blocked: 0, resolve: null });
    }
    const ticket: Ticket = { blocked: 0, resolve: null };
    this.enqueue(hold, ticket);
    if (ticket.blocked === 0) return { hold, wait: null };
    return { hold, wait: new Promise<void>((resolve) => (ticket.resolve = resolve)) };
  }

  /**
   * Nothing of the connection runs or waits. A command that starts then and
   * finishes in its own turn needs no hold at all; one that goes on later can
   * take its hold right after its synchronous part, as nothing of the
   * connection can run in between.
   */
  get free(): boolean {
    return this.solo === null && this.idle();
  }

  private idle(): boolean {
    const ks = this.keyspace;
    return this.queues.size === 0 && ks.readers === 0 && !ks.writer && ks.waiting.length === 0;
  }

  private enqueue(hold: Hold, ticket: Ticket): void {
    const keys = hold.keys;
    let names: string[];
    if (keys === null) names = [];
    else if (keys.length === 1) names = [keyName(keys[0]!)];
    else names = [...new Set(keys.map(keyName))];
    for (const n of names) {
      let q = this.queues.get(n);
      if (q === undefined) {
        q = { readers: 0, writer: false, waiting: [] };
        this.queues.set(n, q);
      }
      take(q, ticket, hold.write);
    }
    take(this.keyspace, ticket, keys === null);
    hold.names = names;
  }

  release(hold: Hold): void {
    if (hold === this.solo) {
      this.solo = null;
      return;
    }
    const names = hold.names;
    if (names === null) return;
    for (const n of names) {
      const q = this.queues.get(n);
      if (q === undefined) continue;
      leave(q, hold.write);
      if (q.readers === 0 && !q.writer && q.waiting.length === 0) this.queues.delete(n);
    }
    leave(this.keyspace, hold.keys === null);
  }
}

/** Runs in the queue when nothing is ahead of it and the mode allows, else waits in line. */
function take(q: Queue, ticket: Ticket, write: boolean): void {
  if (q.waiting.length === 0 && !q.writer && (!write || q.readers === 0)) {
    if (write) q.writer = true;
    else q.readers++;
  } else {
    q.waiting.push({ ticket, write });
    ticket.blocked++;
  }
}

function leave(q: Queue, write: boolean): void {
  if (write) q.writer = false;
  else q.readers--;
  promote(q);
}

/** Starts the waiting head, and the reads following it when it reads too. */
function promote(q: Queue): void {
  let started = 0;
  for (const next of q.waiting) {
    if (q.writer || (next.write && q.readers > 0)) break;
    if (next.write) q.writer = true;
    else q.readers++;
    started++;
    if (--next.ticket.blocked === 0) next.ticket.resolve?.();
  }
  if (started > 0) q.waiting.splice(0, started);
}
