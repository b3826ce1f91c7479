/**
 * Timers for any duration. Node (and browsers) store a timer's delay in a signed 32-bit
 * integer: a delay above 2³¹−1 ms (about 24.8 days) fires after 1 ms instead. These helpers
 * keep such delays by chaining timers of at most that length.
 */

/** The longest delay one `setTimeout` keeps: 2³¹−1 ms (about 24.8 days). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1

/** A pending {@link setLongTimeout}. */
export interface LongTimer {
  /** Stops the timer; safe to call more than once and after it fired. */
  clear(): void
}

/** Options for {@link setLongTimeout}. */
export interface LongTimeoutOptions {
  /** Lets the process exit while the timer is pending (`timer.unref()`). Defaults to false. */
  unref?: boolean
}

/**
 * Calls `callback` once after `ms` milliseconds, for any finite `ms` (a delay past 2³¹−1 ms is
 * waited in chained steps, measured against `Date.now()`). `Infinity` never fires.
 *
 * @example
 * ```ts
 * import { setLongTimeout } from 'tributary'
 * const timer = setLongTimeout(() => console.log('30 days later'), 30 * 86_400_000, { unref: true })
 * timer.clear()
 * ```
 */
export function setLongTimeout(callback: () => void, ms: number, options?: LongTimeoutOptions): LongTimer {
  return new ChainedTimeout(callback, ms, options?.unref === true)
}

/** One timer per step of at most {@link MAX_TIMER_DELAY} ms (a class: fewer allocations than closures on hot paths). */
class ChainedTimeout implements LongTimer {
  #handle: ReturnType<typeof setTimeout> | undefined
  #cleared = false
  readonly #due: number
  readonly #callback: () => void
  readonly #unref: boolean
  readonly #step = (): void => {
    this.#handle = undefined
    if (this.#cleared) return
    const left = this.#due - Date.now()
    if (left > 0) this.#arm(left)
    else this.#callback()
  }

  constructor(callback: () => void, ms: number, unref: boolean) {
    this.#callback = callback
    this.#unref = unref
    this.#due = ms < Infinity ? Date.now() + Math.max(0, ms) : Infinity
    if (ms < Infinity) this.#arm(Math.max(0, ms))
  }

  clear(): void {
    this.#cleared = true
    if (this.#handle !== undefined) clearTimeout(this.#handle)
    this.#handle = undefined
  }

  #arm(wait: number): void {
    const handle = setTimeout(this.#step, Math.min(wait, MAX_TIMER_DELAY))
    if (this.#unref) (handle as { unref?: () => void }).unref?.()
    this.#handle = handle
  }
}
