/**
 * `AsyncEventBus`: class-keyed typed events, awaited emission that loses no error, and
 * per-handler concurrency limits, rate limits, timeouts, retries and per-key ordering.
 */
import { ASYNC_DISPOSE, DISPOSE } from '../core/dispose'
import { AsyncCancelledError, AsyncTimeoutError } from '../core/errors'
import { AsyncMetrics } from '../core/metrics'
import { activeTracer, contextWith, endSpan, startSpan, traced, withSpan } from '../core/telemetry'
import { setLongTimeout, type LongTimer } from '../core/timers'
import { Bridge, type BridgeHost, type BridgeOptions, type BusBridge } from './bridge'
import { Emission, type Abandonable, type EmitTrace, type Entry, type Route } from './emission'
import {
  BusClosedError,
  EmitError,
  EventBusOptionsError,
  InvalidEventError,
  type HandlerError,
} from './errors'
import { EventIterator, checkIteratorOptions, type EventIteratorOptions } from './event-iterator'
import {
  checkDuration,
  checkKnownKeys,
  checkOptionsObject,
  checkSignal,
  compileInvoker,
  DROPPED,
  needsInvoker,
  optionFailure,
  SKIPPED,
  validateHandlerOptions,
  type HandlerOptions,
} from './handler-options'
import { ListenerAdded, ListenerRemoved, isMetaEventClass } from './meta-events'
import type { Transport } from '../transports/transport'
import type {
  BusErrorListener,
  DeadLetter,
  DeadLetterListener,
  DebugAction,
  DebugLogger,
  DebugOptions,
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
  /** Logs subscriptions, emits and clears (see {@link DebugOptions}). Defaults to none. */
  debug?: DebugOptions
}

/** Options for `bus.once()`. */
export interface OnceOptions<E> {
  /** Rejects the wait with the signal's reason when it aborts. */
  signal?: AbortSignal
  /** Rejects with an `AsyncTimeoutError` after this many ms. Defaults to waiting forever. */
  timeout?: number
  /** Only an event for which this returns true settles the wait. Defaults to the first event. */
  filter?: (event: E) => boolean
  /** Also settle on events of subclasses (as `on`'s `inherited`). Defaults to `false`. */
  inherited?: boolean
}

/**
 * What `bus.once()` returns: a promise of the event, with `off()` to stop waiting (the
 * promise then never settles, as emittery's).
 */
export interface OncePromise<E> extends Promise<E> {
  /** Stops waiting: the handler is removed and the timeout cleared. Harmless when already settled. */
  off(): void
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

/** One or several event classes, as `on`, `off`, `once`, `events`, `clear` and `listenerCount` take. */
export type EventClasses<E extends object = object> = EventClass<E> | readonly EventClass<E>[]

const NO_ERRORS: readonly HandlerError[] = Object.freeze([])
const NO_CLEANUP = (): void => undefined

/** An `init()` hook; `cleanup` is set while it is started. */
interface Lifecycle {
  readonly eventClass: EventClass
  readonly init: () => unknown
  cleanup: (() => void) | undefined
}
const ONCE_KEYS = ['signal', 'timeout', 'filter', 'inherited']
const BUS_KEYS = ['metrics', 'closeTimeout', 'debug']
const ENV_DEBUG = /(^|[\s,])(tributary(:events)?|\*)([\s,]|$)/

function className(eventClass: EventClass): string {
  return eventClass.name || 'AnonymousEvent'
}

function describe(classes: readonly EventClass[] | null): string {
  return classes === null ? 'any event' : classes.map(className).join(', ')
}

/**
 * Ends a traced emit's span with its tally (`tributary.handled`, `tributary.dropped`,
 * `tributary.failed`); status ERROR when the emit failed: an `on` handler failed, or any
 * handler of an emit nobody awaits.
 */
function endEmitSpan(
  trace: EmitTrace,
  result: EmitResult,
  failures: readonly HandlerError[] | undefined,
  error: unknown,
): void {
  trace.span.setAttribute('tributary.handled', result.handled)
  trace.span.setAttribute('tributary.dropped', result.dropped)
  trace.span.setAttribute('tributary.failed', (failures?.length ?? 0) + result.errors.length)
  endSpan(trace.span, error)
}

function isObject(value: unknown): value is object {
  return value !== null && (typeof value === 'object' || typeof value === 'function')
}

const defaultLogger: DebugLogger = (action, busName, eventClass, event) => {
  const time = new Date().toISOString().slice(11, 23)
  const name = eventClass === undefined ? 'any event' : className(eventClass)
  if (event === undefined) console.debug(`[${time}][tributary:${action}][${busName}] ${name}`)
  else console.debug(`[${time}][tributary:${action}][${busName}] ${name}`, event)
}

/**
 * An event bus whose events are classes. `emit` runs every handler concurrently and waits for
 * all of them; no failure is lost: `emit` rejects (after all have settled) with one
 * `EmitError` (an `AggregateError` of `HandlerError`s that also carries the `EmitResult` with
 * the `onFallible` failures), and `emitAndForget` failures reach {@link onError} (or, with no
 * listener, `AsyncMetrics.onUnobservedError`) and are counted in `AsyncMetrics`.
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
  /**
   * Turns debug logging on for every bus (each logs with its own `debug` name and logger).
   * Defaults to `true` when the `DEBUG` environment variable names `tributary` or `*`.
   */
  static isDebug: boolean = ENV_DEBUG.test(process.env.DEBUG ?? '')

  /** This bus's debug settings; may be set or changed at any time. */
  debug: DebugOptions | undefined

