/**
 * The library's one retry loop: run the work, and after a failure ask the retry option, wait
 * the delay (abandoned at once when the signal aborts) and run it again. The query store and
 * mutations call it with TanStack Query's vocabulary (`retry`, `retryDelay`); `retryPolicy`
 * with cockatiel's (attempts, backoff generators); each attempt may have its own timeout.
 */
import { delay, LazyAbortController, linkSignals, raceAbort } from '../core/abort'
import { AsyncTimeoutError } from '../core/errors'
import { setLongTimeout } from '../core/timers'

/** How often to retry: a count, `true` (always), `false` (never) or a predicate. */
export type RetryOption = number | boolean | ((failureCount: number, error: unknown) => boolean)

/** The delay before a retry, in ms: a number, or a function of the failure count and error. */
export type RetryDelayOption = number | ((failureCount: number, error: unknown) => number)

/** True when a failure (the `failureCount`-th before this one, 0-based) should be retried. */
export function shouldRetry(retry: RetryOption, failureCount: number, error: unknown): boolean {
  if (typeof retry === 'number') return failureCount < retry
  if (typeof retry === 'boolean') return retry
  return retry(failureCount, error)
}

/** The delay before the retry that follows failure number `failureCount` (0-based). */
export function retryDelayFor(retryDelay: RetryDelayOption, failureCount: number, error: unknown): number {
  return typeof retryDelay === 'number' ? retryDelay : retryDelay(failureCount, error)
}

/** Options for {@link runWithRetry}. */
export interface RunWithRetryOptions {
  readonly retry: RetryOption
  readonly retryDelay: RetryDelayOption
  /** Per-attempt limit in ms (`Infinity` for none); an attempt over it fails with `AsyncTimeoutError`. */
  readonly timeout: number
  /**
   * Aborting it stops the run at once (no more retries; waits are cleared). A
   * `LazyAbortController` makes its signal only when something reads it.
   */
  readonly signal: AbortSignal | LazyAbortController
  /** Names the work in timeout errors. */
  readonly operation: string
  /** Asked after each failure the retry option allows; false stops retrying. Defaults to always true. */
  readonly canRetry?: () => boolean
  /**
   * Reject an attempt as soon as `signal` aborts, even when the work ignores its signal.
   * False leaves the attempt to settle on its own (for a caller that settles its awaiters
   * itself on abort, like a query's flight). A timeout always rejects at once. Defaults to true.
   */
  readonly settleOnAbort?: boolean
  /** Called after each failure with the failure count so far, whether a retry follows, and the error. */
  readonly onFailure?: (failureCount: number, willRetry: boolean, error: unknown) => void
}

/**
 * The work of one attempt: `attempt` counts from 0; `signal()` gives the attempt's signal
 * (which also aborts on its timeout), made when first called.
 */
export type RetryWork<T> = (attempt: number, signal: () => AbortSignal) => T | PromiseLike<T>

/**
 * Runs `work` until it succeeds, the retry option says stop, or the signal aborts; each
 * attempt gets a signal that also aborts on its timeout. Rejects with the last error. Delays
 * and timeouts past 2³¹−1 ms are kept (chained timers), not fired at once.
 */
export function runWithRetry<T>(work: RetryWork<T>, options: RunWithRetryOptions): Promise<T> {
  // The first attempt outside the loop: most work succeeds at once, and this costs one
  // reaction where the async loop costs a coroutine.
  return attempt(work, 0, options).then(undefined, (error: unknown) => retryAfter(work, options, error))
}

/** The loop after the first attempt failed with `error`. */
async function retryAfter<T>(work: RetryWork<T>, options: RunWithRetryOptions, error: unknown): Promise<T> {
  const { signal } = options
  for (let failureCount = 0; ;) {
    const again =
      !signal.aborted && shouldRetry(options.retry, failureCount, error) && (options.canRetry?.() ?? true)
    options.onFailure?.(failureCount + 1, again, error)
    if (!again) throw error
    const wait = retryDelayFor(options.retryDelay, failureCount, error)
    failureCount++
    await delay(wait, signalOf(signal))
    if (options.canRetry && !options.canRetry()) throw error // stopped during the wait
    try {
      return await attempt(work, failureCount, options)
    } catch (next) {
      error = next
    }
  }
}

function signalOf(source: AbortSignal | LazyAbortController): AbortSignal {
  return source instanceof LazyAbortController ? source.signal : source
}

function attempt<T>(work: RetryWork<T>, n: number, options: RunWithRetryOptions): Promise<T> {
  const { timeout } = options
  const source = options.signal
  if (!(timeout < Infinity)) {
    if (options.settleOnAbort === false) {
      return call(work, n, source instanceof LazyAbortController ? source.read : () => source)
    }
    const signal = signalOf(source)
    return raceAbort(
      call(work, n, () => signal),
      signal,
    )
  }
  const linked = linkSignals(signalOf(source))
  const timer = setLongTimeout(() => linked.abort(new AsyncTimeoutError(options.operation, timeout)), timeout)
  return raceAbort(
    call(work, n, () => linked.signal),
    linked.signal,
  ).finally(() => {
    timer.clear()
    linked.dispose()
  })
}

function call<T>(work: RetryWork<T>, n: number, signal: () => AbortSignal): Promise<T> {
  try {
    return Promise.resolve(work(n, signal))
  } catch (error) {
    return Promise.reject(error)
  }
}
