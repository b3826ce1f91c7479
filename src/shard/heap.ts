/**
 * A binary min-heap: the one priority queue of the k-way merges (`mergeSorted` over arrays,
 * `mergeStreams` over batches as they arrive). @internal
 */
export class MinHeap<T> {
  readonly #items: T[] = []
  readonly #less: (a: T, b: T) => boolean

  /** `less(a, b)`: whether `a` comes out before `b`. */
  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less
  }

  /** How many items it holds. */
  get size(): number {
    return this.#items.length
  }

  /** The least item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[0]
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(items[i] as T, items[parent] as T)) return
      this.#swap(i, parent)
      i = parent
    }
  }

  /** Puts `item` in the least item's place (or re-sorts the least item changed in place, when omitted). */
  replaceTop(item?: T): void {
    if (this.#items.length === 0) return
    if (item !== undefined) this.#items[0] = item
    this.#down(0)
  }

  /** Removes the least item. */
  removeTop(): void {
    const last = this.#items.pop()
    if (this.#items.length === 0 || last === undefined) return
    this.#items[0] = last
    this.#down(0)
  }

  #down(i: number): void {
    const items = this.#items
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < items.length && this.#less(items[l] as T, items[m] as T)) m = l
      if (r < items.length && this.#less(items[r] as T, items[m] as T)) m = r
      if (m === i) return
      this.#swap(i, m)
      i = m
    }
  }

  #swap(i: number, j: number): void {
    const items = this.#items
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
}
