/**
 * Per-handler options (`concurrency`, `timeout`, `retry`, `rateLimit`, `partitionBy`), their
 * checks, and the invoker they compile to. A handler registered without any of them takes the
 * bus's fast path instead.
 *
 * Waiting and timing an invocation cost O(1): queues are ring buffers, each timed or retried
 * invocation gets its own `AbortController` kept in a set, and the invoker holds at most one
 * listener on the bus's lifetime signal (only while it has invocations in flight). When the
 * bus gives up on its handlers, that one listener fails every waiter and aborts every
 * controller.
 */
import { AsyncTimeoutError } from '../core/errors'
import { Deque } from '../core/deque'
import { MAX_TIMER_DELAY, setLongTimeout, type LongTimer } from '../core/timers'
import { describeValue, durationProblem, unknownOption } from '../core/option-checks'
import { didYouMean } from '../core/suggest'
import { retryInputProblem, retryPolicy, type RetryInput } from '../resilience/retry'
import type { ResiliencePolicy } from '../resilience/policy'
import { EventBusOptionsError, RateLimitError } from './errors'
import { ConcurrencyLimiter, RateLimiter } from './limiters'
import type { EventHandler, HandlerContext } from './types'

/** What a handler does when its {@link RateLimitOptions} limit is reached. */
export type RateLimitAction = 'queue' | 'drop' | 'error'

/** At most `max` invocations of a handler start in any window of `windowMs` (a sliding window). */
export interface RateLimitOptions {
  /** Invocations allowed per window. */
  max: number
  /** The window, in milliseconds. */
  windowMs: number
  /**
   * Over the limit: `'queue'` waits (FIFO) until the window has room; `'drop'` skips the
   * invocation (counted in `EmitResult.dropped`); `'error'` fails it with a `RateLimitError`.
   * Defaults to `'queue'`.
   */
  onLimit?: RateLimitAction
}

/**
 * Options for `bus.on`, `bus.onFallible` and `bus.onAny`.
 *
 * @example
 * ```ts
 * import { AsyncEventBus } from 'tributary'
 * const bus = new AsyncEventBus()
 * bus.on(UserCreated, async (e, { signal }) => sendWelcome(e.email, signal), {
 *   concurrency: 10,
 *   timeout: 5_000,
 *   retry: { attempts: 3, initialDelay: 200 },
 *   rateLimit: { max: 100, windowMs: 1_000, onLimit: 'queue' },
 * })
 * bus.on(OrderPlaced, (e) => ship(e), { partitionBy: (e) => e.customerId, concurrency: 10 })
 * ```
 */
export interface HandlerOptions<E extends object = object> {
  /** The name used in `HandlerError`s and timeouts. Defaults to the function's name, or `'anonymous'`. */
  name?: string
  /**
   * At most this many calls of this handler run at once; further invocations wait in FIFO
   * order. A slot is held until the handler's own promise settles (even past a timeout), so
   * the bound holds for handlers that ignore their signal. Defaults to no limit.
   */
  concurrency?: number
  /**
   * Milliseconds each attempt may take: then the handler's `signal` aborts and the invocation
   * fails with an `AsyncTimeoutError`. Defaults to no timeout.
   */
  timeout?: number
  /**
   * Retries after a failure: a count or full `RetryOptions` (backoff, jitter, `retryIf`). When
   * the last attempt fails, the event and the error also go to `bus.onDeadLetter` listeners.
   * Defaults to none.
   */
  retry?: RetryInput
  /** A sliding-window rate limit on invocations. Defaults to none. */
  rateLimit?: RateLimitOptions
  /**
   * Also receive events whose class extends the registered one (`bus.on(DomainEvent, …,
   * { inherited: true })` hears `UserCreated extends DomainEvent`). Defaults to `false`.
   */
  inherited?: boolean
  /** Aborting it removes the handler (as calling the unsubscribe function does). */
  signal?: AbortSignal
  /**
   * Per-key ordering: events for which this returns the same key (compared as `Map` keys
   * compare) are handled one at a time, in emit order, retries included; events with
   * different keys run concurrently (up to `concurrency`, when given). Defaults to no
   * partitioning.
   */
  partitionBy?(event: E): unknown
}

/** An invocation's outcome when it did not run the handler. @internal */
export const DROPPED: unique symbol = Symbol('tributary.events.dropped')
/** The handler was removed before a queued invocation could start. @internal */
export const SKIPPED: unique symbol = Symbol('tributary.events.skipped')

