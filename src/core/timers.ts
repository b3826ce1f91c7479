/**
 * Timers for any duration. Node (and browsers) store a timer's delay in a signed 32-bit
 * integer: a delay above 2³¹−1 ms (about 24.8 days) fires after 1 ms instead. These helpers
 * keep such delays by chaining timers of at most that length.
 */
import { abortError } from './abort'

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
  let handle: ReturnType<typeof setTimeout> | undefined
  let cleared = false
  const clear = (): void => {
    cleared = true
    if (handle !== undefined) clearTimeout(handle)
    handle = undefined
  }
  if (!(ms < Infinity)) return { clear }
  const due = Date.now() + Math.max(0, ms)
  const arm = (wait: number): void => {
    handle = setTimeout(step, Math.min(wait, MAX_TIMER_DELAY))
    if (options?.unref) (handle as { unref?: () => void }).unref?.()
  }
  const step = (): void => {
    handle = undefined
    if (cleared) return
    const left = due - Date.now()
    if (left > 0) arm(left)
    else callback()
  }
  arm(Math.max(0, ms))
  return { clear }
}

/**
 * Resolves after `ms` milliseconds (any finite duration, see {@link setLongTimeout}), or
 * rejects with the signal's reason as soon as it aborts; the timer is cleared on abort.
 *
 * @example
 * ```ts
 * import { sleep } from 'tributary'
 * await sleep(40 * 86_400_000, AbortSignal.timeout(1_000)) // rejects after 1 s
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal))
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear()
      reject(abortError(signal as AbortSignal))
    }
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
