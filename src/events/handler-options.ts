/**
 * Per-handler options (`concurrency`, `timeout`, `retry`, `rateLimit`) and the invoker they
 * compile to. A handler registered without any of them takes the bus's fast path instead.
 */
import { linkSignals } from '../core/abort'
import { AsyncTimeoutError } from '../core/errors'
import { retryPolicy, type RetryInput } from '../resilience/retry'
import type { ResiliencePolicy } from '../resilience/policy'
import { RateLimitError } from './errors'
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
 * ```
 */
export interface HandlerOptions {
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
  /** Retries after a failure: a count or full `RetryOptions` (backoff, jitter, `retryIf`). Defaults to none. */
  retry?: RetryInput
  /** A sliding-window rate limit on invocations. Defaults to none. */
  rateLimit?: RateLimitOptions
  /**
   * Also receive events whose class extends the registered one (`bus.on(DomainEvent, …,
   * { inherited: true })` hears `UserCreated extends DomainEvent`). Defaults to `false`.
   */
  inherited?: boolean
}

/** An invocation's outcome when it did not run the handler. @internal */
export const DROPPED: unique symbol = Symbol('tributary.events.dropped')
/** The handler was removed before a queued invocation could start. @internal */
export const SKIPPED: unique symbol = Symbol('tributary.events.skipped')

/** Runs one invocation with the handler's options applied. @internal */
export type Invoker = (event: object) => Promise<unknown>

/** Names used in errors. @internal */
export interface InvocationLabels {
  readonly handlerName: string
  readonly eventName: string
}

function invalid(labels: InvocationLabels, property: string, value: unknown, expected: string): RangeError {
  return new RangeError(
    `AsyncEventBus: option "${property}" of handler "${labels.handlerName}" for ${labels.eventName} must be ${expected}, got ${String(value)}`,
  )
}

/** Checks options and reports the handler, event class and property at fault. @internal */
export function validateHandlerOptions(options: HandlerOptions, labels: InvocationLabels): void {
  const { concurrency, timeout, rateLimit } = options
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw invalid(labels, 'concurrency', concurrency, 'an integer >= 1')
  }
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw invalid(labels, 'timeout', timeout, 'a finite number of ms > 0')
  }
  if (rateLimit !== undefined) {
    if (!(Number.isInteger(rateLimit.max) && rateLimit.max >= 1)) {
      throw invalid(labels, 'rateLimit.max', rateLimit.max, 'an integer >= 1')
    }
    if (!(Number.isFinite(rateLimit.windowMs) && rateLimit.windowMs > 0)) {
      throw invalid(labels, 'rateLimit.windowMs', rateLimit.windowMs, 'a finite number of ms > 0')
    }
    const action = rateLimit.onLimit
    if (action !== undefined && action !== 'queue' && action !== 'drop' && action !== 'error') {
      throw invalid(labels, 'rateLimit.onLimit', action, "'queue', 'drop' or 'error'")
    }
  }
}

/** True when the options need the invoker (anything but `name` / `inherited`). @internal */
export function needsInvoker(options: HandlerOptions | undefined): boolean {
  return (
    options !== undefined &&
    (options.concurrency !== undefined ||
      options.timeout !== undefined ||
      options.retry !== undefined ||
      options.rateLimit !== undefined)
  )
}

/**
 * Compiles options into an invoker: rate limit (once per invocation) → retry → per attempt:
 * concurrency slot → timeout → handler. Resolves to {@link DROPPED} or {@link SKIPPED} when
 * the handler did not run. @internal
 */
export function compileInvoker(
  handler: EventHandler<object>,
  options: HandlerOptions,
  labels: InvocationLabels,
  lifetime: AbortSignal,
  isActive: () => boolean,
): Invoker {
  validateHandlerOptions(options, labels)
  const limiter = options.concurrency === undefined ? undefined : new ConcurrencyLimiter(options.concurrency)
  const rate = options.rateLimit
  const rateLimiter = rate === undefined ? undefined : new RateLimiter(rate.max, rate.windowMs)
  const onLimit = rate?.onLimit ?? 'queue'
  const max = rate?.max ?? 0
  const windowMs = rate?.windowMs ?? 0
  const retry: ResiliencePolicy | undefined =
    options.retry === undefined ? undefined : retryPolicy(options.retry)
  const timeout = options.timeout
  const operation = `${labels.eventName} handler ${labels.handlerName}`

  const attempt = async (event: object, signal: AbortSignal, attemptNumber: number): Promise<unknown> => {
    if (limiter) {
      const wait = limiter.acquire(signal)
      if (wait) await wait
    }
    if (!isActive()) {
      limiter?.release()
      return SKIPPED
    }
    let call: Promise<unknown>
    const link = timeout === undefined ? undefined : linkSignals(signal)
    const context: HandlerContext = { signal: link ? link.signal : signal, attempt: attemptNumber }
    try {
      call = Promise.resolve(handler(event, context))
    } catch (error) {
      call = Promise.reject(error)
    }
    if (limiter) call.then(limiter.release, limiter.release)
    if (link === undefined || timeout === undefined) return call
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new AsyncTimeoutError(operation, timeout)
        link.abort(error)
        reject(error)
      }, timeout)
      call.then(
        (value) => {
          clearTimeout(timer)
          link.dispose()
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          link.dispose()
          reject(error)
        },
      )
    })
  }

  return async (event: object): Promise<unknown> => {
    if (rateLimiter && !rateLimiter.tryAdmit()) {
      if (onLimit === 'drop') return DROPPED
      if (onLimit === 'error') throw new RateLimitError(labels.handlerName, labels.eventName, max, windowMs)
      await rateLimiter.wait(lifetime)
    }
    if (!isActive()) return SKIPPED
    if (!retry) return attempt(event, lifetime, 0)
    return retry.execute((context) => attempt(event, context.signal, context.attempt), lifetime)
  }
}
