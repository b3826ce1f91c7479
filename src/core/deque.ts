/**
 * A FIFO queue with O(1) `push` and `shift` (a growable ring buffer). `Array#shift` is O(n),
 * which makes a long queue of waiters quadratic to drain.
 */

/** A first-in, first-out queue. @internal */
export class Deque<T> {
  private items: Array<T | undefined>
  private head = 0
  private count = 0

  constructor(initialCapacity = 16) {
    this.items = new Array<T | undefined>(Math.max(4, initialCapacity))
  }

  /** How many items are queued. */
  get length(): number {
    return this.count
  }

  /** Adds `item` at the back. */
  push(item: T): void {
    if (this.count === this.items.length) this.grow()
    this.items[(this.head + this.count) % this.items.length] = item
    this.count++
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.count--
    return item
  }

  /** The front item without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  /** Removes every item and returns them, front first. */
  drain(): T[] {
    const out: T[] = []
    while (this.count > 0) out.push(this.shift() as T)
    return out
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length]
    this.items = next
    this.head = 0
  }
}
