/**
 * Circuit breaker: after `threshold` consecutive failures, calls are refused for
 * `halfOpenAfter` ms, then one trial call decides whether to close again. Built on
 * cockatiel's `CircuitBreakerPolicy` and `ConsecutiveBreaker`.
 */
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, isBrokenCircuitError } from 'cockatiel'
import type { PolicyWork, ResiliencePolicy } from './policy'
import { CircuitOpenError } from './errors'
import { checkOptions, checks } from '../core/option-checks'

/** Options for {@link circuitBreakerPolicy}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Defaults to 5. */
  threshold?: number
  /** How long the circuit stays open before a trial call, in ms. Defaults to 10,000. */
  halfOpenAfter?: number
  /** Which errors count as failures. Defaults to every error. */
  failureIf?: (error: unknown) => boolean
}

/** The state of a {@link CircuitBreaker}. */
export type CircuitBreakerState = 'closed' | 'open' | 'half-open' | 'isolated'

/** A circuit breaker policy that can be shared between callers and inspected. */
export interface CircuitBreaker extends ResiliencePolicy {
  /** The current state. */
  readonly state: CircuitBreakerState
  /** When an open circuit will let a trial call through (`Date.now()` time), else undefined. */
  readonly retryAt: number | undefined
  /** Listens for state changes; returns an unsubscribe function. */
  onStateChange(listener: (state: CircuitBreakerState) => void): () => void
}

const stateNames: Record<CircuitState, CircuitBreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
}

/** True when `value` is a {@link CircuitBreaker} made by {@link circuitBreakerPolicy}. */
export function isCircuitBreaker(value: unknown): value is CircuitBreaker {
  return typeof value === 'object' && value !== null && (value as { [BREAKER]?: true })[BREAKER] === true
}

const BREAKER = Symbol.for('tributary.circuitBreaker')

/**
 * Creates a circuit breaker. When open it rejects at once with a `CircuitOpenError` that says
 * when it will retry.
 *
 * @example
 * ```ts
 * import { circuitBreakerPolicy } from 'tributary'
 * const breaker = circuitBreakerPolicy({ threshold: 3, halfOpenAfter: 5_000 }, 'consul')
 * await breaker.execute(() => consul.kv.get('app/port'))
 * ```
 */
export function circuitBreakerPolicy(
  options: CircuitBreakerOptions = {},
  operation = 'operation',
): CircuitBreaker {
  checkOptions('circuitBreakerPolicy(options)', options ?? null, {
    threshold: checks.integer(1),
    halfOpenAfter: checks.duration(),
    failureIf: checks.function,
  })
  const threshold = options.threshold ?? 5
  const halfOpenAfter = options.halfOpenAfter ?? 10_000
  const failureIf = options.failureIf ?? (() => true)
  const inner = circuitBreaker(
    handleWhen((error) => failureIf(error)),
    { halfOpenAfter, breaker: new ConsecutiveBreaker(threshold) },
  )
  let openedAt: number | undefined
  let lastFailure: unknown
  inner.onBreak((reason) => {
    openedAt = Date.now()
    lastFailure = 'error' in reason ? reason.error : undefined
  })
  inner.onReset(() => {
    openedAt = undefined
  })
  return {
    [BREAKER]: true,
    get state() {
      return stateNames[inner.state]
    },
    get retryAt() {
      return inner.state === CircuitState.Open && openedAt !== undefined
        ? openedAt + halfOpenAfter
        : undefined
    },
    onStateChange(listener) {
      const subscription = inner.onStateChange((state) => listener(stateNames[state]))
      return () => subscription.dispose()
    },
    async execute<T>(work: PolicyWork<T>, signal?: AbortSignal): Promise<T> {
      try {
        return await inner.execute((context) => work({ signal: context.signal, attempt: 0 }), signal)
      } catch (error) {
        if (isBrokenCircuitError(error)) {
          throw new CircuitOpenError(operation, (openedAt ?? Date.now()) + halfOpenAfter, lastFailure)
        }
        throw error
      }
    },
  } as CircuitBreaker
}
