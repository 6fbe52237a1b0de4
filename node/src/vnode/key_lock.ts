/**
 * Serialises read-modify-write cycles per key inside one vnode, so two writes
 * to a key can never both read the old object and lose one of them. Writes to
 * different keys run concurrently.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: Buffer, fn: () => Promise<T>): Promise<T> {
    const id = key.toString('latin1');
    const prev = this.tails.get(id);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(id, mine);
    try {
      if (prev) await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(id) === mine) this.tails.delete(id);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}
