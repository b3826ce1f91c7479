/**
 * The shapes shared by the event bus, its handler options and its iterator.
 */
import type { HandlerError } from './errors'

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

/** What `emit` (and each entry of the batch emits) resolves with. */
export interface EmitResult {
  /** How many handlers ran to completion without failing. */
  readonly handled: number
  /** How many invocations a `rateLimit` with `onLimit: 'drop'` dropped. */
  readonly dropped: number
  /**
   * Failures of `onFallible` handlers. (A failure of an `on` handler makes `emit` reject
   * instead.)
   */
  readonly errors: readonly HandlerError[]
  /** Wall time from the emit call until every handler settled, in ms. */
  readonly durationMs: number
}

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
