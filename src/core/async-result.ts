/**
 * `AsyncResult<T>`: a thenable handle to work that has already started.
 */
import { linkSignals } from './abort'
import { AsyncCancelledError, AsyncTimeoutError } from './errors'
import { AsyncMetrics, type OperationCounter } from './metrics'
import { setLongTimeout } from './timers'
import { checkOptions, checks, type OptionSpec } from './option-checks'

/** Options for {@link AsyncResult.from} and {@link AsyncResult.of}. */
export interface AsyncResultOptions {
  /** A name for the work, used in errors and metrics. Defaults to `'anonymous'`. */
  operation?: string
  /** A parent signal: aborting it cancels the work. */
  signal?: AbortSignal
  /** Where the outcome is recorded. Defaults to `AsyncMetrics.default`. */
  metrics?: AsyncMetrics
}

/** The work given to {@link AsyncResult.from}. It receives the signal that `cancel()` aborts. */
export type AsyncWork<T> = (signal: AbortSignal) => T | PromiseLike<T>

/** The state of an {@link AsyncResult}. */
export type AsyncResultStatus = 'pending' | 'fulfilled' | 'rejected'

const RESULT_OPTIONS: OptionSpec = {
  operation: checks.name,
  signal: checks.signal,
  metrics: (value) => (value instanceof AsyncMetrics ? undefined : 'must be an AsyncMetrics'),
}

/**
 * Whether `options` is certainly good, cheaply (every helper call builds a result): only known
 * keys, each of the right type. When not, {@link RESULT_OPTIONS} gives the verdict and the message.
 */
function plainResultOptions(options: AsyncResultOptions): boolean {
  if (typeof options !== 'object' || options === null) return false
  for (const key in options) if (key !== 'operation' && key !== 'signal' && key !== 'metrics') return false
  const { operation, signal, metrics } = options
  return (
    (operation === undefined || (typeof operation === 'string' && operation.length > 0)) &&
    (signal === undefined || signal instanceof AbortSignal) &&
    (metrics === undefined || metrics instanceof AsyncMetrics)
  )
}

/** Stands for "no source yet": the creator settles the result (see `AsyncResult.deferred`). */
const DEFERRED: unique symbol = Symbol('tributary.deferred')

const PENDING = 0
const FULFILLED = 1
const REJECTED = 2

interface UnobservedRecord {
  readonly metrics: AsyncMetrics
  readonly operation: string
  readonly error: unknown
}

const unobservedRegistry = new FinalizationRegistry<UnobservedRecord>((record) => {
  record.metrics.recordUnobserved(record.operation, record.error)
})

/**
 * A handle to work that has started. `await` it (it is thenable), or use {@link wait},
 * {@link waitWithTimeout}, {@link onError} and {@link cancel}.
 *
 * A failure never becomes an unhandled rejection: hold the result, await it later, or add it
 * to an `AsyncCoordinator`. A failed result that is dropped without anyone reading its error
 * is reported through `AsyncMetrics` (`unobserved`, `onUnobservedError`) when it is collected.
 *
 * @example
 * ```ts
 * import { AsyncResult } from 'tributary'
 * const result = AsyncResult.from((signal) => fetch('http://127.0.0.1:8080', { signal }), {
 *   operation: 'loadHome',
 * })
 * doOtherWork()
 * const response = await result.waitWithTimeout(2_000)
 * ```
 */
export class AsyncResult<T> implements PromiseLike<T> {
  /**
   * Starts `work` now, passing it an `AbortSignal` that {@link cancel} (or the parent
   * `signal` option) aborts. A synchronous throw becomes a rejected result. Work declared
   * without a parameter is given no signal (creating one is costly on Node 20).
   */
  static from<T>(work: AsyncWork<T>, options: AsyncResultOptions = {}): AsyncResult<T> {
    // Creating an AbortSignal costs microseconds on Node 20; work that declares no parameter
    // cannot read one, so it gets none (cancel() still marks the result cancelled).
    if (work.length === 0 && !options.signal) {
      let source: PromiseLike<T> | T
      try {
        source = (work as () => T | PromiseLike<T>)()
      } catch (error) {
        source = Promise.reject(error)
      }
      return new AsyncResult<T>(source, options, undefined)
    }
    const controller = new AbortController()
    const link = options.signal ? linkSignals(options.signal, controller.signal) : undefined
    let source: PromiseLike<T> | T
    try {
      source = work(link ? link.signal : controller.signal)
    } catch (error) {
      source = Promise.reject(error)
    }
    const result = new AsyncResult<T>(source, options, controller)
    if (link) result.settled.then(link.dispose)
    return result
  }

  /** Wraps a promise (or value) that is already under way. */
  static of<T>(promise: PromiseLike<T> | T, options: AsyncResultOptions = {}): AsyncResult<T> {
    return new AsyncResult<T>(promise, options, undefined)
  }

  /** A result already fulfilled with `value`. */
  static resolve<T>(value: T, options: AsyncResultOptions = {}): AsyncResult<T> {
    return new AsyncResult<T>(value, options, undefined)
  }

  /**
   * A pending result settled by its creator with {@link AsyncResult.settle}: no promise is
   * chained per call, for work that settles many results at once (a batched lookup settles
   * each caller's). @internal
   */
  static deferred<T>(options: AsyncResultOptions = {}): AsyncResult<T> {
    return new AsyncResult<T>(DEFERRED as never, options, undefined)
  }