  private readonly byClass = new Map<EventClass, Entry[]>()
  private anyEntries: Entry[] = []
  private routes = new WeakMap<EventClass, Route>()
  /** The last route looked up: most emits repeat the class of the one before. */
  private lastRoute: Route | undefined = undefined
  private version = 0
  private readonly internal = new Set<Entry>()
  /** `init()` hooks per event class, with the cleanup of a started one. */
  private readonly lifecycles = new Map<EventClass, Lifecycle>()
  /** Per registration with a `signal`: detaches its abort listener once none of its entries is left. */
  private readonly detachers = new WeakMap<object, () => void>()
  private readonly errorListeners = new Set<BusErrorListener>()
  private readonly deadLetterListeners = new Set<DeadLetterListener>()
  private readonly lifetime = new AbortController()
  private readonly context: HandlerContext
  private readonly metrics: AsyncMetrics
  private readonly closeTimeout: number
  private seq = 0
  private size = 0
  private inflight = 0
  private closed = false
  private onDrained: (() => void) | undefined = undefined
  /**
   * In-flight emits that a `close()` which gives up settles (see {@link abandonInFlight}): a
   * list through the emissions themselves, so tracking one costs no allocation.
   */
  private pending: Emission | undefined = undefined
  /** `emitSerial` waits that such a `close()` settles. */
  private readonly serialWaits = new Set<Abandonable>()
  /** Set once a `close()` gave up: the reason every abandoned invocation fails with. */
  private abandonment: { readonly reason: unknown } | undefined = undefined
  /** Bridged classes (exactly these classes) and the bridge their emits are published to. */
  private readonly bridged = new Map<EventClass, Bridge>()
  private readonly bridges = new Set<Bridge>()

  constructor(options: AsyncEventBusOptions = {}) {
    const fail = optionFailure({ method: 'constructor', eventName: 'options' })
    checkOptionsObject(options, fail)
    checkKnownKeys(options, BUS_KEYS, fail)
    if (options.metrics !== undefined && !(options.metrics instanceof AsyncMetrics))
      fail('metrics', 'must be an AsyncMetrics')
    checkDuration(options.closeTimeout, 'closeTimeout', fail)
    if (options.debug !== undefined) checkDebug(options.debug, fail)
    this.metrics = options.metrics ?? AsyncMetrics.default
    this.closeTimeout = options.closeTimeout ?? 10_000
    this.debug = options.debug
    this.context = Object.freeze({ signal: this.lifetime.signal, attempt: 0 })
  }

  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Registers `handler` for events of `eventClass` (or of each class in an array: one
   * registration, run at most once per emit). If it fails, `emit` rejects. Returns an
   * unsubscribe function (also `Disposable`).
   */
  on<E extends object>(
    eventClass: EventClass<E>,
    handler: EventHandler<E>,
    options?: HandlerOptions<E>,
  ): Unsubscribe
  on<C extends readonly EventClass[]>(
    eventClasses: C,
    handler: EventHandler<InstanceType<C[number]>>,
    options?: HandlerOptions<InstanceType<C[number]>>,
  ): Unsubscribe
  on(eventClass: EventClasses, handler: EventHandler<object>, options?: HandlerOptions): Unsubscribe {
    return this.subscribe('on', this.classes('on', eventClass), handler, options, false)
  }

  /**
   * Like {@link on}, but a failure of this handler does not make `emit` reject: it is
   * collected in `EmitResult.errors`.
   */
  onFallible<E extends object>(
    eventClass: EventClass<E>,
    handler: EventHandler<E>,
    options?: HandlerOptions<E>,
  ): Unsubscribe
  onFallible<C extends readonly EventClass[]>(
    eventClasses: C,
    handler: EventHandler<InstanceType<C[number]>>,
    options?: HandlerOptions<InstanceType<C[number]>>,
  ): Unsubscribe
  onFallible(eventClass: EventClasses, handler: EventHandler<object>, options?: HandlerOptions): Unsubscribe {
    return this.subscribe('onFallible', this.classes('onFallible', eventClass), handler, options, true)
  }

  /** Registers `handler` for every event, whatever its class (the meta events excepted). */
  onAny(handler: EventHandler<object>, options?: Omit<HandlerOptions, 'inherited'>): Unsubscribe {
    return this.subscribe('onAny', null, handler, options, false)
  }

  /** Removes every registration of `handler` for `eventClass` (exactly that class, or each in an array). */
  off<E extends object>(eventClass: EventClasses<E>, handler: EventHandler<E>): void {
    const classes = this.classes('off', eventClass)
    this.requireHandler('off', classes, handler)
    for (const key of classes) {
      for (const entry of this.byClass.get(key) ?? []) {
        if (entry.handler === handler) this.remove(entry, undefined)
      }
    }
  }

  /** Removes every `onAny` registration of `handler`. */
  offAny(handler: EventHandler<object>): void {
    this.requireHandler('offAny', null, handler)
    for (const entry of this.anyEntries) if (entry.handler === handler) this.remove(entry, undefined)
  }

  /**
   * A lifecycle hook, as emittery's `init`: `initFn` runs when `eventClass` gets its first
   * handler (from `on`, `onFallible` or `once`; not `onAny` or iterators) — at once if it has
   * one already — and the function it returns runs when the last one is removed (by any path:
   * unsubscribe, `off`, `clear`, a settled `once`, a signal). Open a connection or a
   * subscription only while someone listens. If `initFn` throws, the registration that
   * triggered it is rolled back and the error thrown from that call. A failing cleanup is
   * reported like an `emitAndForget` failure. Returns an unsubscribe function that removes the
   * hook (running its cleanup if it is started). One hook per class.
   *
   * @example
   * ```ts
   * bus.init(PriceChanged, () => {
   *   const feed = openFeed((p) => bus.emitAndForget(new PriceChanged(p)))
   *   return () => feed.close()
   * })
   * ```
   */
  init<E extends object>(eventClass: EventClass<E>, initFn: () => (() => void) | void): Unsubscribe {
    if (Array.isArray(eventClass)) throw new InvalidEventError('init', 'takes one event class, got an array')
    const [key] = this.classes('init', eventClass) as [EventClass]
    if (isMetaEventClass(key)) throw new InvalidEventError('init', `${className(key)} has no lifecycle`)
    this.requireHandler('init', [key], initFn)
    if (this.lifecycles.has(key)) {
      throw new EventBusOptionsError(
        'init',
        undefined,
        className(key),
        undefined,
        'an init is already registered',
      )
    }
    const lifecycle: Lifecycle = { eventClass: key, init: initFn, cleanup: undefined }
    this.lifecycles.set(key, lifecycle)
    if ((this.byClass.get(key) ?? []).some((entry) => entry.announced)) {
      try {
        this.startLifecycle(lifecycle)
      } catch (error) {
        this.lifecycles.delete(key)
        throw error
      }
    }
    return this.unsubscriber(() => {
      if (this.lifecycles.get(key) !== lifecycle) return
      this.lifecycles.delete(key)
      this.stopLifecycle(lifecycle)
    })
  }

