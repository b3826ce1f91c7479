/**
 * `bus.events(EventClass)`: an async iterator over emitted events with a bounded buffer.
 */
import { ASYNC_DISPOSE } from '../core/dispose'
import { Deque } from '../core/deque'
import { EventBufferOverflowError } from './errors'
import { checkKnownKeys, checkOptionsObject, checkSignal, type OptionFailure } from './handler-options'

/** What an {@link EventIterator} does when an event arrives and its buffer is full. */
export type OverflowPolicy = 'dropOldest' | 'dropNewest' | 'error'

/** Options for `bus.events()`. */
export interface EventIteratorOptions {
  /** Ends the iteration (cleanly, `done: true`) when it aborts. */
  signal?: AbortSignal
  /** How many undelivered events are kept while the consumer is busy. Defaults to 1024. */
  bufferSize?: number
  /**
   * When the buffer is full: `'dropOldest'` discards the oldest buffered event,
   * `'dropNewest'` discards the arriving one (both count in `dropped`), `'error'` delivers
   * what is buffered and then throws an `EventBufferOverflowError`. Defaults to `'dropOldest'`.
   */
  overflow?: OverflowPolicy
  /** Also receive events of subclasses (as `on`'s `inherited`). Defaults to `false`. */
  inherited?: boolean
}

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['dropOldest', 'dropNewest', 'error']

/** Checks `events()` / `anyEvent()` options, throwing an `EventBusOptionsError`. @internal */
export function checkIteratorOptions(options: unknown, fail: OptionFailure, inherited: boolean): void {
  checkOptionsObject(options, fail)
  if (options === undefined) return
  checkKnownKeys(
    options,
    inherited ? ['signal', 'bufferSize', 'overflow', 'inherited'] : ['signal', 'bufferSize', 'overflow'],
    fail,
  )
  const o = options as Record<string, unknown>
  checkSignal(o.signal, fail)
  if (o.bufferSize !== undefined && !(Number.isInteger(o.bufferSize) && (o.bufferSize as number) >= 1))
    fail('bufferSize', `must be an integer >= 1, got ${String(o.bufferSize)}`)
  if (o.overflow !== undefined && !OVERFLOW_POLICIES.includes(o.overflow as OverflowPolicy))
    fail('overflow', `must be 'dropOldest', 'dropNewest' or 'error', got ${String(o.overflow)}`)
  if (o.inherited !== undefined && typeof o.inherited !== 'boolean')
    fail('inherited', `must be true or false, got ${String(o.inherited)}`)
}

/**
 * An async iterator of events. Emitters never wait for it: events are buffered (up to
 * `bufferSize`) until the consumer reads them. It ends when its `signal` aborts, when
 * `return()` is called (a `break` out of `for await`), or when the bus closes — after
 * delivering what is buffered.
 *
 * @example
 * ```ts
 * import { AsyncEventBus } from 'tributary'
 * const bus = new AsyncEventBus()
 * const controller = new AbortController()
 * for await (const created of bus.events(UserCreated, { signal: controller.signal, bufferSize: 100 })) {
 *   console.log(created.id)
 * }
 * ```
 */
export class EventIterator<E> implements AsyncIterableIterator<E>, AsyncDisposable {
  /** Events discarded because the buffer was full. */
  dropped = 0
  private readonly buffer = new Deque<E>()
  private readonly waiting = new Deque<{
    resolve(result: IteratorResult<E>): void
    reject(error: unknown): void
  }>(4)
  private done = false
  private failure: unknown = undefined
  private readonly bufferSize: number
  private readonly overflow: OverflowPolicy
  private readonly onAbort = (): void => this.end()

  /** @internal Created by `bus.events()`; `detach` unsubscribes from the bus. */
  constructor(
    private readonly eventName: string,
    options: EventIteratorOptions,
    private detach: (() => void) | undefined,
  ) {
    this.bufferSize = options.bufferSize ?? 1024
    this.overflow = options.overflow ?? 'dropOldest'
    this.signal = options.signal
    if (this.signal?.aborted) this.end()
    else this.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  private readonly signal: AbortSignal | undefined

  /** @internal Delivers an event (called by the bus). */
  push(event: E): void {
    if (this.done || this.failure !== undefined) return
    const waiter = this.waiting.shift()
    if (waiter) {
      waiter.resolve({ value: event, done: false })
      return
    }
    if (this.buffer.length >= this.bufferSize) {
      if (this.overflow === 'error') {
        this.failure = new EventBufferOverflowError(this.eventName, this.bufferSize)
        this.unsubscribe()
        return
      }
      this.dropped++
      if (this.overflow === 'dropNewest') return
      this.buffer.shift()
    }
    this.buffer.push(event)
  }

  /** @internal Ends the iteration after the buffered events (called on close, abort and `off`). */
  end(): void {
    if (this.done) return
    this.done = true
    this.unsubscribe()
    if (this.buffer.length === 0)
      for (const waiter of this.waiting.drain()) waiter.resolve({ value: undefined, done: true })
  }

  /** The next event; waits for one when the buffer is empty. */
  next(): Promise<IteratorResult<E>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as E, done: false })
    if (this.failure !== undefined) {
      const failure = this.failure
      this.failure = undefined
      this.done = true
      return Promise.reject(failure)
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  /**
   * Stops listening and discards what is buffered; a pending `next()` resolves done. Resolves
   * `{ done: true, value }` with `value` awaited, as async generators do.
   */
  async return<R>(value?: R | PromiseLike<R>): Promise<IteratorResult<E, R | undefined>> {
    this.buffer.drain()
    this.failure = undefined
    this.end()
    for (const waiter of this.waiting.drain()) waiter.resolve({ value: undefined, done: true })
    return { value: await value, done: true }
  }

  /** Same as {@link return}, for `await using`. */
  async [ASYNC_DISPOSE](): Promise<void> {
    await this.return()
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  private unsubscribe(): void {
    this.signal?.removeEventListener('abort', this.onAbort)
    const detach = this.detach
    this.detach = undefined
    detach?.()
  }
}