  /** A result already rejected with `error`. */
  static reject<T = never>(error: unknown, options: AsyncResultOptions = {}): AsyncResult<T> {
    return new AsyncResult<T>(Promise.reject(error), options, undefined)
  }

  /** The operation name given at creation. */
  readonly operation: string
  private state: number = PENDING
  private value: T | undefined
  private error: unknown
  private observed = false
  private controller: AbortController | undefined
  private readonly metrics: AsyncMetrics
  /** Fulfils (never rejects) once the work has settled. */
  private readonly settled: Promise<void>

  private constructor(source: PromiseLike<T> | T, options: AsyncResultOptions, controller?: AbortController) {
    if (!plainResultOptions(options)) checkOptions('AsyncResult(options)', options, RESULT_OPTIONS)
    this.operation = options.operation ?? 'anonymous'
    this.controller = controller
    this.metrics = options.metrics ?? AsyncMetrics.default
    this.counter = this.metrics.operation(this.operation)
    this.startedAt = this.counter.begin()
    if ((source as unknown) === DEFERRED) {
      this.settled = new Promise<void>((resolve) => (this.release = resolve))
    } else {
      this.settled = Promise.resolve(source).then(
        (value) => this.fulfil(value),
        (error: unknown) => this.fail(error),
      )
    }
  }

  private readonly counter: OperationCounter
  private readonly startedAt: number
  /** Fulfils `settled` of a {@link deferred} result; `undefined` for any other. */
  private release: (() => void) | undefined

  private fulfil(value: T): void {
    this.value = value
    this.state = FULFILLED
    this.counter.end(this.startedAt, false)
  }

  private fail(error: unknown): void {
    this.error = error
    this.state = REJECTED
    this.counter.end(this.startedAt, true)
    if (!this.observed) {
      unobservedRegistry.register(this, { metrics: this.metrics, operation: this.operation, error }, this)
    }
  }

  /** Settles a {@link deferred} result (the first call wins). @internal */
  static settle<T>(result: AsyncResult<T>, ok: boolean, outcome: unknown): void {
    const release = result.release
    if (release === undefined || result.state !== PENDING) return
    if (ok) result.fulfil(outcome as T)
    else result.fail(outcome)
    release()
  }

  /** True once the work has settled (fulfilled or rejected). */
  get completed(): boolean {
    return this.state !== PENDING
  }

  /** `'pending'`, `'fulfilled'` or `'rejected'`. */
  get status(): AsyncResultStatus {
    return this.state === PENDING ? 'pending' : this.state === FULFILLED ? 'fulfilled' : 'rejected'
  }

  /** The signal the work was given; it aborts on {@link cancel}. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    return this.controller.signal
  }

  /** Promise-compatible `then`; `await result` uses it. */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.markObserved()
    return this.settled.then(() => {
      if (this.state === REJECTED) {
        if (onRejected) return onRejected(this.error)
        throw this.error
      }
      return onFulfilled ? onFulfilled(this.value as T) : (this.value as unknown as R1)
    })
  }

  /** Promise-compatible `catch`. */
  catch<R = never>(onRejected: (reason: unknown) => R | PromiseLike<R>): Promise<T | R> {
    return this.then(undefined, onRejected)
  }

  /** Promise-compatible `finally`. */
  finally(onFinally: () => void): Promise<T> {
    return this.then().finally(onFinally)
  }

  /** A promise of the value. */
  wait(): Promise<T> {
    return this.then()
  }

  /**
   * Waits at most `ms` milliseconds; rejects with an {@link AsyncTimeoutError} naming the
   * operation after that. The work keeps running (call {@link cancel} to stop it) and its
   * eventual failure is observed, never left unhandled. Any duration is kept (past 2³¹−1 ms
   * with chained timers); `Infinity` waits without a limit; a negative or non-number `ms` throws
   * a `RangeError`.
   */
  waitWithTimeout(ms: number): Promise<T> {
    if (typeof ms !== 'number' || !(ms >= 0)) {
      throw new RangeError(
        `waitWithTimeout: ms must be a number of milliseconds >= 0 (or Infinity), got ${String(ms)}`,
      )
    }
    this.markObserved()
    if (this.state !== PENDING || ms === Infinity) return this.wait()
    return new Promise<T>((resolve, reject) => {
      const timer = setLongTimeout(() => reject(new AsyncTimeoutError(this.operation, ms)), ms)
      this.then(resolve, reject).finally(() => timer.clear())
    })
  }

  /**
   * A new result that recovers from a failure with `handler`'s value. Cancelling the new
   * result cancels this one.
   */
  onError<R = T>(handler: (error: unknown) => R | PromiseLike<R>): AsyncResult<T | R> {
    const recovered = new AsyncResult<T | R>(this.then(undefined, handler), {
      operation: this.operation,
      metrics: this.metrics,
    })
    recovered.controller = this.controller ??= new AbortController()
    return recovered
  }

  /**
   * Aborts the signal the work was given. Work that honours its signal stops and the result
   * rejects with the abort reason (an {@link AsyncCancelledError} unless `reason` is given).
   */
  cancel(reason?: unknown): void {
    this.controller ??= new AbortController()
    if (!this.controller.signal.aborted) {
      this.controller.abort(reason ?? new AsyncCancelledError(this.operation))
    }
  }

  private markObserved(): void {
    if (this.observed) return
    this.observed = true
    if (this.state === REJECTED) unobservedRegistry.unregister(this)
  }
}

/** True when `value` is an {@link AsyncResult} (from any installed copy) or any thenable. */
export function isThenable<T = unknown>(value: unknown): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
