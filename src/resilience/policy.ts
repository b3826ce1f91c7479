/**
 * The one contract every resilience policy follows, and `wrap()` to compose them.
 */
import { neverAborted } from '../core/abort'

/** What a policy passes to the work it runs. */
export interface PolicyContext {
  /** Aborts when the caller cancels, or when a timeout policy gives up on this attempt. */
  readonly signal: AbortSignal
  /** 0 for the first attempt, 1 for the first retry, and so on. */
  readonly attempt: number
}

/** The work a policy runs. */
export type PolicyWork<T> = (context: PolicyContext) => PromiseLike<T> | T

/**
 * A resilience policy: `execute(fn, signal)` runs `fn` under the policy. Policies compose with
 * {@link wrap}; the first one given is the outermost.
 */
export interface ResiliencePolicy {
  /** Runs `work` under this policy; `signal` cancels it. */
  execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T>
}

/** A policy that runs the work once, as is. */
export const noopPolicy: ResiliencePolicy = {
  execute: async (work, signal) => work({ signal: signal ?? neverAborted, attempt: 0 }),
}

/**
 * Composes policies: `wrap(a, b, c).execute(fn)` is `a.execute(() => b.execute(() =>
 * c.execute(fn)))`. The attempt number a retry policy sets is passed down to the work.
 *
 * @example
 * ```ts
 * import { wrap, retryPolicy, timeoutPolicy } from 'tributary'
 * const policy = wrap(retryPolicy(3), timeoutPolicy(1_000))   // each attempt gets 1 s
 * await policy.execute(({ signal }) => fetch(url, { signal }))
 * ```
 */
export function wrap(...policies: ResiliencePolicy[]): ResiliencePolicy {
  if (policies.length === 0) return noopPolicy
  if (policies.length === 1) return policies[0] as ResiliencePolicy
  return {
    execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      const run = (index: number, outer: PolicyContext | undefined, sig?: AbortSignal): Promise<T> => {
        const policy = policies[index] as ResiliencePolicy
        return policy.execute((context) => {
          // Keep the attempt number set by an outer retry policy.
          const merged: PolicyContext =
            outer && context.attempt === 0 ? { signal: context.signal, attempt: outer.attempt } : context
          return index === policies.length - 1 ? work(merged) : run(index + 1, merged, merged.signal)
        }, sig)
      }
      return run(0, undefined, signal)
    },
  }
}
