/**
 * `AsyncEventBus`: class-keyed typed events, awaited emission that loses no error, and
 * per-handler concurrency limits, rate limits, timeouts and retries.
 */
import { setMaxListeners } from 'node:events'
import { ASYNC_DISPOSE, DISPOSE } from '../core/dispose'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { AsyncMetrics } from '../core/metrics'
import { Emission, type Entry, type Route } from './emission'
import { BusClosedError, type HandlerError } from './errors'
import { EventIterator, type EventIteratorOptions } from './event-iterator'
import { compileInvoker, needsInvoker, type HandlerOptions } from './handler-options'
import type {
  BusErrorListener,
  EmitOutcome,
  EmitResult,
  EventClass,
  EventHandler,
  HandlerContext,
  Unsubscribe,
} from './types'

/** Options for `new AsyncEventBus()`. */
export interface AsyncEventBusOptions {
  /** Where each emit is recorded (as `emit(EventName)`). Defaults to `AsyncMetrics.default`. */
  metrics?: AsyncMetrics
  /** How long `close()` waits for in-flight handlers, in ms. Defaults to 10,000. */
  closeTimeout?: number
}

/** Options for `bus.once()`. */
export interface OnceOptions<E> {
  /** Rejects the wait with the signal's reason when it aborts. */
  signal?: AbortSignal
  /** Rejects with an `AsyncTimeoutError` after this many ms. Defaults to waiting forever. */
  timeout?: number
  /** Only an event for which this returns true settles the wait. Defaults to the first event. */
  filter?: (event: E) => boolean
}

/** Options for `bus.close()`. */
export interface CloseOptions {
  /** How long to wait for in-flight handlers, in ms. Defaults to the bus's `closeTimeout`. */
  timeout?: number
}

/** What `bus.close()` resolves with. */
export interface CloseResult {
  /** True when in-flight handlers were still running at the timeout (their signals were then aborted). */
  readonly timedOut: boolean
  /** How many emits were still in flight when the wait gave up (0 unless `timedOut`). */
  readonly abandoned: number
}

const NO_ERRORS: readonly HandlerError[] = Object.freeze([])

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

function className(eventClass: EventClass): string {
  return eventClass.name || 'AnonymousEvent'
}

function constructorOf(event: object): EventClass {
  return (event as { constructor: EventClass }).constructor
}

/**
 * An event bus whose events are classes. `emit` runs every handler concurrently and waits for
 * all of them; no failure is lost: `emit` rejects (after all have settled) with one
 * `AggregateError` of `HandlerError`s, `onFallible` failures land in the `EmitResult`, and
 * `emitAndForget` failures reach {@link onError} and `AsyncMetrics`.
 *
 * @example
 * ```ts
 * import { AsyncEventBus } from 'tributary'
 * class UserCreated { constructor(readonly id: number, readonly email: string) {} }
 * const bus = new AsyncEventBus()
 * const off = bus.on(UserCreated, async (e) => { await sendWelcome(e.email) }, { concurrency: 10, timeout: 5_000, retry: 3 })
 * await bus.emit(new UserCreated(1, 'a@b.c'))      // waits for every handler
 * bus.emitAndForget(new UserCreated(2, 'd@e.f'))   // returns at once; failures go to bus.onError
 * off()
 * await bus.close()
 * ```
 */
export class AsyncEventBus implements AsyncDisposable {
  private readonly byClass = new Map<EventClass, Entry[]>()
  private anyEntries: Entry[] = []
  private readonly routes = new Map<EventClass, Route>()
  private readonly internal = new Set<Entry>()
  private readonly errorListeners = new Set<BusErrorListener>()
  private readonly lifetime = new AbortController()
  private readonly context: HandlerContext
  private readonly metrics: AsyncMetrics
  private readonly closeTimeout: number
  private seq = 0
  private size = 0
  private inflight = 0
  private closed = false
  private onDrained: (() => void) | undefined = undefined

