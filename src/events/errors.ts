/**
 * Errors raised by the event bus.
 */
import { TributaryError, describeCause, hasErrorKind } from '../core/errors'

const KINDS = Symbol.for('tributary.error.kinds')

/**
 * One handler failed while an event was delivered. `emit` rejects with an {@link EmitError}
 * whose `errors` are these; `onFallible` failures appear in `EmitResult.errors` (the resolved
 * result, or the rejection's `result`).
 *
 * @example
 * ```ts
 * import { isEmitError } from 'tributary'
 * try { await bus.emit(new UserCreated(1)) } catch (e) {
 *   if (isEmitError(e)) for (const failure of e.errors) console.error(failure.handlerName, failure.cause)
 * }
 * ```
 */
export class HandlerError extends TributaryError {
  static override readonly kind: string = 'HandlerError'

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
  static override readonly kind: string = 'RateLimitError'

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
  static override readonly kind: string = 'BusClosedError'

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
  static override readonly kind: string = 'EventBufferOverflowError'

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

/**
 * An awaited `emit` (or `emitSerial`) in which at least one `on` handler failed. It is an
 * `AggregateError` whose `errors` are the `on` handlers' {@link HandlerError}s in registration
 * order; `result` is the `EmitResult` the emit would have resolved with, so the failures of
 * `onFallible` handlers in the same emit (`result.errors`) are not lost.
 *
 * @example
 * ```ts
 * import { isEmitError } from 'tributary'
 * try { await bus.emit(new UserCreated(1)) } catch (e) {
 *   if (isEmitError(e)) console.error(e.errors.length, 'failed;', e.result.errors.length, 'fallible failed')
 * }
 * ```
 */
export class EmitError extends AggregateError {
  static readonly kind: string = 'EmitError'

  declare readonly errors: HandlerError[]
  /** The event's class name. */
  readonly eventName: string
  /** What the emit would have resolved with: `handled`, `dropped`, the fallible `errors`, `durationMs`. */
  readonly result: EmitResult

  constructor(eventName: string, failures: HandlerError[], result: EmitResult) {
    const total = result.handled + result.dropped + failures.length + result.errors.length
    const names = failures.map((f) => f.handlerName).join(', ')
    const fallible = result.errors.length > 0 ? ` (and ${result.errors.length} fallible)` : ''
    super(failures, `${failures.length} of ${total} handlers failed for ${eventName}: ${names}${fallible}`)
    this.eventName = eventName
    this.result = result
    Object.defineProperty(this, KINDS, {
      value: new Set(['EmitError', 'AggregateError', 'TributaryError']),
      enumerable: false,
    })
  }

  /** `'EmitError'`. */
  override get name(): string {
    return 'EmitError'
  }
}

/** True when `error` is an {@link EmitError}. */
export function isEmitError(error: unknown): error is EmitError {
  return hasErrorKind(error, 'EmitError')
}

/**
 * A bus method was called with an option it does not know or a value it cannot take:
 * `bus.on(UserCreated, h, { concurency: 2 })`, `bus.once(UserCreated, { timeout: -1 })`. Thrown
 * at the call (or, for `once`, the returned promise rejects with it).
 */
export class EventBusOptionsError extends TributaryError {
  static override readonly kind: string = 'EventBusOptionsError'

  constructor(
    /** The bus method, e.g. `'on'`, `'once'`, `'events'`. */
    readonly method: string,
    /** The option at fault (`'concurrency'`, `'rateLimit.max'`, …), or `undefined` for the options object itself. */
    readonly option: string | undefined,
    /** The event class name, or `'any event'` for `onAny`. */
    readonly eventName: string,
    /** The handler's name, when there is a handler. */
    readonly handlerName: string | undefined,
    problem: string,
  ) {
    const handler = handlerName === undefined ? '' : ` handler "${handlerName}"`
    const target = option === undefined ? '' : ` option "${option}":`
    super(`AsyncEventBus.${method}(${eventName})${handler}:${target} ${problem}`)
  }
}

/** True when `error` is an {@link EventBusOptionsError}. */
export function isEventBusOptionsError(error: unknown): error is EventBusOptionsError {
  return hasErrorKind(error, 'EventBusOptionsError')
}

/**
 * What was passed is not an event the bus can deliver, or not an event class it can listen
 * to: a primitive, an object with no constructor (`Object.create(null)`), `null` where a class
 * belongs, or one of the bus's own meta events (`ListenerAdded`, `ListenerRemoved`), which
 * only the bus emits.
 */
export class InvalidEventError extends TributaryError {
  static override readonly kind: string = 'InvalidEventError'

  constructor(
    /** The bus method, e.g. `'emit'`, `'on'`. */
    readonly method: string,
    problem: string,
  ) {
    super(`AsyncEventBus.${method}: ${problem}`)
  }
}

/** True when `error` is an {@link InvalidEventError}. */
export function isInvalidEventError(error: unknown): error is InvalidEventError {
  return hasErrorKind(error, 'InvalidEventError')
}

/** What `emit` (and each entry of the batch emits) resolves with. */
export interface EmitResult {
  /** How many handlers ran to completion without failing. */
  readonly handled: number
  /** How many invocations a `rateLimit` with `onLimit: 'drop'` dropped. */
  readonly dropped: number
  /**
   * Failures of `onFallible` handlers. (A failure of an `on` handler makes `emit` reject with
   * an `EmitError`, whose `result` is this result, these errors included.)
   */
  readonly errors: readonly HandlerError[]
  /** Wall time from the emit call until every handler settled, in ms. */
  readonly durationMs: number
}
