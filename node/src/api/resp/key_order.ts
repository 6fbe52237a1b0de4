/**
 * Per-connection ordering of pipelined commands. Redis runs a connection's
 * commands one after the other; we run them concurrently (pipelining would be
 * pointless otherwise) but keep redis' visible semantics: a command waits for
 * earlier commands of the same connection that touch one of its keys, unless
 * both only read. Keyspace-wide commands (DBSIZE, KEYS, SCAN) wait for every
 * earlier write. Waits only ever point backwards in request order, so there
 * is no deadlock.
 */

interface Ticket {
  blocked: number;
  resolve: (() => void) | null;
}

interface Entry {
  ticket: Ticket;
  write: boolean;
  admitted: boolean;
}

interface Queue {
  entries: Entry[];
  writers: number;
}

/** Held by a running command; pass it to release() when the command is done. */
export interface Hold {
  keys: string[];
  ticket: Ticket;
}

// Key names are prefixed so that no key can be mistaken for the keyspace marker.
const KEYSPACE = '*';
const name = (k: Buffer): string => 'k' + k.toString('latin1');

export class KeyOrder {
  private readonly queues = new Map<string, Queue>();

  /** Number of keys with commands running or waiting (for tests). */
  get size(): number {
    return this.queues.size;
  }

  /**
   * Registers a command touching `keys` (or the whole keyspace when keys is
   * null). Returns the hold and, when the command has to wait, a promise that
   * resolves once it may run.
   */
  acquire(keys: Buffer[] | null, write: boolean): { hold: Hold; wait: Promise<void> | null } {
    let names: string[];
    if (keys === null) names = [KEYSPACE];
    else if (keys.length === 1) names = [name(keys[0]!), KEYSPACE];
    else names = [...new Set(keys.map(name)), KEYSPACE];
    const ticket: Ticket = { blocked: 0, resolve: null };
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      // Key commands share the keyspace marker; keyspace commands take it alone.
      const w = n === KEYSPACE ? keys === null : write;
      let q = this.queues.get(n);
      if (q === undefined) {
        q = { entries: [], writers: 0 };
        this.queues.set(n, q);
      }
      const admitted = q.entries.length === 0 || (!w && q.writers === 0);
      q.entries.push({ ticket, write: w, admitted });
      if (w) q.writers++;
      if (!admitted) ticket.blocked++;
    }
    const hold = { keys: names, ticket };
    if (ticket.blocked === 0) return { hold, wait: null };
    return { hold, wait: new Promise<void>((resolve) => (ticket.resolve = resolve)) };
  }

  release(hold: Hold): void {
    for (const n of hold.keys) {
      const q = this.queues.get(n);
      if (q === undefined) continue;
      const i = q.entries.findIndex((e) => e.ticket === hold.ticket);
      if (i < 0) continue;
      if (q.entries[i]!.write) q.writers--;
      q.entries.splice(i, 1);
      if (q.entries.length === 0) {
        this.queues.delete(n);
        continue;
      }
      this.admit(q);
    }
  }

  /** Admits the head, and the reads following it when the head reads too. */
  private admit(q: Queue): void {
    for (let i = 0; i < q.entries.length; i++) {
      const e = q.entries[i]!;
      if (i > 0 && (e.write || q.entries[0]!.write)) return;
      if (!e.admitted) {
        e.admitted = true;
        if (--e.ticket.blocked === 0) e.ticket.resolve?.();
      }
      if (e.write) return;
    }
  }
}
