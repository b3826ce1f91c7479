/**
 * Batches change notifications: every state change in one synchronous run of code is
 * delivered to each listener once, on the next microtask, with the latest state.
 */

/** Something with listeners to call once per batch. */
export interface Notifiable {
  /** Calls the listeners with the current state. */
  flushListeners(): void
}

/** Collects notifiables and flushes each once per microtask. */
export class Notifier {
  #pending = new Set<Notifiable>()
  #scheduled = false
  readonly #flush = (): void => {
    this.#scheduled = false
    const pending = this.#pending
    this.#pending = new Set()
    for (const item of pending) item.flushListeners()
  }

  /** Queues `item` to be flushed on the next microtask (once, however often it is queued). */
  schedule(item: Notifiable): void {
    this.#pending.add(item)
    if (this.#scheduled) return
    this.#scheduled = true
    // A resolved promise rather than queueMicrotask: fake timers replace queueMicrotask.
    void Promise.resolve().then(this.#flush)
  }

  /** Drops queued notifications (used by `close()`). */
  clear(): void {
    this.#pending.clear()
  }
}

/** Calls `listener`, reporting (not throwing) its failure so one bad listener cannot stop others. */
export function callListener<S>(
  listener: (state: S) => void,
  state: S,
  onError: (error: unknown) => void,
): void {
  try {
    listener(state)
  } catch (error) {
    onError(error)
  }
}
