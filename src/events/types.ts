/**
 * The shapes shared by the event bus, its handler options and its iterator.
 */
import type { EmitResult } from './errors'

/**
 * An event class: `bus.emit(new UserCreated(1))` reaches handlers registered with
 * `bus.on(UserCreated, …)`. Any class works, abstract ones included.
 */
export type EventClass<E extends object = object> = abstract new (...args: never[]) => E

/** What every handler receives besides the event. */
export interface HandlerContext {
  /**
   * Aborts when the handler's `timeout` passes (reason: an `AsyncTimeoutError`) or when
   * `bus.close()` gives up waiting. Pass it on to `fetch`, database calls, and so on.
   */
  readonly signal: AbortSignal
  /** 0 for the first attempt, 1 for the first retry (with the `retry` option), and so on. */
  readonly attempt: number
}

/**
 * A handler for events of type `E`. It may be synchronous or return a promise; either way its
 * failure is reported, never lost.
 */
export type EventHandler<E> = (event: E, context: HandlerContext) => unknown

// Declared beside the errors, which carry it (EmitError.result): one module, no import cycle.
export type { EmitResult } from './errors'

/** The outcome of one event in `emitBatchConcurrent` / `emitBatchSequential`. */
export type EmitOutcome<E extends object = object> =
  | { readonly status: 'fulfilled'; readonly event: E; readonly result: EmitResult }
  | { readonly status: 'rejected'; readonly event: E; readonly reason: unknown }

/**
 * An unsubscribe function returned by `on`, `onFallible` and `onAny`; also `Disposable`, so
 * `using off = bus.on(…)` unsubscribes at the end of the block. Calling it twice is harmless.
 */
export interface Unsubscribe extends Disposable {
  (): void
}

/** Receives failures nobody awaited: those of `emitAndForget` (see `bus.onError`). */
export type BusErrorListener = (error: unknown, event: object) => void

/** What `bus.onDeadLetter` listeners receive: an invocation that failed after its last attempt. */
export interface DeadLetter<E extends object = object> {
  /** The event that could not be handled. */
  readonly event: E
  /** The event's class name. */
  readonly eventName: string
  /** The handler's name. */
  readonly handlerName: string
  /** The last attempt's error. */
  readonly error: unknown
  /** How many attempts were made (1 + the retries). */
  readonly attempts: number
}

/** Receives {@link DeadLetter}s (see `bus.onDeadLetter`). */
export type DeadLetterListener = (letter: DeadLetter) => void

/** The kinds of action a debug logger is told about. */
export type DebugAction = 'subscribe' | 'unsubscribe' | 'emit' | 'emitSerial' | 'clear'

/**
 * A debug logger: called with the kind of action, the bus's debug name, the event class
 * (`undefined` for `onAny` and for a `clear()` of everything) and, for emits, the event.
 */
export type DebugLogger = (
  action: DebugAction,
  busName: string,
  eventClass: EventClass | undefined,
  event: object | undefined,
) => void

/** The `debug` option of `new AsyncEventBus()`, in the spirit of emittery's. */
export interface DebugOptions {
  /** The name printed with every line, to tell buses apart. */
  name: string
  /**
   * Whether this bus logs. Defaults to `false` (then it logs only while `AsyncEventBus.isDebug`
   * is true, which `DEBUG=tributary` or `DEBUG=*` in the environment turns on).
   */
  enabled?: boolean
  /** Receives each action. Defaults to one `console.debug` line per action. */
  logger?: DebugLogger
}
