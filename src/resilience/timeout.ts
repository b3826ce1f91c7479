/**
 * Timeout: aborts the work's `AbortSignal` after a limit and rejects with an
 * `AsyncTimeoutError`. Built on cockatiel's aggressive `TimeoutPolicy`, which does not wait for
 * work that ignores its signal.
 */
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel'
import { abortError } from '../core/abort'
import { AsyncTimeoutError } from '../core/errors'
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
  if (!(ms >= 0) || !Number.isFinite(ms))
    throw new RangeError(`timeout must be a finite number >= 0, got ${ms}`)
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
