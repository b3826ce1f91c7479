/**
 * Builds one policy from plain options, in a fixed, documented order.
 */
import { bulkheadPolicy, type BulkheadOptions } from './bulkhead'
import {
  circuitBreakerPolicy,
  isCircuitBreaker,
  type CircuitBreaker,
  type CircuitBreakerOptions,
} from './breaker'
import { fallbackPolicy, type FallbackValue } from './fallback'
import { wrap, type ResiliencePolicy } from './policy'
import { retryInputProblem, retryPolicy, type RetryInput } from './retry'
import { timeoutPolicy } from './timeout'
import { checkOptions, checks, type OptionSpec } from '../core/option-checks'

const RESILIENCE_OPTIONS: OptionSpec = {
  retry: (value) => retryInputProblem(value)?.replace(/^`retry` /, ''),
  timeout: checks.duration(),
  // An object is checked by circuitBreakerPolicy (a shared breaker is one too).
  circuitBreaker: checks.either(
    'true, false, breaker options or a circuit breaker',
    checks.boolean,
    checks.object,
  ),
  // An object or a number is checked by bulkheadPolicy.
  bulkhead: checks.either('a limit or bulkhead options', checks.integer(1), checks.object),
  fallback: true,
}

/** Plain options from which {@link createPolicy} builds a policy. Every field is optional. */
export interface ResilienceOptions<F = unknown> {
  /** Retries (a count of retries after the first attempt, or options). Defaults to none. */
  retry?: RetryInput
  /** A limit in ms for each attempt. Defaults to none. */
  timeout?: number
  /** `true` for a breaker with default options, options, or a shared {@link CircuitBreaker}. */
  circuitBreaker?: boolean | CircuitBreakerOptions | CircuitBreaker
  /** A concurrency limit (a number, or limit and queue). Defaults to none. */
  bulkhead?: number | BulkheadOptions
  /** A value, or a function of the final error, used when everything else failed. */
  fallback?: FallbackValue<F>
}

/**
 * Builds a policy from options. The order, outermost first, is:
 *
 * 1. **fallback** — replaces the final failure, whatever caused it;
 * 2. **bulkhead** — one slot per call, held across its retries, so retries do not jump the queue;
 * 3. **retry** — sees each attempt's failure, including timeouts and an open circuit (not retried by default);
 * 4. **circuit breaker** — counts every attempt, timeouts included;
 * 5. **timeout** — per attempt; aborts that attempt's signal.
 *
 * @example
 * ```ts
 * import { createPolicy } from 'tributary'
 * const policy = createPolicy({ retry: 3, timeout: 1_000, circuitBreaker: true, fallback: null }, 'remote')
 * const value = await policy.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()))
 * ```
 */
export function createPolicy<F = unknown>(
  options: ResilienceOptions<F> = {},
  operation = 'operation',
): ResiliencePolicy {
  checkOptions('createPolicy(options)', options, RESILIENCE_OPTIONS)
  const layers: ResiliencePolicy[] = []
  if (options.fallback !== undefined) layers.push(fallbackPolicy(options.fallback))
  if (options.bulkhead !== undefined) layers.push(bulkheadPolicy(options.bulkhead, operation))
  if (options.retry !== undefined && options.retry !== 0) layers.push(retryPolicy(options.retry))
  const breaker = options.circuitBreaker
  if (breaker) {
    layers.push(
      isCircuitBreaker(breaker) ? breaker : circuitBreakerPolicy(breaker === true ? {} : breaker, operation),
    )
  }
  if (options.timeout !== undefined) layers.push(timeoutPolicy(options.timeout, operation))
  return wrap(...layers)
}