  /**
   * Listens for `onError`: failures nobody awaits (those of {@link emitAndForget}), each a
   * `HandlerError` (or a `BusClosedError` / `InvalidEventError`), with the event. While no
   * listener is registered, they go to `AsyncMetrics.onUnobservedError` listeners instead.
   * Returns an unsubscribe function.
   */
  onError(listener: BusErrorListener): Unsubscribe {
    this.requireHandler('onError', null, listener)
    this.errorListeners.add(listener)
    return this.unsubscriber(() => this.errorListeners.delete(listener))
  }

  /**
   * Listens for dead letters: an invocation of a handler with `retry` whose last attempt
   * failed (retries exhausted, or `retryIf` said no) hands its event and last error here, in
   * addition to the normal error path. Not called for invocations the bus abandoned on
   * `close()`. Returns an unsubscribe function.
   */
  onDeadLetter(listener: DeadLetterListener): Unsubscribe {
    this.requireHandler('onDeadLetter', null, listener)
    this.deadLetterListeners.add(listener)
    return this.unsubscriber(() => this.deadLetterListeners.delete(listener))
  }

  /**
   * Resolves with the next event of `eventClass` (or of any class in an array) that passes
   * `filter` (given in the options or as the second argument). Rejects with an
   * `AsyncTimeoutError` after `timeout`, with the signal's reason on abort, with a
   * `BusClosedError` when the bus closes, with an `AsyncCancelledError` on `clear()`, and
   * with an `InvalidEventError` / `EventBusOptionsError` for bad arguments. The promise's
   * `off()` stops waiting.
   */
  once<E extends object>(
    eventClass: EventClass<E>,
    options?: OnceOptions<E> | ((event: E) => boolean),
  ): OncePromise<E>
  once<C extends readonly EventClass[]>(
    eventClasses: C,
    options?: OnceOptions<InstanceType<C[number]>> | ((event: InstanceType<C[number]>) => boolean),
  ): OncePromise<InstanceType<C[number]>>
  once(
    eventClass: EventClasses,
    input?: OnceOptions<object> | ((event: object) => boolean),
  ): OncePromise<object> {
    let off = (): void => undefined
    const promise = new Promise<object>((resolve, reject) => {
      const classes = this.classes('once', eventClass)
      const options: OnceOptions<object> = typeof input === 'function' ? { filter: input } : (input ?? {})
      const name = `once(${describe(classes)})`
      const fail = optionFailure({ method: 'once', eventName: describe(classes) })
      checkOptionsObject(options, fail)
      checkKnownKeys(options, ONCE_KEYS, fail)
      const { signal, timeout, filter, inherited } = options
      checkSignal(signal, fail)
      checkDuration(timeout, 'timeout', fail)
      if (filter !== undefined && typeof filter !== 'function')
        fail('filter', `must be a function of the event, got ${String(filter)}`)
      if (inherited !== undefined && typeof inherited !== 'boolean')
        fail('inherited', `must be true or false, got ${String(inherited)}`)
      if (this.closed) throw new BusClosedError(name)
      if (signal?.aborted) throw signal.reason ?? new AsyncCancelledError(name)
      let settled = false
      let timer: LongTimer | undefined
      const entries: Entry[] = []
      const finish = (): void => {
        settled = true
        timer?.clear()
        signal?.removeEventListener('abort', onAbort)
        for (const entry of entries) this.remove(entry, undefined)
      }
      const failWait = (error: unknown): void => {
        if (settled) return
        finish()
        reject(error)
      }
      const onAbort = (): void => failWait(signal?.reason ?? new AsyncCancelledError(name))
      const listener = (event: object): void => {
        if (settled) return
        try {
          if (filter && !filter(event)) return
        } catch (error) {
          failWait(error)
          return
        }
        finish()
        resolve(event)
      }
      const group = {}
      for (const key of classes) {
        entries.push(
          this.register(key, group, listener, { name, inherited }, false, undefined, failWait, true),
        )
      }
      this.added(entries)
      if (timeout !== undefined)
        timer = setLongTimeout(() => failWait(new AsyncTimeoutError(name, timeout)), timeout)
      signal?.addEventListener('abort', onAbort, { once: true })
      off = () => {
        if (!settled) finish()
      }
    })
    return Object.assign(promise, { off: () => off() })
  }

  /**
   * An async iterator over events of `eventClass` (or of each class in an array), with a
   * bounded buffer (see `EventIteratorOptions` for the overflow policy and `inherited`). Ends
   * on abort, `break`, `clear()` or `close()`.
   */
  events<E extends object>(eventClass: EventClass<E>, options?: EventIteratorOptions): EventIterator<E>
  events<C extends readonly EventClass[]>(
    eventClasses: C,
    options?: EventIteratorOptions,
  ): EventIterator<InstanceType<C[number]>>
  events(eventClass: EventClasses, options: EventIteratorOptions = {}): EventIterator<object> {
    const classes = this.classes('events', eventClass)
    return this.iterate('events', classes, options)
  }

  /** An async iterator over every event (the meta events excepted); options as {@link events}. */
  anyEvent(options: Omit<EventIteratorOptions, 'inherited'> = {}): EventIterator<object> {
    return this.iterate('anyEvent', null, options)
  }

  /**
   * How many handlers an emit of `eventClass` would reach (its own, inherited and `onAny`
   * ones; summed over an array); without an argument, every registration on the bus.
   */
  listenerCount(eventClass?: EventClasses): number {
    if (eventClass === undefined) return this.size
    let count = 0
    for (const key of this.classes('listenerCount', eventClass)) count += this.route(key).entries.length
    return count
  }

