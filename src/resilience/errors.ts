/**
 * Errors raised by the resilience policies.
 */
import { TributaryError, hasErrorKind } from '../core/errors'

/**
 * A circuit breaker is open and refused the call without running it. `retryAt` says when it
 * will let a trial call through (half-open).
 */
export class CircuitOpenError extends TributaryError {
  static override readonly kind: string = 'CircuitOpenError'

  constructor(
    /** What the breaker protects (an operation or source name). */
    readonly operation: string,
    /** `Date.now()`-based time at which the breaker lets a trial call through. */
    readonly retryAt: number,
    /** The failure that opened the circuit, when known. */
    cause?: unknown,
  ) {
    super(
      `${operation}: circuit open; it will allow a trial call in ${Math.max(0, retryAt - Date.now())} ms (at ${new Date(retryAt).toISOString()})`,
      { cause },
    )
  }

  /** Milliseconds until the breaker lets a trial call through (0 if already due). */
  get retryAfterMs(): number {
    return Math.max(0, this.retryAt - Date.now())
  }
}

/** True when `error` is a {@link CircuitOpenError}. */
export function isCircuitOpenError(error: unknown): error is CircuitOpenError {
  return hasErrorKind(error, 'CircuitOpenError')
}

/** A bulkhead's running slots and its queue are all taken; the call was refused. */
export class BulkheadRejectedError extends TributaryError {
  static override readonly kind: string = 'BulkheadRejectedError'

  constructor(
    /** What the bulkhead protects. */
    readonly operation: string,
    /** How many calls may run at once. */
    readonly limit: number,
    /** How many calls may wait. */
    readonly queue: number,
  ) {
    super(`${operation}: bulkhead full (${limit} running, ${queue} queued); call rejected`)
  }
}

/** True when `error` is a {@link BulkheadRejectedError}. */
export function isBulkheadRejectedError(error: unknown): error is BulkheadRejectedError {
  return hasErrorKind(error, 'BulkheadRejectedError')
}
