/**
 * Errors raised while carrying bus events between processes.
 */
import { TributaryError, describeCause, hasErrorKind } from '../core/errors'
import { specProblem, type OptionSpec } from '../core/option-checks'

/** Why a received message could not be turned back into an event. */
export type DecodeProblem = 'unknown-event' | 'unknown-version' | 'bad-payload'

/**
 * A received message could not be decoded: its event name is not in the registry, its version
 * is not the registered one, or its payload is not valid. The message goes to the dead letters
 * with this error; the consumer keeps going.
 *
 * @example
 * ```ts
 * import { isEventDecodeError } from 'tributary'
 * bridge.onDeadLetter((letter) => { if (isEventDecodeError(letter.error)) console.warn(letter.error.problem) })
 * ```
 */
export class EventDecodeError extends TributaryError {
  static override readonly kind: string = 'EventDecodeError'

  constructor(
    /** What is wrong with the message. */
    readonly problem: DecodeProblem,
    /** The event name the message carried (`''` when it had none). */
    readonly eventName: string,
    /** The version the message carried (`NaN` when it had none). */
    readonly version: number,
    detail: string,
    cause?: unknown,
  ) {
    super(`cannot decode event ${JSON.stringify(eventName)} v${version}: ${detail}`, { cause })
  }
}

/** True when `error` is an {@link EventDecodeError}. */
export function isEventDecodeError(error: unknown): error is EventDecodeError {
  return hasErrorKind(error, 'EventDecodeError')
}

/** An event class was registered twice, or an event was encoded whose class is not registered. */
export class EventRegistryError extends TributaryError {
  static override readonly kind: string = 'EventRegistryError'

  constructor(
    /** The event class name concerned. */
    readonly eventName: string,
    problem: string,
  ) {
    super(`event registry: ${eventName}: ${problem}`)
  }
}

/** True when `error` is an {@link EventRegistryError}. */
export function isEventRegistryError(error: unknown): error is EventRegistryError {
  return hasErrorKind(error, 'EventRegistryError')
}

/** Bad options given to a transport or to `bus.bridge()`: names the option and what is wrong. */
export class TransportOptionsError extends TributaryError {
  static override readonly kind: string = 'TransportOptionsError'

  constructor(
    /** Where the options were given, e.g. `redisStreamsTransport` or `bridge`. */
    readonly where: string,
    /** The option at fault. */
    readonly option: string,
    problem: string,
  ) {
    super(`${where}: option \`${option}\` ${problem}`)
  }
}

/**
 * Checks the options given to `where` (a transport factory, `bridge`, `idempotent`) with the
 * shared checker: unknown keys refused with a suggestion, types and ranges checked, as a
 * {@link TransportOptionsError} naming `where` and the option. @internal
 */
export function checkTransportOptions(where: string, options: unknown, spec: OptionSpec): void {
  if (options === undefined) return
  const problem = specProblem(options, spec)
  if (problem === undefined) return
  const text = problem.text.startsWith('unknown option')
    ? `is not an option of ${where}${problem.text.replace(/^unknown option "[^"]*"/, '')}`
    : problem.text
  throw new TransportOptionsError(where, problem.option ?? 'options', text)
}

/** True when `error` is a {@link TransportOptionsError}. */
export function isTransportOptionsError(error: unknown): error is TransportOptionsError {
  return hasErrorKind(error, 'TransportOptionsError')
}

/** A transport operation (publish, subscribe, ack, dead-letter) failed at the server. */
export class TransportError extends TributaryError {
  static override readonly kind: string = 'TransportError'

  constructor(
    /** The transport's name, `redis-streams` or `nats`. */
    readonly transport: string,
    /** The operation, e.g. `publish(UserCreated)`. */
    readonly operation: string,
    cause: unknown,
  ) {
    super(`${transport}: ${operation} failed: ${describeCause(cause)}`, { cause })
  }
}

/** True when `error` is a {@link TransportError}. */
export function isTransportError(error: unknown): error is TransportError {
  return hasErrorKind(error, 'TransportError')
}

/** The transport was used after `close()`. */
export class TransportClosedError extends TributaryError {
  static override readonly kind: string = 'TransportClosedError'

  constructor(
    /** The transport's name. */
    readonly transport: string,
    /** What was attempted. */
    readonly operation: string,
  ) {
    super(`${transport}: ${operation} after close()`)
  }
}

/** True when `error` is a {@link TransportClosedError}. */
export function isTransportClosedError(error: unknown): error is TransportClosedError {
  return hasErrorKind(error, 'TransportClosedError')
}

/**
 * An idempotent handler found its key claimed by another delivery still in progress (another
 * instance holds it, or a dead one's lease has not expired): the delivery is not acknowledged,
 * so it comes back after its backoff.
 */
export class IdempotencyBusyError extends TributaryError {
  static override readonly kind: string = 'IdempotencyBusyError'

  constructor(
    /** The idempotency key (no payload). */
    readonly key: string,
  ) {
    super(`idempotency key ${JSON.stringify(key)} is held by another delivery in progress`)
  }
}

/** True when `error` is an {@link IdempotencyBusyError}. */
export function isIdempotencyBusyError(error: unknown): error is IdempotencyBusyError {
  return hasErrorKind(error, 'IdempotencyBusyError')
}
