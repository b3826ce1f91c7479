/**
 * The log of optimistic updates pending on one query. Rolling one back replays the others on
 * the base value, so a failure undoes exactly its own change even when others are pending.
 */

interface LogEntry<T> {
  readonly id: number
  readonly update: (data: T | undefined) => T
  committed: boolean
}

/** Pending optimistic updates on one key, over the last confirmed (`base`) value. */
export class OptimisticLog<T> {
  #entries: Array<LogEntry<T>> = []
  #nextId = 1

  constructor(
    /** The value before any of the logged updates. */
    public base: T | undefined,
  ) {}

  /** True while some update has neither committed nor rolled back. */
  get hasPending(): boolean {
    return this.#entries.some((entry) => !entry.committed)
  }

  /** Adds an update and returns its id. The caller applies it to the visible value. */
  add(update: (data: T | undefined) => T): number {
    const id = this.#nextId++
    this.#entries.push({ id, update, committed: false })
    return id
  }

  /** Marks an update confirmed by the server; it stays in the replay order. */
  commit(id: number): void {
    const entry = this.#entries.find((e) => e.id === id)
    if (entry) entry.committed = true
  }

  /** Removes an update and returns the base with every remaining update replayed in order. */
  rollback(id: number): T | undefined {
    this.#entries = this.#entries.filter((entry) => entry.id !== id)
    return this.replay()
  }

  /**
   * Takes fresh server data as the new base: committed updates are already in it and are
   * dropped; pending ones are replayed on top. Returns the value to show.
   */
  rebase(data: T | undefined): T | undefined {
    this.base = data
    this.#entries = this.#entries.filter((entry) => !entry.committed)
    return this.replay()
  }

  /** The base with every logged update applied in order. */
  replay(): T | undefined {
    let data = this.base
    for (const entry of this.#entries) data = entry.update(data)
    return data
  }
}