/** Runs one invocation with the handler's options applied. @internal */
export type Invoker = (event: object) => Promise<unknown>

/** Names used in errors. @internal */
export interface InvocationLabels {
  readonly method: string
  readonly handlerName: string
  readonly eventName: string
}

/** Where the invoker reports an invocation whose last attempt failed. @internal */
export type DeadLetterSink = (event: object, error: unknown, attempts: number) => void

/** The option names each bus method accepts. @internal */
export const HANDLER_OPTION_KEYS = [
  'name',
  'concurrency',
  'timeout',
  'retry',
  'rateLimit',
  'inherited',
  'signal',
  'partitionBy',
] as const
const ANY_HANDLER_OPTION_KEYS = HANDLER_OPTION_KEYS.filter((k) => k !== 'inherited')
const RATE_LIMIT_KEYS = ['max', 'windowMs', 'onLimit']

/** A checker bound to one call: `fail(option, problem)` throws the typed error. @internal */
export type OptionFailure = (option: string | undefined, problem: string) => never

/** Builds the `fail` of a call. @internal */
export function optionFailure(
  labels: Omit<InvocationLabels, 'handlerName'> & { handlerName?: string },
): OptionFailure {
  return (option, problem) => {
    throw new EventBusOptionsError(labels.method, option, labels.eventName, labels.handlerName, problem)
  }
}

/** Refuses keys not in `known`, suggesting the closest one. @internal */
export function checkKnownKeys(
  options: object,
  known: readonly string[],
  fail: OptionFailure,
  prefix = '',
): void {
  const unknown = unknownOption(options, known)
  if (unknown !== undefined)
    fail(`${prefix}${unknown}`, `unknown option${didYouMean(unknown, known, prefix)}`)
}

/** Refuses anything but a plain options object (or `undefined`). @internal */
export function checkOptionsObject(
  options: unknown,
  fail: OptionFailure,
): asserts options is object | undefined {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    fail(undefined, `the options must be an object, got ${describeValue(options)}`)
}

/** A positive finite number of milliseconds, or undefined. @internal */
export function checkDuration(value: unknown, option: string, fail: OptionFailure): void {
  const problem = durationProblem(value, { positive: true, finite: true })
  if (problem !== undefined) fail(option, problem)
}

/** A signal, or undefined. @internal */
export function checkSignal(value: unknown, fail: OptionFailure): void {
  if (value !== undefined && !(value instanceof AbortSignal))
    fail('signal', `must be an AbortSignal, got ${describeValue(value)}`)
}

/**
 * Checks handler options and reports the method, handler, event class and option at fault
 * with an `EventBusOptionsError` (with a suggestion for a misspelt name). @internal
 */
export function validateHandlerOptions(options: unknown, labels: InvocationLabels, any: boolean): void {
  const fail = optionFailure(labels)
  checkOptionsObject(options, fail)
  if (options === undefined) return
  checkKnownKeys(options, any ? ANY_HANDLER_OPTION_KEYS : HANDLER_OPTION_KEYS, fail)
  const o = options as Record<string, unknown>
  if (o.name !== undefined && typeof o.name !== 'string')
    fail('name', `must be a string, got ${describeValue(o.name)}`)
  if (o.concurrency !== undefined && !(Number.isInteger(o.concurrency) && (o.concurrency as number) >= 1)) {
    fail('concurrency', `must be an integer >= 1, got ${describeValue(o.concurrency)}`)
  }
  checkDuration(o.timeout, 'timeout', fail)
  const retryProblem = retryInputProblem(o.retry)
  if (retryProblem !== undefined) fail('retry', retryProblem)
  if (o.inherited !== undefined && typeof o.inherited !== 'boolean')
    fail('inherited', `must be true or false, got ${describeValue(o.inherited)}`)
  checkSignal(o.signal, fail)
  if (o.partitionBy !== undefined && typeof o.partitionBy !== 'function')
    fail('partitionBy', `must be a function of the event, got ${describeValue(o.partitionBy)}`)
  const rateLimit = o.rateLimit
  if (rateLimit !== undefined) {
    if (typeof rateLimit !== 'object' || rateLimit === null)
      fail('rateLimit', `must be { max, windowMs, onLimit? }, got ${describeValue(rateLimit)}`)
    checkKnownKeys(rateLimit as object, RATE_LIMIT_KEYS, fail, 'rateLimit.')
    const { max, windowMs, onLimit } = rateLimit as Record<string, unknown>
    if (!(Number.isInteger(max) && (max as number) >= 1))
      fail('rateLimit.max', `must be an integer >= 1, got ${describeValue(max)}`)
    if (!(typeof windowMs === 'number' && Number.isFinite(windowMs) && windowMs > 0))
      fail('rateLimit.windowMs', `must be a finite number of ms > 0, got ${describeValue(windowMs)}`)
    if (onLimit !== undefined && onLimit !== 'queue' && onLimit !== 'drop' && onLimit !== 'error')
      fail('rateLimit.onLimit', `must be 'queue', 'drop' or 'error', got ${describeValue(onLimit)}`)
  }
}

