/**
 * Timeout: aborts the work's `AbortSignal` after a limit and rejects with an
 * `AsyncTimeoutError`. Built on cockatiel's aggressive `TimeoutPolicy`, which does not wait for
 * work that ignores its signal. A limit past 2³¹−1 ms (which one Node timer cannot hold) is
 * kept with chained timers; `Infinity` means no limit.
 */
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel'
import { abortError, linkSignals, raceAbort, neverAborted } from '../core/abort'
import { AsyncTimeoutError } from '../core/errors'
import { MAX_TIMER_DELAY, setLongTimeout } from '../core/timers'
import type { PolicyWork, ResiliencePolicy } from './policy'

/**
 * Creates a timeout policy: each call gets `ms` milliseconds, then its signal aborts and the
 * call rejects with an {@link AsyncTimeoutError} naming `operation`.
 *
 * @example
 * ```ts
 * import { timeoutPolicy } from 'tributary'
 * await timeoutPolicy(2_000, 'loadUser').execute(({ signal }) => fetch(url, { signal }))
 * ```
 */
export function timeoutPolicy(ms: number, operation = 'operation'): ResiliencePolicy {
  if (typeof ms !== 'number' || !(ms >= 0))
    throw new RangeError(
      `timeout must be a number of milliseconds >= 0 (or Infinity for none), got ${String(ms)}`,
    )
  if (ms === Infinity) {
    return {
      execute: (work, signal) =>
        raceAbort(
          Promise.resolve().then(() => work({ signal: signal ?? neverAborted, attempt: 0 })),
          signal,
        ),
    }
  }
  if (ms > MAX_TIMER_DELAY) return longTimeoutPolicy(ms, operation)
  const inner = timeout(ms, TimeoutStrategy.Aggressive)
  return {
    async execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      try {
        return await inner.execute((context) => work({ signal: context.signal, attempt: 0 }), signal)
      } catch (error) {
        if (signal?.aborted) throw abortError(signal, operation)
        // cockatiel 3.2.1's isTaskCancelledError tests the wrong marker; instanceof is reliable
        // here because the error comes from the cockatiel copy imported above.
        if (error instanceof TaskCancelledError) throw new AsyncTimeoutError(operation, ms)
        throw error
      }
    },
  }
}

/** The same contract for a limit one Node timer cannot hold: a chained timer aborts the work. */
function longTimeoutPolicy(ms: number, operation: string): ResiliencePolicy {
  return {
    async execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) throw abortError(signal, operation)
      const linked = linkSignals(signal)
      const timer = setLongTimeout(() => linked.abort(new AsyncTimeoutError(operation, ms)), ms)
      try {
        return await raceAbort(
          Promise.resolve().then(() => work({ signal: linked.signal, attempt: 0 })),
          linked.signal,
        )
      } catch (error) {
        if (signal?.aborted) throw abortError(signal, operation)
        throw error
      } finally {
        timer.clear()
        linked.dispose()
      }
    },
  }
}
