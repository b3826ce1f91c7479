/**
 * `bus.events(EventClass)`: an async iterator over emitted events with a bounded buffer.
 */
import { ASYNC_DISPOSE } from '../core/dispose'
import { EventBufferOverflowError } from './errors'

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
  private readonly buffer: E[] = []
  private readonly waiting: Array<{
    resolve(result: IteratorResult<E>): void
    reject(error: unknown): void
  }> = []
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
    const bufferSize = options.bufferSize ?? 1024
    if (!(Number.isInteger(bufferSize) && bufferSize >= 1)) {
      throw new RangeError(
        `events(${eventName}): bufferSize must be an integer >= 1, got ${String(bufferSize)}`,
      )
    }
    this.bufferSize = bufferSize
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
      for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true })
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

  /** Stops listening and discards what is buffered. */
  return(): Promise<IteratorResult<E>> {
    this.buffer.length = 0
    this.failure = undefined
    this.end()
    return Promise.resolve({ value: undefined, done: true })
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
