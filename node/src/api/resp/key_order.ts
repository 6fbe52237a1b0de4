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
  names: string[];
  writes: boolean[];
}

// Key names are prefixed so that no key can be mistaken for the keyspace marker.
const KEYSPACE = '*';
const keyName = (k: Buffer): string => 'k' + k.toString('latin1');

export class KeyOrder {
  private readonly queues = new Map<string, Queue>();

  /** Number of keys with commands running or waiting (for tests). */
  get size(): number {
    return this.queues.size;
  }

  /**
   * Registers a command touching `keys` (or the whole keyspace when keys is
   * null). Returns the hold and, when the command has to wait, a promise that
   * resolves once it may run. Call release() only after it ran.
   */
  acquire(keys: Buffer[] | null, write: boolean): { hold: Hold; wait: Promise<void> | null } {
    let names: string[];
    if (keys === null) names = [KEYSPACE];
    else if (keys.length === 1) names = [keyName(keys[0]!), KEYSPACE];
    else names = [...new Set(keys.map(keyName)), KEYSPACE];
    const ticket: Ticket = { blocked: 0, resolve: null };
    const writes: boolean[] = [];
    for (const n of names) {
      // Key commands share the keyspace marker as readers; keyspace commands take it alone.
      const w = n === KEYSPACE ? keys === null : write;
      writes.push(w);
      let q = this.queues.get(n);
      if (q === undefined) {
        q = { readers: 0, writer: false, waiting: [] };
        this.queues.set(n, q);
      }
      if (q.waiting.length === 0 && !q.writer && (!w || q.readers === 0)) {
        if (w) q.writer = true;
        else q.readers++;
      } else {
        q.waiting.push({ ticket, write: w });
        ticket.blocked++;
      }
    }
    const hold = { names, writes };
    if (ticket.blocked === 0) return { hold, wait: null };
    return { hold, wait: new Promise<void>((resolve) => (ticket.resolve = resolve)) };
  }

  release(hold: Hold): void {
    for (let i = 0; i < hold.names.length; i++) {
      const n = hold.names[i]!;
      const q = this.queues.get(n);
      if (q === undefined) continue;
      if (hold.writes[i]) q.writer = false;
      else q.readers--;
      this.promote(q);
      if (q.readers === 0 && !q.writer && q.waiting.length === 0) this.queues.delete(n);
    }
  }

  /** Starts the waiting head, and the reads following it when it reads too. */
  private promote(q: Queue): void {
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
}
