/**
 * Serialises read-modify-write cycles per key inside one vnode, so two writes
 * to a key can never both read the old object and lose one of them. Writes to
 * different keys run concurrently.
 */
const noop = (): void => {};

export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** The lock id of a key (latin1 maps each byte to one UTF-16 unit, a lossless Map key). */
  static id(key: Buffer): string {
    return key.toString('latin1');
  }

  run<T>(key: Buffer, fn: () => Promise<T>): Promise<T> {
    return this.runId(KeyLock.id(key), fn);
  }

  /** run() for a key already turned into its id. */
  runId<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id);
    let result: Promise<T>;
    if (prev === undefined) {
      // Uncontended: start at once, without waiting for a turn of the microtask queue.
      try {
        result = fn();
      } catch (err) {
        result = Promise.reject(err as Error);
      }
    } else {
      result = prev.then(fn);
    }
    const tail = result.then(noop, noop);
    this.tails.set(id, tail);
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return result;
  }

  /**
   * Runs `fn` holding every key of `ids` at once (duplicates allowed): after
   * every cycle already queued on any of them, before any queued later.
   */
  runMany<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    let prev: Promise<void>[] | undefined;
    for (const id of ids) {
      const t = this.tails.get(id);
      if (t !== undefined) (prev ??= []).push(t);
    }
    let result: Promise<T>;
    if (prev === undefined) {
      try {
        result = fn();
      } catch (err) {
        result = Promise.reject(err as Error);
      }
    } else {
      result = Promise.all(prev).then(fn);
    }
    const tail = result.then(noop, noop);
    for (const id of ids) this.tails.set(id, tail);
    void tail.then(() => {
      for (const id of ids) if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return result;
  }

  /** True while a cycle on the key runs or waits. */
  held(id: string): boolean {
    return this.tails.has(id);
  }

  get size(): number {
    return this.tails.size;
  }
}