  constructor(options: AsyncEventBusOptions = {}) {
    this.metrics = options.metrics ?? AsyncMetrics.default
    this.closeTimeout = options.closeTimeout ?? 10_000
    this.context = Object.freeze({ signal: this.lifetime.signal, attempt: 0 })
    // Every queued or timed invocation listens on the bus's lifetime signal until it starts or
    // ends: many at once is normal here, not a leak, so Node's warning past 10 is turned off.
    setMaxListeners(Number.POSITIVE_INFINITY, this.lifetime.signal)
  }

  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Registers `handler` for events of `eventClass`. If it fails, `emit` rejects. Returns an
   * unsubscribe function (also `Disposable`).
   */
  on<E extends object>(
    eventClass: EventClass<E>,
    handler: EventHandler<E>,
    options?: HandlerOptions,
  ): Unsubscribe {
    return this.subscribe(eventClass, handler as EventHandler<object>, options, false)
  }

  /**
   * Like {@link on}, but a failure of this handler does not make `emit` reject: it is
   * collected in `EmitResult.errors`.
   */
  onFallible<E extends object>(
    eventClass: EventClass<E>,
    handler: EventHandler<E>,
    options?: HandlerOptions,
  ): Unsubscribe {
    return this.subscribe(eventClass, handler as EventHandler<object>, options, true)
  }

  /** Registers `handler` for every event, whatever its class. */
  onAny(handler: EventHandler<object>, options?: Omit<HandlerOptions, 'inherited'>): Unsubscribe {
    return this.subscribe(null, handler, options, false)
  }

  /** Removes every registration of `handler` for `eventClass` (exactly that class). */
  off<E extends object>(eventClass: EventClass<E>, handler: EventHandler<E>): void {
    for (const entry of this.byClass.get(eventClass) ?? []) {
      if (entry.handler === handler) this.remove(entry, undefined)
    }
  }

  /**
   * Listens for `onError`: failures nobody awaits (those of {@link emitAndForget}), each a
   * `HandlerError` (or a `BusClosedError`), with the event. Returns an unsubscribe function.
   */
  onError(listener: BusErrorListener): Unsubscribe {
    this.errorListeners.add(listener)
    return this.unsubscriber(() => this.errorListeners.delete(listener))
  }