/** True when the options need the invoker (anything but `name`, `inherited`, `signal`). @internal */
export function needsInvoker(options: HandlerOptions | undefined): boolean {
  return (
    options !== undefined &&
    (options.concurrency !== undefined ||
      options.timeout !== undefined ||
      options.retry !== undefined ||
      options.rateLimit !== undefined ||
      options.partitionBy !== undefined)
  )
}

/**
 * The context of a timed attempt. Its signal is made only when the handler reads it (most
 * handlers never do), and aborts on the attempt's timeout or when the bus gives up.
 */
class TimedContext implements HandlerContext {
  private controller: AbortController | undefined = undefined
  private aborted = false
  private reason: unknown = undefined

  constructor(
    readonly attempt: number,
    private readonly parent: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
      else if (this.parent.aborted) this.controller.abort(this.parent.reason)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.controller?.abort(reason)
  }
}

interface LaneWaiter {
  readonly event: object
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** The events of one `partitionBy` key: the queue behind the one in flight. */
interface Lane {
  readonly queue: Deque<LaneWaiter>
  /** Starts the next queued event once the one in flight settles; forgets the key when none is left. */
  readonly advance: () => void
  /** `leave()` then `advance()`: what a settled invocation of the lane's fast path calls. */
  readonly settle: () => void
}

/**
 * Compiles options into an invoker: partition lane (per key, the whole invocation) → rate
 * limit (once per invocation) → retry → per attempt: concurrency slot → timeout → handler.
 * Resolves to {@link DROPPED} or {@link SKIPPED} when the handler did not run. Options must
 * have been checked with {@link validateHandlerOptions}. @internal
 */
export function compileInvoker(
  handler: EventHandler<object>,
  options: HandlerOptions,
  labels: InvocationLabels,
  lifetime: AbortSignal,
  isActive: () => boolean,
  deadLetter: DeadLetterSink,
): Invoker {
  const limiter = options.concurrency === undefined ? undefined : new ConcurrencyLimiter(options.concurrency)
  const rate = options.rateLimit
  const rateLimiter = rate === undefined ? undefined : new RateLimiter(rate.max, rate.windowMs)
  const onLimit = rate?.onLimit ?? 'queue'
  const retry: ResiliencePolicy | undefined =
    options.retry === undefined ? undefined : retryPolicy(options.retry)
  const timeout = options.timeout
  const longTimeout = timeout !== undefined && timeout > MAX_TIMER_DELAY
  const partitionBy = options.partitionBy
  const operation = `${labels.eventName} handler ${labels.handlerName}`

  // Invocations in flight, the controllers they own, and the one lifetime listener.
  const controllers = new Set<{ abort(reason: unknown): void }>()
  const lanes = new Map<unknown, Lane>()
  let inflight = 0
  const onLifetimeAbort = (): void => {
    const reason: unknown = lifetime.reason
    limiter?.rejectAll(reason)
    rateLimiter?.rejectAll(reason)
    for (const controller of controllers) controller.abort(reason)
    controllers.clear()
    for (const lane of lanes.values()) for (const waiter of lane.queue.drain()) waiter.reject(reason)
    lanes.clear()
  }
  const enter = (): void => {
    if (inflight++ === 0) lifetime.addEventListener('abort', onLifetimeAbort, { once: true })
  }
  const leave = (): void => {
    if (--inflight === 0) lifetime.removeEventListener('abort', onLifetimeAbort)
  }

  const attempt = (event: object, signal: AbortSignal, attemptNumber: number): Promise<unknown> => {
    if (limiter) {
      const wait = limiter.acquire()
      if (wait) return wait.then(() => start(event, signal, attemptNumber))
    }
    return start(event, signal, attemptNumber)
  }

  const start = (event: object, signal: AbortSignal, attemptNumber: number): Promise<unknown> => {
    if (!isActive()) {
      limiter?.release()
      return Promise.resolve(SKIPPED)
    }
    const timed = timeout === undefined ? undefined : new TimedContext(attemptNumber, signal)
    const context: HandlerContext = timed ?? { signal, attempt: attemptNumber }
    let call: Promise<unknown>
    try {
      call = Promise.resolve(handler(event, context))
    } catch (error) {
      call = Promise.reject(error)
    }
    if (limiter) call.then(limiter.release, limiter.release)
    if (timed === undefined || timeout === undefined) return call
    controllers.add(timed)
    return new Promise<unknown>((resolve, reject) => {
      const onTimeout = (): void => {
        const error = new AsyncTimeoutError(operation, timeout)
        controllers.delete(timed)
        timed.abort(error)
        reject(error)
      }
      // Node fires a timer of more than 2^31-1 ms after 1 ms: such a timeout is chained.
      const timer = longTimeout ? setLongTimeout(onTimeout, timeout) : setTimeout(onTimeout, timeout)
      const stop = (): void => {
        if (longTimeout) (timer as LongTimer).clear()
        else clearTimeout(timer as ReturnType<typeof setTimeout>)
        controllers.delete(timed)
      }
      call.then(
        (value) => {
          stop()
          resolve(value)
        },
        (error: unknown) => {
          stop()
          reject(error)
        },
      )
    })
  }

  const withRetry = async (event: object): Promise<unknown> => {
    if (!retry) return attempt(event, lifetime, 0)
    const controller = new AbortController()
    controllers.add(controller)
    let attempts = 0
    try {
      return await retry.execute((context) => {
        attempts = context.attempt + 1
        return attempt(event, context.signal, context.attempt)
      }, controller.signal)
    } catch (error) {
      if (!lifetime.aborted) deadLetter(event, error, attempts)
      throw error
    } finally {
      controllers.delete(controller)
    }
  }

  /** Runs one invocation; `lane`, for a partitioned handler, is advanced once it settles. */
  const run = (event: object, lane?: Lane): Promise<unknown> => {
    if (lifetime.aborted) return Promise.reject(lifetime.reason)
    if (rateLimiter === undefined && retry === undefined) {
      enter()
      const result = attempt(event, lifetime, 0)
      const done = lane === undefined ? leave : lane.settle
      result.then(done, done)
      return result
    }
    const result = runLimited(event)
    if (lane !== undefined) result.then(lane.advance, lane.advance)
    return result
  }

  const runLimited = async (event: object): Promise<unknown> => {
    enter()
    try {
      if (rateLimiter && !rateLimiter.tryAdmit()) {
        if (onLimit === 'drop') return DROPPED
        if (onLimit === 'error')
          throw new RateLimitError(labels.handlerName, labels.eventName, rate?.max ?? 0, rate?.windowMs ?? 0)
        await rateLimiter.wait()
      }
      if (!isActive()) return SKIPPED
      return await withRetry(event)
    } finally {
      leave()
    }
  }

  if (partitionBy === undefined) return run

  const lane = (key: unknown): Lane => {
    const created: Lane = {
      queue: new Deque<LaneWaiter>(4),
      advance: () => {
        const waiter = created.queue.shift()
        if (waiter === undefined) {
          if (lanes.get(key) === created) lanes.delete(key)
          return
        }
        run(waiter.event, created).then(waiter.resolve, waiter.reject)
      },
      settle: () => {
        leave()
        created.advance()
      },
    }
    lanes.set(key, created)
    return created
  }
  // A waiter in a lane needs no lifetime listener of its own: its lane's head is in flight
  // (so the invoker listens), and the abort handler empties every lane.
  return (event: object): Promise<unknown> => {
    let key: unknown
    try {
      key = partitionBy(event)
    } catch (error) {
      return Promise.reject(error)
    }
    const existing = lanes.get(key)
    if (existing !== undefined) {
      return new Promise<unknown>((resolve, reject) => existing.queue.push({ event, resolve, reject }))
    }
    return run(event, lane(key))
  }
}
