/**
 * Errors raised by the event bus.
 */
import { TributaryError, describeCause, hasErrorKind } from '../core/errors'

/**
 * One handler failed while an event was delivered. `emit` rejects with an `AggregateError`
 * whose `errors` are these; `onFallible` failures appear in `EmitResult.errors`.
 *
 * @example
 * ```ts
 * import { isHandlerError } from 'tributary'
 * try { await bus.emit(new UserCreated(1)) } catch (e) {
 *   for (const failure of (e as AggregateError).errors) if (isHandlerError(failure)) console.error(failure.handlerName, failure.cause)
 * }
 * ```
 */
export class HandlerError extends TributaryError {
  constructor(
    /** The handler's name (its function name, or the `name` option; `'anonymous'` otherwise). */
    readonly handlerName: string,
    /** The event's class name. */
    readonly eventName: string,
    /** The event instance that was being delivered. */
    readonly event: object,
    cause: unknown,
  ) {
    super(`handler "${handlerName}" for ${eventName} failed: ${describeCause(cause)}`, { cause })
  }
}

/** True when `error` is a {@link HandlerError}. */
export function isHandlerError(error: unknown): error is HandlerError {
  return hasErrorKind(error, 'HandlerError')
}

/** A handler with `rateLimit: { onLimit: 'error' }` was invoked more than `max` times in `windowMs`. */
export class RateLimitError extends TributaryError {
  constructor(
    /** The handler's name. */
    readonly handlerName: string,
    /** The event's class name. */
    readonly eventName: string,
    /** The limit: invocations per window. */
    readonly max: number,
    /** The window, in milliseconds. */
    readonly windowMs: number,
  ) {
    super(`handler "${handlerName}" for ${eventName} exceeded its rate limit of ${max} per ${windowMs} ms`)
  }
}

/** True when `error` is a {@link RateLimitError}. */
export function isRateLimitError(error: unknown): error is RateLimitError {
  return hasErrorKind(error, 'RateLimitError')
}

/** The bus has been closed: it accepts no more emits and its `once` waits end with this error. */
export class BusClosedError extends TributaryError {
  constructor(
    /** What was attempted, e.g. `'emit(UserCreated)'`. */
    readonly operation: string,
  ) {
    super(`${operation}: the event bus is closed`)
  }
}

/** True when `error` is a {@link BusClosedError}. */
export function isBusClosedError(error: unknown): error is BusClosedError {
  return hasErrorKind(error, 'BusClosedError')
}

/** An `events()` iterator with `overflow: 'error'` received more events than its buffer holds. */
export class EventBufferOverflowError extends TributaryError {
  constructor(
    /** The event's class name. */
    readonly eventName: string,
    /** The buffer size that was exceeded. */
    readonly bufferSize: number,
  ) {
    super(`events(${eventName}): the consumer fell behind; more than ${bufferSize} events were buffered`)
  }
}

/** True when `error` is an {@link EventBufferOverflowError}. */
export function isEventBufferOverflowError(error: unknown): error is EventBufferOverflowError {
  return hasErrorKind(error, 'EventBufferOverflowError')
}