  /**
   * Resolves with the next event of `eventClass` (that passes `filter`). Rejects with an
   * `AsyncTimeoutError` after `timeout`, with the signal's reason on abort, with a
   * `BusClosedError` when the bus closes, and with an `AsyncCancelledError` on `clear()`.
   */
  once<E extends object>(eventClass: EventClass<E>, options: OnceOptions<E> = {}): Promise<E> {
    const name = `once(${className(eventClass)})`
    if (this.closed) return Promise.reject(new BusClosedError(name))
    const { signal, timeout, filter } = options
    if (signal?.aborted) return Promise.reject(signal.reason ?? new AsyncCancelledError(name))
    return new Promise<E>((resolve, reject) => {
      let settled = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (): void => {
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const fail = (error: unknown): void => {
        if (settled) return
        finish()
        this.remove(entry, undefined)
        reject(error)
      }
      const onAbort = (): void => fail(signal?.reason ?? new AsyncCancelledError(name))
      const entry = this.register(
        eventClass,
        (event: object) => {
          if (settled) return
          try {
            if (filter && !filter(event as E)) return
          } catch (error) {
            fail(error)
            return
          }
          finish()
          this.remove(entry, undefined)
          resolve(event as E)
        },
        { name },
        false,
        fail,
      )
      if (timeout !== undefined) timer = setTimeout(() => fail(new AsyncTimeoutError(name, timeout)), timeout)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * An async iterator over events of `eventClass`, with a bounded buffer (see
   * `EventIteratorOptions` for the overflow policy). Ends on abort, `break`, or `close()`.
   */
  events<E extends object>(eventClass: EventClass<E>, options: EventIteratorOptions = {}): EventIterator<E> {
    let entry: Entry | undefined
    const iterator = new EventIterator<E>(className(eventClass), options, () => {
      if (entry) this.remove(entry, undefined)
    })
    if (this.closed) iterator.end()
    else if (!options.signal?.aborted) {
      entry = this.register(
        eventClass,
        (event: object) => iterator.push(event as E),
        { name: 'events' },
        false,
        () => iterator.end(),
      )
    }
    return iterator
  }

  /**
   * How many handlers an emit of `eventClass` would reach (its own, inherited and `onAny`
   * ones); without an argument, every registration on the bus.
   */
  listenerCount(eventClass?: EventClass): number {
    return eventClass === undefined ? this.size : this.route(eventClass).entries.length
  }

  /**
   * Removes every handler of `eventClass` (or every handler, `onAny` ones included). Pending
   * `once` waits reject with an `AsyncCancelledError`; `events()` iterators end.
   */
  clear(eventClass?: EventClass): void {
    const entries =
      eventClass === undefined
        ? [...this.byClass.values()].flat().concat(this.anyEntries)
        : (this.byClass.get(eventClass) ?? [])
    for (const entry of entries)
      this.remove(entry, new AsyncCancelledError(`once(${entry.key ? className(entry.key) : 'any'})`))
  }

  /**
   * Runs every handler for `event` concurrently and resolves when all have settled. If any
   * `on` handler failed, rejects — after all settled — with an `AggregateError` of
   * `HandlerError`s. Handlers added during the emit do not run for it; handlers removed
   * during it are skipped.
   */
  emit<E extends object>(event: E): Promise<EmitResult> {
    if (this.closed || typeof event !== 'object' || event === null) return Promise.reject(this.refusal(event))
    return this.dispatch(event, false) as Promise<EmitResult>
  }

  /**
   * Emits without waiting. Never throws and never rejects: failures (including a closed bus)
   * go to the {@link onError} listeners and are counted in `AsyncMetrics`.
   */
  emitAndForget<E extends object>(event: E): void {
    if (this.closed || typeof event !== 'object' || event === null) {
      this.report(this.refusal(event), event)
      return
    }
    this.dispatch(event, true)
  }

  /** Runs the handlers one at a time, in registration order, each awaited. Errors as {@link emit}. */
  async emitSerial<E extends object>(event: E): Promise<EmitResult> {
    if (this.closed || typeof event !== 'object' || event === null) throw this.refusal(event)
    const route = this.route(constructorOf(event))
    const emission = this.begin(event, route)
    this.inflight++
    try {
      for (const entry of route.entries) {
        if (!entry.active) continue
        try {
          emission.ok(await (entry.invoke ? entry.invoke(event) : entry.handler(event, this.context)))
        } catch (error) {
          emission.fail(entry, error)
        }
      }
    } finally {
      this.settled()
    }
    return this.finish(emission, false)
  }

  /** Emits every event concurrently (each like {@link emit}); resolves with one outcome per event, in order. */
  emitBatchConcurrent<E extends object>(events: Iterable<E>): Promise<Array<EmitOutcome<E>>> {
    return Promise.all(Array.from(events, (event) => this.outcome(event, this.emit(event))))
  }

  /** Emits the events one after another (each like {@link emit}); resolves with one outcome per event. */
  async emitBatchSequential<E extends object>(events: Iterable<E>): Promise<Array<EmitOutcome<E>>> {
    const outcomes: Array<EmitOutcome<E>> = []
    for (const event of events) outcomes.push(await this.outcome(event, this.emit(event)))
    return outcomes
  }

  /**
   * Stops accepting emits, rejects pending `once` waits with a `BusClosedError`, ends every
   * `events()` iterator, and waits for in-flight handlers — at most `timeout` ms, after which
   * their signals abort (reason: an `AsyncTimeoutError`). Safe to call more than once.
   */
  async close(options: CloseOptions = {}): Promise<CloseResult> {
    const timeout = options.timeout ?? this.closeTimeout
    if (!this.closed) {
      this.closed = true
      for (const entry of [...this.internal]) this.remove(entry, new BusClosedError(entry.name))
    }
    if (this.inflight === 0) return { timedOut: false, abandoned: 0 }
    let timer: ReturnType<typeof setTimeout> | undefined
    const drained = new Promise<boolean>((resolve) => {
      const previous = this.onDrained
      this.onDrained = () => {
        previous?.()
        resolve(false)
      }
      timer = setTimeout(() => resolve(true), timeout)
    })
    const timedOut = await drained
    clearTimeout(timer)
    if (!timedOut) return { timedOut: false, abandoned: 0 }
    const abandoned = this.inflight
    if (!this.lifetime.signal.aborted)
      this.lifetime.abort(new AsyncTimeoutError('AsyncEventBus.close', timeout))
    return { timedOut: true, abandoned }
  }

  /** {@link close} with the default timeout, for `await using`. */
  async [ASYNC_DISPOSE](): Promise<void> {
    await this.close()
  }

  // ---- emission -------------------------------------------------------------------------

  private dispatch(event: object, forget: boolean): Promise<EmitResult> | undefined {
    const route = this.route(constructorOf(event))
    const emission = this.begin(event, route)
    const entries = route.entries
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry
      if (!entry.active) continue
      let value: unknown
      try {
        value = entry.invoke === undefined ? entry.handler(event, this.context) : entry.invoke(event)
      } catch (error) {
        emission.fail(entry, error)
        continue
      }
      if (isPromiseLike(value)) emission.track(value, entry)
      else emission.ok(value)
    }
    if (emission.release()) {
      this.inflight++
      if (forget) return undefined
      return new Promise<EmitResult>((resolve, reject) => {
        emission.resolve = resolve
        emission.reject = reject
      })
    }
    if (forget) {
      this.finish(emission, true)
      return undefined
    }
    try {
      return Promise.resolve(this.finish(emission, false))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Every tracked invocation of an emission has settled. */
  private readonly completed = (emission: Emission): void => {
    this.settled()
    const forget = emission.resolve === undefined
    try {
      const result = this.finish(emission, forget)
      emission.resolve?.(result)
    } catch (error) {
      emission.reject?.(error)
    }
  }

  private begin(event: object, route: Route): Emission {
    const metricStart = route.counter.begin()
    return new Emission(
      event,
      route,
      metricStart,
      metricStart === 0 ? performance.now() : metricStart,
      this.completed,
    )
  }

  /** Builds the result; throws the aggregate for an awaited emit, reports it for a forgotten one. */
  private finish(emission: Emission, forget: boolean): EmitResult {
    emission.sort()
    const failures = emission.failures
    emission.route.counter.end(emission.metricStart, failures !== undefined)
    const result: EmitResult = {
      handled: emission.handled,
      dropped: emission.dropped,
      errors: emission.errors ?? NO_ERRORS,
      durationMs: performance.now() - emission.start,
    }
    if (forget) {
      if (failures) for (const failure of failures) this.report(failure, emission.event)
      if (emission.errors) for (const failure of emission.errors) this.report(failure, emission.event)
    } else if (failures) {
      const total = emission.handled + emission.dropped + failures.length + result.errors.length
      const names = failures.map((f) => f.handlerName).join(', ')
      throw new AggregateError(
        failures,
        `${failures.length} of ${total} handlers failed for ${emission.route.name}: ${names}`,
      )
    }
    return result
  }

  private settled(): void {
    if (--this.inflight === 0 && this.onDrained) {
      const drained = this.onDrained
      this.onDrained = undefined
      drained()
    }
  }

  private async outcome<E extends object>(event: E, emitted: Promise<EmitResult>): Promise<EmitOutcome<E>> {
    try {
      return { status: 'fulfilled', event, result: await emitted }
    } catch (reason) {
      return { status: 'rejected', event, reason }
    }
  }

  private refusal(event: unknown): Error {
    if (typeof event !== 'object' || event === null) {
      return new TypeError(`AsyncEventBus: an event must be a class instance, got ${String(event)}`)
    }
    return new BusClosedError(`emit(${className(constructorOf(event))})`)
  }

  private report(error: unknown, event: unknown): void {
    for (const listener of this.errorListeners) {
      try {
        listener(error, event as object)
      } catch {
        // A faulty error listener must not break the others or the bus.
      }
    }
  }

  // ---- registry -------------------------------------------------------------------------

  private route(eventClass: EventClass): Route {
    const cached = this.routes.get(eventClass)
    if (cached) return cached
    const entries: Entry[] = [...(this.byClass.get(eventClass) ?? [])]
    for (
      let parent: unknown = Object.getPrototypeOf(eventClass);
      typeof parent === 'function' && parent !== Function.prototype;
      parent = Object.getPrototypeOf(parent)
    ) {
      for (const entry of this.byClass.get(parent as EventClass) ?? [])
        if (entry.inherited) entries.push(entry)
    }
    entries.push(...this.anyEntries)
    entries.sort((a, b) => a.seq - b.seq)
    const name = className(eventClass)
    const route: Route = { name, entries, counter: this.metrics.operation(`emit(${name})`) }
    this.routes.set(eventClass, route)
    return route
  }

  private subscribe(
    key: EventClass | null,
    handler: EventHandler<object>,
    options: HandlerOptions | undefined,
    fallible: boolean,
  ): Unsubscribe {
    if (typeof handler !== 'function') {
      throw new TypeError(
        `AsyncEventBus: the handler for ${key ? className(key) : 'onAny'} must be a function`,
      )
    }
    if (key !== null && typeof key !== 'function') {
      throw new TypeError(`AsyncEventBus: on() needs an event class, got ${String(key)}`)
    }
    const entry = this.register(key, handler, options, fallible, undefined)
    return this.unsubscriber(() => this.remove(entry, undefined))
  }

  private register(
    key: EventClass | null,
    handler: EventHandler<object>,
    options: HandlerOptions | undefined,
    fallible: boolean,
    onRemoved: ((reason: unknown) => void) | undefined,
  ): Entry {
    const name = options?.name ?? (handler.name || 'anonymous')
    const labels = { handlerName: name, eventName: key ? className(key) : 'any event' }
    const entry: Entry = {
      key,
      handler,
      name,
      fallible,
      inherited: options?.inherited === true,
      seq: this.seq++,
      invoke: undefined,
      active: true,
      onRemoved,
    }
    if (needsInvoker(options)) {
      entry.invoke = compileInvoker(
        handler,
        options as HandlerOptions,
        labels,
        this.lifetime.signal,
        () => entry.active,
      )
    }
    if (key === null) this.anyEntries = [...this.anyEntries, entry]
    else this.byClass.set(key, [...(this.byClass.get(key) ?? []), entry])
    if (onRemoved) this.internal.add(entry)
    this.size++
    this.routes.clear()
    return entry
  }

  /** Removes an entry (copy-on-write, so an emit in progress keeps its snapshot). */
  private remove(entry: Entry, reason: unknown): void {
    if (!entry.active) return
    entry.active = false
    this.size--
    this.routes.clear()
    this.internal.delete(entry)
    if (entry.key === null) this.anyEntries = this.anyEntries.filter((e) => e !== entry)
    else {
      const remaining = (this.byClass.get(entry.key) ?? []).filter((e) => e !== entry)
      if (remaining.length === 0) this.byClass.delete(entry.key)
      else this.byClass.set(entry.key, remaining)
    }
    if (reason !== undefined) entry.onRemoved?.(reason)
  }

  private unsubscriber(action: () => void): Unsubscribe {
    const unsubscribe = (): void => {
      action()
    }
    return Object.assign(unsubscribe, { [DISPOSE]: unsubscribe })
  }
}