  /**
   * Removes every handler of `eventClass` (or of each class in an array; without an argument,
   * every handler, `onAny` ones and iterators included). Pending `once` waits reject with an
   * `AsyncCancelledError`; `events()` iterators end after their buffer.
   */
  clear(eventClass?: EventClasses): void {
    const classes = eventClass === undefined ? undefined : this.classes('clear', eventClass)
    if (classes === undefined) this.log('clear', undefined, undefined)
    else for (const key of classes) this.log('clear', key, undefined)
    const entries =
      classes === undefined
        ? [...this.byClass.values()].flat().concat(this.anyEntries)
        : classes.flatMap((key) => this.byClass.get(key) ?? [])
    for (const entry of entries) this.remove(entry, new AsyncCancelledError(`clear(${entry.name})`))
  }

  /**
   * Runs every handler for `event` concurrently and resolves when all have settled. If any
   * `on` handler failed, rejects — after all settled — with an {@link EmitError}: an
   * `AggregateError` of `HandlerError`s that also carries the `EmitResult`. Handlers added
   * during the emit do not run for it; handlers removed during it are skipped. Never throws
   * synchronously: a bad event rejects with an `InvalidEventError`, a closed bus with a
   * `BusClosedError`.
   */
  emit<E extends object>(event: E): Promise<EmitResult> {
    try {
      const route = this.routeOf('emit', event)
      if (this.closed) return Promise.reject(this.refuse(route, event))
      if (this.bridged.size !== 0) {
        const bridge = this.bridged.get(route.eventClass)
        if (bridge !== undefined) return this.publish(bridge, event, route, 'emit')
      }
      return this.dispatch(event, route, false) as Promise<EmitResult>
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Emits without waiting. Never throws and never rejects: failures (a closed bus and a bad
   * event included) go to the {@link onError} listeners — or, with none, to
   * `AsyncMetrics.onUnobservedError` — and are counted in `AsyncMetrics`.
   */
  emitAndForget<E extends object>(event: E): void {
    let route: Route
    try {
      route = this.routeOf('emitAndForget', event)
    } catch (error) {
      this.report(error, event, 'emit')
      return
    }
    if (this.closed) {
      this.report(this.refuse(route, event), event, route.counter.name)
      return
    }
    const bridge = this.bridged.size === 0 ? undefined : this.bridged.get(route.eventClass)
    if (bridge !== undefined) {
      this.publish(bridge, event, route, 'emitAndForget').catch((error: unknown) =>
        this.report(error, event, route.counter.name),
      )
      return
    }
    try {
      this.dispatch(event, route, true)
    } catch (error) {
      this.report(error, event, route.counter.name)
    }
  }

  /**
   * Runs the handlers one at a time, in registration order, each awaited. Unlike emittery's,
   * a failure does not stop the others: errors as {@link emit}.
   */
  async emitSerial<E extends object>(event: E): Promise<EmitResult> {
    const route = this.routeOf('emitSerial', event)
    if (this.closed) throw this.refuse(route, event)
    const bridge = this.bridged.size === 0 ? undefined : this.bridged.get(route.eventClass)
    if (bridge !== undefined) return this.publish(bridge, event, route, 'emitSerial')
    this.log('emitSerial', constructorOf(event), event)
    const emission = this.begin(event, route, 'emitSerial')
    this.inflight++
    try {
      for (const entry of route.entries) {
        if (!entry.active) continue
        if (this.abandonment) {
          emission.fail(entry, this.abandonment.reason)
          continue
        }
        try {
          const value =
            emission.trace === undefined
              ? this.call(entry, event)
              : this.callTraced(entry, event, emission.trace)
          emission.ok(isObject(value) ? await this.unlessAbandoned(value) : value)
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
    try {
      return Promise.all(Array.from(events, (event) => this.outcome(event, this.emit(event))))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Emits the events one after another (each like {@link emit}); resolves with one outcome per event. */
  async emitBatchSequential<E extends object>(events: Iterable<E>): Promise<Array<EmitOutcome<E>>> {
    const outcomes: Array<EmitOutcome<E>> = []
    for (const event of events) outcomes.push(await this.outcome(event, this.emit(event)))
    return outcomes
  }

  /**
   * Bridges this bus to other processes over `transport`: emits of `options.events` (exactly
   * those classes) are published instead of handled here, and the transport's deliveries run
   * this bus's handlers with their options (`concurrency`, `rateLimit`, `timeout`, `retry`,
   * `partitionBy`). In `'broadcast'` mode (no `group`) every bridged instance — the emitting
   * one included — handles each event once; in `'group'` mode one instance of the group does.
   * An awaited `emit` of a bridged event resolves (with `handled: 0`) once the transport has
   * accepted the message, and rejects if it refused it. A delivery is acknowledged after
   * every `on` handler succeeded (fallible failures do not redeliver); a failure is redelivered
   * after the `backoff` delay, and after `maxDeliveries` goes to the dead letters with its
   * last error, as does a message that cannot be decoded. `close()` of the bus closes its
   * bridges first.
   *
   * @example
   * ```ts
   * import { AsyncEventBus, redisStreamsTransport } from 'tributary'
   * const bus = new AsyncEventBus()
   * bus.on(UserCreated, sendWelcome, { concurrency: 10 })
   * const bridge = await bus.bridge(redisStreamsTransport(redis), { events: [UserCreated], group: 'mailer' })
   * await bus.emit(new UserCreated(1)) // published; one instance of 'mailer' handles it
   * await bridge.close()
   * ```
   */
  async bridge(transport: Transport, options: BridgeOptions): Promise<BusBridge> {
    if (this.closed) throw new BusClosedError('bridge')
    const host: BridgeHost = {
      deliver: (event) => {
        try {
          const route = this.routeOf('deliver', event)
          if (this.closed) return Promise.reject(this.refuse(route, event))
          return this.dispatch(event, route, false) as Promise<EmitResult>
        } catch (error) {
          return Promise.reject(error)
        }
      },
      report: (error, event, operation) => this.report(error, event, operation),
      attach: (classes, bridge) => {
        for (const eventClass of classes) {
          if (this.bridged.has(eventClass))
            throw new EventBusOptionsError(
              'bridge',
              'events',
              className(eventClass),
              undefined,
              'is bridged already',
            )
        }
        for (const eventClass of classes) this.bridged.set(eventClass, bridge)
        this.bridges.add(bridge)
      },
      detach: (classes, bridge) => {
        for (const eventClass of classes)
          if (this.bridged.get(eventClass) === bridge) this.bridged.delete(eventClass)
        this.bridges.delete(bridge)
      },
    }
    const bridge = new Bridge(host, transport, options)
    for (const eventClass of bridge.classes) {
      if (this.bridged.has(eventClass))
        throw new EventBusOptionsError(
          'bridge',
          'events',
          className(eventClass),
          undefined,
          'is bridged already',
        )
    }
    return bridge.start()
  }

  /**
   * Stops accepting emits, rejects pending `once` waits with a `BusClosedError`, ends every
   * iterator, and waits for in-flight handlers — at most `timeout` ms, after which their
   * signals abort (reason: an `AsyncTimeoutError`). Safe to call more than once.
   */
  async close(options: CloseOptions = {}): Promise<CloseResult> {
    const fail = optionFailure({ method: 'close', eventName: 'options' })
    checkOptionsObject(options, fail)
    checkKnownKeys(options, ['timeout'], fail)
    checkDuration(options.timeout, 'timeout', fail)
    const timeout = options.timeout ?? this.closeTimeout
    if (!this.closed && this.bridges.size !== 0) {
      const closing = Promise.allSettled([...this.bridges].map((bridge) => bridge.close()))
      this.closed = true
      await closing
    }
    if (!this.closed) {
      this.closed = true
      for (const entry of [...this.internal]) this.remove(entry, new BusClosedError(entry.name))
      this.routes = new WeakMap()
      this.lastRoute = undefined
    }
    if (this.inflight === 0) return { timedOut: false, abandoned: 0 }
    let timer: LongTimer | undefined
    const drained = new Promise<boolean>((resolve) => {
      const previous = this.onDrained
      this.onDrained = () => {
        previous?.()
        resolve(false)
      }
      timer = setLongTimeout(() => resolve(true), timeout)
    })
    const timedOut = await drained
    timer?.clear()
    if (!timedOut) return { timedOut: false, abandoned: 0 }
    const abandoned = this.inflight
    if (!this.lifetime.signal.aborted)
      this.lifetime.abort(new AsyncTimeoutError('AsyncEventBus.close', timeout))
    await this.abandonInFlight(this.lifetime.signal.reason)
    return { timedOut: true, abandoned }
  }

  /**
   * After a `close()` gave up and aborted the handlers' signal: a handler that stops on it has
   * until the next macrotask; every invocation still running then fails with `reason`, so each
   * emit settles (rejects, or resolves with the error for `onFallible`; `emitAndForget` reports
   * it to `onError`). Whatever a handler does later is ignored.
   */
  private async abandonInFlight(reason: unknown): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.abandonment ??= { reason }
    const { reason: cause } = this.abandonment
    const emissions: Emission[] = []
    for (let at = this.pending; at !== undefined; at = at.pendingNext) emissions.push(at)
    for (const emission of emissions) emission.abandon(cause)
    for (const wait of [...this.serialWaits]) wait.abandon(cause)
    this.serialWaits.clear()
  }

  /** `value` (a handler's promise or thenable), or a rejection with the abandonment's reason. */
  private unlessAbandoned(value: object): Promise<unknown> {
    if (this.abandonment) return Promise.reject(this.abandonment.reason)
    return new Promise<unknown>((resolve, reject) => {
      const waiter: Abandonable = { abandon: reject }
      this.serialWaits.add(waiter)
      Promise.resolve(value).then(
        (result: unknown) => {
          this.serialWaits.delete(waiter)
          resolve(result)
        },
        (error: unknown) => {
          this.serialWaits.delete(waiter)
          reject(error)
        },
      )
    })
  }

  /** {@link close} with the default timeout, for `await using`. */
  async [ASYNC_DISPOSE](): Promise<void> {
    await this.close()
  }

  // ---- emission -------------------------------------------------------------------------

  private dispatch(event: object, route: Route, forget: boolean): Promise<EmitResult> | undefined {
    if (this.debug !== undefined || AsyncEventBus.isDebug) this.log('emit', constructorOf(event), event)
    const emission = this.begin(event, route, forget ? 'emitAndForget' : 'emit')
    const entries = route.entries
    if (!forget && entries.length === 1) return this.dispatchOne(event, emission, entries[0] as Entry)
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry
      if (!entry.active) continue
      let value: unknown
      try {
        value =
          emission.trace === undefined
            ? this.call(entry, event)
            : this.callTraced(entry, event, emission.trace)
      } catch (error) {
        emission.fail(entry, error)
        continue
      }
      // Adopt a returned promise or thenable as Promise.resolve does: a native promise is used
      // as it is; a foreign `then` runs later, guarded, and can settle the call only once.
      if (isObject(value)) emission.track(Promise.resolve(value), entry)
      else emission.ok(value)
    }
    if (emission.release()) {
      this.inflight++
      this.addPending(emission)
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

  /**
   * An awaited emit to a single handler: the handler's promise is chained directly, so no
   * separate promise (and resolving functions) is made for the emit.
   */
  private dispatchOne(event: object, emission: Emission, entry: Entry): Promise<EmitResult> {
    if (entry.active) {
      let value: unknown
      try {
        value =
          emission.trace === undefined
            ? this.call(entry, event)
            : this.callTraced(entry, event, emission.trace)
      } catch (error) {
        emission.fail(entry, error)
        value = undefined
      }
      if (isObject(value)) {
        // Tracked as in dispatch: a close() that gives up must be able to settle it.
        emission.track(Promise.resolve(value), entry)
        emission.release()
        this.inflight++
        this.addPending(emission)
        return new Promise<EmitResult>((resolve, reject) => {
          emission.resolve = resolve
          emission.reject = reject
        })
      }
      if (emission.failures === undefined && emission.errors === undefined) emission.ok(value)
    }
    try {
      return Promise.resolve(this.finish(emission, false))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Every tracked invocation of an emission has settled. */
  /** Links `emission` into the in-flight list. */
  private addPending(emission: Emission): void {
    const head = this.pending
    emission.pendingNext = head
    if (head !== undefined) head.pendingPrev = emission
    this.pending = emission
  }

  /** Unlinks `emission` from the in-flight list. */
  private removePending(emission: Emission): void {
    const { pendingPrev: prev, pendingNext: next } = emission
    if (prev !== undefined) prev.pendingNext = next
    else if (this.pending === emission) this.pending = next
    if (next !== undefined) next.pendingPrev = prev
    emission.pendingPrev = emission.pendingNext = undefined
  }

  private readonly completed = (emission: Emission): void => {
    this.removePending(emission)
    this.settled()
    const forget = emission.resolve === undefined
    try {
      const result = this.finish(emission, forget)
      emission.resolve?.(result)
    } catch (error) {
      emission.reject?.(error)
    }
  }

  private begin(event: object, route: Route, method: string): Emission {
    const metricStart = route.counter.begin()
    const emission = new Emission(
      event,
      route,
      metricStart,
      metricStart === 0 ? performance.now() : metricStart,
      this.completed,
    )
    if (!route.meta) {
      const tracer = activeTracer()
      if (tracer !== undefined) emission.trace = this.traceEmit(tracer, route, method)
    }
    return emission
  }

  /**
   * A bridged emit, published to its transport: traced as `publish <Event>` (a producer span
   * with the event's class name and the method; never the event) when an SDK is registered.
   * The deliveries are traced as emits where they are handled.
   */
  private publish(bridge: Bridge, event: object, route: Route, method: string): Promise<EmitResult> {
    if (activeTracer() === undefined) return bridge.publish(event)
    return traced(
      {
        name: `publish ${route.name}`,
        kind: 'producer',
        attributes: { 'tributary.event': route.name, 'tributary.emit.method': method },
      },
      () => bridge.publish(event),
    )
  }

  /** Runs `entry`'s handler (through its invoker when it has options). */
  private call(entry: Entry, event: object): unknown {
    return entry.invoke === undefined ? entry.handler(event, this.context) : entry.invoke(event)
  }

  /**
   * The span of a traced emit: `emit <Event>`, with the event's class name, the bus's name and
   * the method; never the event itself.
   */
  private traceEmit(
    tracer: NonNullable<ReturnType<typeof activeTracer>>,
    route: Route,
    method: string,
  ): EmitTrace {
    const attributes: Record<string, string | number> = {
      'tributary.event': route.name,
      'tributary.emit.method': method,
      'tributary.handler.count': route.entries.length,
    }
    if (this.debug?.name !== undefined) attributes['tributary.bus'] = this.debug.name
    const span = startSpan(tracer, { name: `emit ${route.name}`, kind: 'producer', attributes })
    return { tracer, span, parent: contextWith(span), event: route.name }
  }

  /**
   * {@link call} in a child span of the emit's, `handle <Event>` (with the handler's name and
   * `tributary.outcome`: `success`, `failure`, `dropped` by a rate limit, or `skipped`), active
   * while the handler runs so that its own spans are its children.
   */
  private callTraced(entry: Entry, event: object, trace: EmitTrace): unknown {
    const name = trace.event
    const span = startSpan(
      trace.tracer,
      {
        name: `handle ${name}`,
        kind: 'consumer',
        attributes: {
          'tributary.event': name,
          'tributary.handler': entry.name,
          'tributary.handler.fallible': entry.fallible,
        },
      },
      trace.parent,
    )
    const failed = (error: unknown): void => {
      span.setAttribute('tributary.outcome', 'failure')
      endSpan(span, error)
    }
    const succeeded = (value: unknown): void => {
      span.setAttribute(
        'tributary.outcome',
        value === DROPPED ? 'dropped' : value === SKIPPED ? 'skipped' : 'success',
      )
      endSpan(span)
    }
    let value: unknown
    try {
      value = withSpan(span, () => this.call(entry, event))
    } catch (error) {
      failed(error)
      throw error
    }
    if (!isObject(value) || typeof (value as { then?: unknown }).then !== 'function') {
      succeeded(value)
      return value
    }
    return Promise.resolve(value).then(
      (result: unknown) => {
        succeeded(result)
        return result
      },
      (error: unknown) => {
        failed(error)
        throw error
      },
    )
  }

  /** Builds the result; throws the `EmitError` for an awaited emit, reports failures of a forgotten one. */
  private finish(emission: Emission, forget: boolean): EmitResult {
    emission.sort()
    const failures = emission.failures
    const errors = emission.errors
    emission.route.counter.end(
      emission.metricStart,
      failures !== undefined || (forget && errors !== undefined),
    )
    const result: EmitResult = {
      handled: emission.handled,
      dropped: emission.dropped,
      errors: errors ?? NO_ERRORS,
      durationMs: performance.now() - emission.start,
    }
    const error = !forget && failures ? new EmitError(emission.route.name, failures, result) : undefined
    if (emission.trace !== undefined)
      endEmitSpan(emission.trace, result, failures, forget ? (failures?.[0] ?? errors?.[0]) : error)
    if (forget) {
      const operation = emission.route.counter.name
      if (failures) for (const failure of failures) this.report(failure, emission.event, operation)
      if (errors) for (const failure of errors) this.report(failure, emission.event, operation)
    } else if (error) {
      throw error
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

  /** A closed bus refuses `event`: counted as a failed emit, and the error to hand back. */
  private refuse(route: Route, event: object): BusClosedError {
    route.counter.end(route.counter.begin(), true)
    return new BusClosedError(`emit(${className(constructorOf(event))})`)
  }

  /** A failure nobody awaits: to the `onError` listeners, or else to the unobserved-error listeners. */
  private report(error: unknown, event: unknown, operation: string): void {
    if (this.errorListeners.size === 0) {
      this.metrics.recordUnobserved(operation, error)
      return
    }
    for (const listener of this.errorListeners) {
      try {
        listener(error, event as object)
      } catch {
        // A faulty error listener must not break the others or the bus.
      }
    }
  }

  private deadLetter(letter: DeadLetter): void {
    for (const listener of this.deadLetterListeners) {
      try {
        listener(letter)
      } catch {
        // A faulty dead-letter listener must not break the others or the handler's error path.
      }
    }
  }

  private log(action: DebugAction, eventClass: EventClass | undefined, event: object | undefined): void {
    const debug = this.debug
    if (!(debug?.enabled === true || AsyncEventBus.isDebug)) return
    if (eventClass !== undefined && isMetaEventClass(eventClass)) return
    try {
      ;(debug?.logger ?? defaultLogger)(action, debug?.name ?? 'AsyncEventBus', eventClass, event)
    } catch {
      // A faulty logger must not break the bus.
    }
  }

  // ---- registry -------------------------------------------------------------------------

  /** The event classes of a call, checked; an array is de-duplicated. */
  private classes(method: string, input: unknown): EventClass[] {
    const list = Array.isArray(input) ? (input as unknown[]) : [input]
    if (list.length === 0) throw new InvalidEventError(method, 'needs at least one event class, got []')
    for (const key of list) {
      if (typeof key !== 'function') {
        throw new InvalidEventError(
          method,
          `needs an event class (or an array of them), got ${key === null ? 'null' : typeof key === 'object' ? 'an object' : String(key)}`,
        )
      }
    }
    return [...new Set(list as EventClass[])]
  }

  /** The route of an event to emit, after checking that it is one. */
  private routeOf(method: string, event: unknown): Route {
    if (!isObject(event))
      throw new InvalidEventError(method, `an event must be a class instance, got ${String(event)}`)
    let eventClass: unknown
    try {
      eventClass = (event as { constructor?: unknown }).constructor
    } catch {
      eventClass = undefined
    }
    const last = this.lastRoute
    const route =
      last !== undefined &&
      last.eventClass === eventClass &&
      last.version === this.version &&
      last.generation === this.metrics.generation
        ? last
        : this.routeOfClass(method, eventClass)
    if (route.meta) throw new InvalidEventError(method, `${route.name} is emitted by the bus only`)
    return route
  }

  private routeOfClass(method: string, eventClass: unknown): Route {
    if (typeof eventClass !== 'function') {
      throw new InvalidEventError(method, 'an event must be a class instance; this object has no constructor')
    }
    const route = this.route(eventClass as EventClass)
    if (!this.closed) this.lastRoute = route
    return route
  }

  private route(eventClass: EventClass): Route {
    const cached = this.routes.get(eventClass)
    if (cached && cached.version === this.version && cached.generation === this.metrics.generation)
      return cached
    const found: Entry[] = [...(this.byClass.get(eventClass) ?? [])]
    for (
      let parent: unknown = Object.getPrototypeOf(eventClass);
      typeof parent === 'function' && parent !== Function.prototype;
      parent = Object.getPrototypeOf(parent)
    ) {
      for (const entry of this.byClass.get(parent as EventClass) ?? []) if (entry.inherited) found.push(entry)
    }
    if (!isMetaEventClass(eventClass)) found.push(...this.anyEntries)
    found.sort((a, b) => a.seq - b.seq)
    const groups = new Set<object>()
    const entries = found.filter((entry) => !groups.has(entry.group) && groups.add(entry.group) !== undefined)
    const name = className(eventClass)
    const route: Route = {
      eventClass,
      meta: isMetaEventClass(eventClass),
      name,
      entries,
      counter: this.metrics.operation(`emit(${name})`),
      version: this.version,
      generation: this.metrics.generation,
    }
    if (!this.closed) this.routes.set(eventClass, route)
    return route
  }

  private requireHandler(method: string, classes: readonly EventClass[] | null, handler: unknown): void {
    if (typeof handler !== 'function') {
      throw new TypeError(
        `AsyncEventBus.${method}(${describe(classes)}): the handler must be a function, got ${String(handler)}`,
      )
    }
  }

  private subscribe(
    method: string,
    classes: EventClass[] | null,
    handler: EventHandler<object>,
    options: HandlerOptions | undefined,
    fallible: boolean,
  ): Unsubscribe {
    this.requireHandler(method, classes, handler)
    const name = typeof options?.name === 'string' ? options.name : handler.name || 'anonymous'
    const labels = { method, handlerName: name, eventName: describe(classes) }
    validateHandlerOptions(options, labels, classes === null)
    const signal = options?.signal
    if (signal?.aborted) return this.unsubscriber(() => undefined)
    const group = {}
    const invoke: Entry['invoke'] = needsInvoker(options)
      ? compileInvoker(
          handler,
          options as HandlerOptions,
          labels,
          this.lifetime.signal,
          (): boolean => entries.some((entry) => entry.active),
          (event, error, attempts) =>
            this.deadLetter({
              event,
              eventName: className(constructorOf(event)),
              handlerName: name,
              error,
              attempts,
            }),
        )
      : undefined
    const keys: Array<EventClass | null> = classes ?? [null]
    const entries: Entry[] = keys.map((key) =>
      this.register(key, group, handler, options, fallible, invoke, undefined, true),
    )
    this.added(entries)
    const unsubscribe = (): void => {
      for (const entry of entries) this.remove(entry, undefined)
    }
    if (signal) {
      // Removing the last entry, by whatever path (off, offAny, clear), detaches the listener.
      signal.addEventListener('abort', unsubscribe, { once: true })
      this.detachers.set(group, () => {
        if (!entries.some((entry) => entry.active)) signal.removeEventListener('abort', unsubscribe)
      })
    }
    return this.unsubscriber(unsubscribe)
  }

  private iterate(
    method: string,
    classes: EventClass[] | null,
    options: EventIteratorOptions,
  ): EventIterator<object> {
    checkIteratorOptions(options, optionFailure({ method, eventName: describe(classes) }), classes !== null)
    const entries: Entry[] = []
    const iterator = new EventIterator<object>(describe(classes), options, () => {
      for (const entry of entries) this.remove(entry, undefined)
    })
    if (this.closed) iterator.end()
    else if (!options.signal?.aborted) {
      const group = {}
      const push = (event: object): void => iterator.push(event)
      const end = (): void => iterator.end()
      for (const key of classes ?? [null]) {
        entries.push(
          this.register(
            key,
            group,
            push,
            { name: method, inherited: options.inherited },
            false,
            undefined,
            end,
            false,
          ),
        )
      }
    }
    return iterator
  }

  private register(
    key: EventClass | null,
    group: object,
    handler: EventHandler<object>,
    options: HandlerOptions | undefined,
    fallible: boolean,
    invoke: Entry['invoke'],
    onRemoved: ((reason: unknown) => void) | undefined,
    announced: boolean,
  ): Entry {
    const name = typeof options?.name === 'string' ? options.name : handler.name || 'anonymous'
    const entry: Entry = {
      key,
      group,
      handler,
      name,
      fallible,
      inherited: options?.inherited === true,
      seq: this.seq++,
      invoke,
      active: true,
      onRemoved,
      announced: announced && !isMetaEventClass(key),
    }
    if (key === null) this.anyEntries = [...this.anyEntries, entry]
    else this.byClass.set(key, [...(this.byClass.get(key) ?? []), entry])
    if (onRemoved) this.internal.add(entry)
    this.size++
    this.version++
    if (announced) this.log('subscribe', key ?? undefined, undefined)
    return entry
  }

  /** Removes an entry (copy-on-write, so an emit in progress keeps its snapshot). */
  private remove(entry: Entry, reason: unknown, announce = true): void {
    if (!entry.active) return
    entry.active = false
    this.size--
    this.version++
    this.internal.delete(entry)
    this.detachers.get(entry.group)?.()
    if (entry.key === null) this.anyEntries = this.anyEntries.filter((e) => e !== entry)
    else {
      const remaining = (this.byClass.get(entry.key) ?? []).filter((e) => e !== entry)
      if (remaining.length === 0) this.byClass.delete(entry.key)
      else this.byClass.set(entry.key, remaining)
    }
    if (entry.onRemoved === undefined || entry.announced)
      this.log('unsubscribe', entry.key ?? undefined, undefined)
    if (reason !== undefined) entry.onRemoved?.(reason)
    if (entry.announced) {
      if (announce) this.announce(ListenerRemoved, entry)
      if (entry.key !== null) this.stopLifecycleIfIdle(entry.key)
    }
  }

  /**
   * New entries of one call are in: start the `init()` hooks of classes that had no handler
   * (rolling the whole call back if one throws), then emit `ListenerAdded`.
   */
  private added(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.key === null || !entry.announced) continue
      const lifecycle = this.lifecycles.get(entry.key)
      if (lifecycle === undefined || lifecycle.cleanup !== undefined) continue
      try {
        this.startLifecycle(lifecycle)
      } catch (error) {
        for (const added of entries) this.remove(added, undefined, false)
        throw error
      }
    }
    for (const entry of entries) if (entry.announced) this.announce(ListenerAdded, entry)
  }

  /** Marks the hook started before running it, so a handler it adds does not start it again. */
  private startLifecycle(lifecycle: Lifecycle): void {
    lifecycle.cleanup = NO_CLEANUP
    let cleanup: unknown
    try {
      cleanup = lifecycle.init()
    } catch (error) {
      lifecycle.cleanup = undefined
      throw error
    }
    if (typeof cleanup !== 'function') return
    if (lifecycle.cleanup === NO_CLEANUP) lifecycle.cleanup = cleanup as () => void
    else if (lifecycle.cleanup === undefined) (cleanup as () => void)() // its last handler left during init
  }

  private stopLifecycleIfIdle(eventClass: EventClass): void {
    const lifecycle = this.lifecycles.get(eventClass)
    if (lifecycle?.cleanup === undefined) return
    if ((this.byClass.get(eventClass) ?? []).some((entry) => entry.announced)) return
    this.stopLifecycle(lifecycle)
  }

  /** Runs a started hook's cleanup; its failure goes where `emitAndForget` failures go. */
  private stopLifecycle(lifecycle: Lifecycle): void {
    const cleanup = lifecycle.cleanup
    lifecycle.cleanup = undefined
    try {
      cleanup?.()
    } catch (error) {
      this.report(error, undefined, `init(${className(lifecycle.eventClass)})`)
    }
  }

  /** Emits a meta event when anyone listens for it (failures go to `onError`, as for `emitAndForget`). */
  private announce(metaClass: typeof ListenerAdded | typeof ListenerRemoved, entry: Entry): void {
    if (this.closed || !this.byClass.has(metaClass)) return
    const event = new metaClass(entry.key ?? undefined, entry.handler)
    const route = this.route(metaClass)
    try {
      this.dispatch(event, route, true)
    } catch (error) {
      this.report(error, event, route.counter.name)
    }
  }

  private unsubscriber(action: () => void): Unsubscribe {
    const unsubscribe = (): void => {
      action()
    }
    return Object.assign(unsubscribe, { [DISPOSE]: unsubscribe })
  }
}

function constructorOf(event: object): EventClass {
  return (event as { constructor: EventClass }).constructor
}

function checkDebug(debug: unknown, fail: (option: string | undefined, problem: string) => never): void {
  if (typeof debug !== 'object' || debug === null) fail('debug', 'must be { name, enabled?, logger? }')
  checkKnownKeys(debug as object, ['name', 'enabled', 'logger'], fail, 'debug.')
  const { name, enabled, logger } = debug as Record<string, unknown>
  if (typeof name !== 'string') fail('debug.name', `must be a string, got ${String(name)}`)
  if (enabled !== undefined && typeof enabled !== 'boolean') fail('debug.enabled', 'must be true or false')
  if (logger !== undefined && typeof logger !== 'function') fail('debug.logger', 'must be a function')
}
