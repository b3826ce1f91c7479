/**
 * Fallback: when the work fails, answer with a value (or a value computed from the error).
 * Written here rather than with cockatiel's `fallback`, whose factory is not given the error.
 */
import type { PolicyWork, ResiliencePolicy } from './policy'
import { neverAborted } from '../core/abort'
import { checkOptions, checks } from '../core/option-checks'

/** A fallback value, or a function of the error that produces one. */
export type FallbackValue<T> = T | ((error: unknown) => T | PromiseLike<T>)

/** Options for {@link fallbackPolicy}. */
export interface FallbackOptions {
  /** Which errors fall back. Defaults to every error except cancellation by the caller. */
  when?: (error: unknown) => boolean
}

/**
 * Creates a fallback policy. Cancellation by the caller's own signal is never replaced by the
 * fallback.
 *
 * @example
 * ```ts
 * import { fallbackPolicy } from 'tributary'
 * const port = await fallbackPolicy(8080).execute(() => readPortFromConsul())
 * ```
 */
export function fallbackPolicy<F>(value: FallbackValue<F>, options: FallbackOptions = {}): ResiliencePolicy {
  checkOptions('fallbackPolicy(value, options)', options, { when: checks.function })
  const when = options.when ?? (() => true)
  return {
    async execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      try {
        return await work({ signal: signal ?? neverAborted, attempt: 0 })
      } catch (error) {
        if (signal?.aborted || !when(error)) throw error
        return (typeof value === 'function' ? await (value as (e: unknown) => unknown)(error) : value) as T
      }
    },
  }
}
