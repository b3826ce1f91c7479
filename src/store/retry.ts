/**
 * Retry and timing options shared by queries and mutations, with TanStack Query's semantics:
 * `retry` is a count, `true` (for ever), or a predicate of the failure count and error; the
 * delay before retry n (0-based) defaults to `min(1000 * 2 ** n, 30_000)` ms. The loop that
 * applies them is the library's one retry loop (`resilience/retry-loop.ts`).
 */
import { exponentialDelay } from '../resilience/backoff'

/** The longest default backoff, in ms (as TanStack Query). */
export const MAX_RETRY_DELAY = 30_000

/**
 * The default backoff before retry number `failureCount` (0 for the first retry): 1 s, 2 s,
 * 4 s, … capped at 30 s — the same as TanStack Query.
 *
 * @example
 * ```ts
 * import { defaultRetryDelay } from 'tributary'
 * defaultRetryDelay(0) // 1000
 * defaultRetryDelay(10) // 30000
 * ```
 */
export function defaultRetryDelay(failureCount: number): number {
  return exponentialDelay(failureCount, 1000, MAX_RETRY_DELAY)
}

export type { RetryDelayOption, RetryOption } from '../resilience/retry-loop'
