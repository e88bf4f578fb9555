// A fixed-size buffer that keeps the newest items: the monitor's history of snapshots.

export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  /** Index where the next item goes. */
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`RingBuffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds an item, dropping the oldest one when full. */
  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The newest item, or undefined when empty. */
  latest(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** The last `n` items (all by default), oldest first. */
  toArray(n: number = this.count): T[] {
    const take = Math.max(0, Math.min(n, this.count));
    const result: T[] = [];
    for (let i = take; i > 0; i--) result.push(this.items[(this.next - i + this.capacity) % this.capacity] as T);
    return result;
  }

  clear(): void {
    this.items.fill(undefined);
    this.next = 0;
    this.count = 0;
  }
}
