/**
 * Deadlines for the Redis commands of one store tier, all of the same length: one timer for
 * all of them instead of one per command (a timer per command was a measurable part of an L2
 * hit). Commands fall due in the order they were sent, so the timer only ever waits for the
 * oldest command still running; it holds the process open only while a command runs.
 */

interface Pending {
  readonly due: number
  /** Cleared when the command settles (or times out). */
  reject: ((error: unknown) => void) | undefined
}

/** A function that gives `work`'s outcome, or rejects once `ms` have passed. @internal */
export type CommandDeadline = <T>(work: Promise<T>) => Promise<T>

/**
 * Runs commands with a deadline of `ms` each: a command still running after `ms` rejects
 * with `Redis command timed out after <ms> ms` (its late reply is ignored). @internal
 */
export function commandDeadlines(ms: number): CommandDeadline {
  const deadlines = new Deadlines(ms)
  return (work) => deadlines.run(work)
}

class Deadlines {
  readonly #ms: number
  /** Oldest first; `#head` is the first that may still be running. */
  #queue: Pending[] = []
  #head = 0
  #running = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(ms: number) {
    this.#ms = ms
  }

  run<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { due: Date.now() + this.#ms, reject }
      this.#queue.push(pending)
      if (this.#running++ === 0) this.#timer?.ref()
      if (this.#timer === undefined) this.#arm(this.#ms)
      work.then(
        (value) => {
          if (this.#settle(pending)) resolve(value)
        },
        (error: unknown) => {
          if (this.#settle(pending)) reject(error)
        },
      )
    })
  }

  /** Marks `pending` settled; false when it had already timed out. */
  #settle(pending: Pending): boolean {
    if (pending.reject === undefined) return false
    pending.reject = undefined
    this.#done()
    return true
  }

  #done(): void {
    if (--this.#running === 0) {
      // nothing runs: forget the queue, and let the process exit while the timer waits
      this.#queue.length = 0
      this.#head = 0
      this.#timer?.unref()
    }
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    const now = Date.now()
    const queue = this.#queue
    while (this.#head < queue.length) {
      const pending = queue[this.#head] as Pending
      const reject = pending.reject
      if (reject !== undefined) {
        if (pending.due > now) break
        pending.reject = undefined
        reject(new Error(`Redis command timed out after ${this.#ms} ms`))
        this.#done() // the last one empties the queue: the loop ends
        continue
      }
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head)
      this.#head = 0
    }
    const next = this.#queue[this.#head]
    if (next !== undefined) this.#arm(next.due - now)
  }

  #arm(wait: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(0, wait))
    if (this.#running === 0) this.#timer.unref()
  }
}
