/**
 * Per-component resilience: `retry`, `timeout` and `circuitBreaker` built with `createPolicy`.
 * Circuit breakers are shared per source and key across resolves (and classes).
 */
import { AsyncTimeoutError } from '../core/errors'
import { circuitBreakerPolicy, isCircuitBreaker, type CircuitBreaker } from '../resilience/breaker'
import { createPolicy } from '../resilience/compose'
import type { ResiliencePolicy } from '../resilience/policy'
import { isRetryableError, type RetryInput, type RetryOptions } from '../resilience/retry'
import type { ComponentSource } from '../sources/source'
import { isSourceNotFoundError, isSourcePermissionError } from '../sources/source'
import type { PlannedComponent } from './plan'

const breakers = new WeakMap<ComponentSource, Map<string, CircuitBreaker>>()
const policies = new WeakMap<ComponentSource, WeakMap<PlannedComponent, ResiliencePolicy>>()

/** By default a missing key or a refused permission is not retried: another attempt cannot fix it. */
function retryable(error: unknown): boolean {
  return isRetryableError(error) && !isSourceNotFoundError(error) && !isSourcePermissionError(error)
}

function retryWithDefaults(retry: RetryInput | undefined): RetryInput | undefined {
  if (retry === undefined) return undefined
  const options: RetryOptions = typeof retry === 'number' ? { attempts: retry } : retry
  return options.retryIf ? options : { ...options, retryIf: retryable }
}

/** The circuit breaker for `source` + `key`, created on first use. */
export function sharedBreaker(component: PlannedComponent, source: ComponentSource): CircuitBreaker {
  const option = component.definition.options.circuitBreaker
  if (isCircuitBreaker(option)) return option
  let bySource = breakers.get(source)
  if (!bySource) {
    bySource = new Map()
    breakers.set(source, bySource)
  }
  const key = component.fetchKey
  let breaker = bySource.get(key)
  if (!breaker) {
    const label = `${source.name}:${component.label ?? component.definition.property}`
    breaker = circuitBreakerPolicy(option === true || !option ? {} : option, label)
    bySource.set(key, breaker)
  }
  return breaker
}

/** The policy one component runs its fetch under (cached per source and component). */
export function componentPolicy(
  component: PlannedComponent,
  source: ComponentSource,
  operation: string,
): ResiliencePolicy {
  let bySource = policies.get(source)
  if (!bySource) {
    bySource = new WeakMap()
    policies.set(source, bySource)
  }
  let policy = bySource.get(component)
  if (!policy) {
    const o = component.definition.options
    policy = createPolicy(
      {
        retry: retryWithDefaults(o.retry),
        timeout: o.timeout,
        circuitBreaker: o.circuitBreaker ? sharedBreaker(component, source) : undefined,
      },
      operation,
    )
    bySource.set(component, policy)
  }
  return policy
}

/**
 * The error to report when an attempt fails: work that rejects as soon as the timeout policy
 * aborts its signal would otherwise win the race with the policy's own `AsyncTimeoutError`.
 */
export function timedOut(
  error: unknown,
  attemptSignal: AbortSignal,
  outerSignal: AbortSignal | undefined,
  operation: string,
  timeout: number | undefined,
): unknown {
  if (timeout === undefined || !attemptSignal.aborted || outerSignal?.aborted) return error
  return error instanceof AsyncTimeoutError ? error : new AsyncTimeoutError(operation, timeout)
}
