/**
 * One cache entry: a small state machine (idle → loading → success | error) with its
 * observers, the fetch in flight (returned, not repeated), retry, timeout, staleness and
 * garbage-collection timers. Created and owned by a `QueryStore`; users hold `Query` handles.
 */
import { createHash } from 'node:crypto'
import type { Span } from '@opentelemetry/api'
import { LazyAbortController } from '../core/abort'
import { AsyncCancelledError } from '../core/errors'
import { activeTracer, endSpan, startSpan, withSpan } from '../core/telemetry'
import { setLongTimeout, type LongTimer } from '../core/timers'
import type { QueryKey } from './key-hash'
import { callListener, type Notifiable, type Notifier } from './notifier'
import { OptimisticLog } from './optimistic-log'
import {
  QueryStoreError,
  type QueryFetcher,
  type QueryFunctionContext,
  type QueryState,
  type RefetchOptions,
  type ResolvedQueryOptions,
  validateQueryData,
} from './options'
import { runWithRetry } from '../resilience/retry-loop'
import { shareStructure } from './structural-sharing'

/** What an entry needs from its store. @internal */
export interface EntryHost {
  readonly notifier: Notifier
  onListenerError(error: unknown): void
  /** Aborted when the store closes: no fetch starts after that. */
  readonly signal: AbortSignal
  /** The entry has no observers and its `gcTime` has passed. */
  collect(entry: QueryEntry<unknown>): void
  /** The entry became unobserved and idle (a candidate for LRU eviction). */
  released(entry: QueryEntry<unknown>): void
  /** The entry's state changed (for the store's cache events). */
  changed(entry: QueryEntry<unknown>): void
  /**
   * Runs one fetch attempt through the shared tiers (L2, locks) instead of calling the fetcher
   * directly; `fetchedAt` records when a value read from L2 was fetched. Absent: the fetcher runs.
   */
  fetchThrough?<T>(
    entry: QueryEntry<T>,
    fetcher: QueryFetcher<T>,
    context: QueryFunctionContext,
    fetchedAt: (at: number) => void,
  ): T | PromiseLike<T>
}

/** Which page an infinite query's fetch loads; `undefined` reloads every page. @internal */
export type FetchDirection = 'forward' | 'backward' | undefined

interface Flight<T> {
  readonly promise: Promise<T>
  /** Aborts the fetcher's signal; the signal is made only if the fetcher reads it. */
  readonly controller: LazyAbortController
  readonly resolve: (value: T | PromiseLike<T>) => void
  readonly reject: (error: unknown) => void
  readonly direction: FetchDirection
  /** The state before the fetch (states are never changed in place): a cancel reverts its status, error and failures. */
  before: Pick<QueryState<T>, 'status' | 'error' | 'failureCount' | 'failureReason'>
  failures: number
  lastError: unknown
  /** The last observer left: the attempt running may finish, but no retry follows. */
  stopRetry: boolean
  /** When the value was fetched, if not now (a value read from L2). */
  fetchedAt: number | undefined
  /** The fetch's OpenTelemetry span, when an SDK is registered. */
  span: Span | undefined
}

const noop = (): void => undefined

/** The observers of every entry that has none (never added to). */
const NO_LISTENERS: Set<never> = new Set()

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** How a fetch ended, for its span. */
type SettleOutcome = 'success' | 'failure' | 'cancelled'

/** The state of an entry that never held data. */
function emptyState<T>(): QueryState<T> {
  return {
    status: 'idle',
    data: undefined,
    error: null,
    isStale: true,
    isFetching: false,
    updatedAt: 0,
    failureCount: 0,
    failureReason: null,
    isPlaceholderData: false,
  }
}

/** The data an entry is created (or reset) with. @internal */
export interface EntryInitial<T> {
  readonly data: T
  readonly updatedAt: number
}

/** One cached query (internal: users see it through `Query` handles). @internal */
export class QueryEntry<T> implements Notifiable {
  #state: QueryState<T>
  #notified: QueryState<T> | undefined
  #hasData = false
  #invalidated = false
  #destroyed = false
  #flight: Flight<T> | undefined
  #fetcher: QueryFetcher<T> | undefined
  #options: ResolvedQueryOptions
  #optimistic: OptimisticLog<T> | undefined
  #gcTimer: LongTimer | undefined
  #staleTimer: LongTimer | undefined
  readonly #initial: (() => EntryInitial<T> | undefined) | undefined
  /** `NO_LISTENERS` (shared, never added to) until the first observer: most entries fetched once are never observed. */
  #listeners: Set<(state: QueryState<T>) => void> = NO_LISTENERS
  /** Observers that fetch on their own (`enabled` not false): they make the entry active. */
  #enabled = 0
  #onDestroy: Set<() => void> | undefined
  /** The key's digest for spans (made on the first traced fetch). */
  #digest: string | undefined
  readonly #host: EntryHost

  constructor(
    host: EntryHost,
    /** The key as given. */
    readonly key: QueryKey,
    /** The stable hash of {@link key}. */
    readonly hash: string,
    fetcher: QueryFetcher<T> | undefined,
    options: ResolvedQueryOptions,
    initial?: () => EntryInitial<T> | undefined,
  ) {
    this.#host = host
    this.#fetcher = fetcher
    this.#options = options
    this.#initial = initial
    this.#state = this.#startState()
  }

  /** The current state (staleness is checked against the clock on every read). */
  get state(): QueryState<T> {
    const state = this.#state
    if (!state.isStale && !this.isFreshFor(this.#options.staleTime)) {
      this.#state = { ...state, isStale: true }
    }
    return this.#state
  }

  /** The current data, without a staleness check. */
  get data(): T | undefined {
    return this.#state.data
  }

  get options(): ResolvedQueryOptions {
    return this.#options
  }

  get fetcher(): QueryFetcher<T> | undefined {
    return this.#fetcher
  }

  get observerCount(): number {
    return this.#listeners.size
  }

  /** True with at least one enabled observer (TanStack's `isActive`). */
  get isActive(): boolean {
    return this.#enabled > 0
  }

  /** True when observed only by disabled observers (TanStack's `isDisabled`): not refetched in bulk. */
  get isDisabled(): boolean {
    return this.#listeners.size > 0 && this.#enabled === 0
  }

  get isFetching(): boolean {
    return this.#flight !== undefined
  }

  /** True while observed, fetching, or holding pending optimistic updates: never evicted then. */
  get busy(): boolean {
    return this.#listeners.size > 0 || this.#flight !== undefined || this.#optimistic !== undefined
  }

  /** True once removed from its store (cleared, evicted, collected or removed). */
  get destroyed(): boolean {
    return this.#destroyed
  }

  /** True once the entry holds data (fetched, set or initial; `undefined` too with `allowUndefined`). */
  get hasData(): boolean {
    return this.#hasData
  }

  /** True when the data was invalidated and not refetched since. */
  get isInvalidated(): boolean {
    return this.#invalidated
  }

  /** True when the entry holds data newer than `staleTime` ms and is not invalidated. */
  isFreshFor(staleTime: number): boolean {
    return this.#hasData && !this.#invalidated && Date.now() - this.#state.updatedAt < staleTime
  }

  /** Adds an observer; with `autoFetch`, fetches when the data is stale or missing. */
  subscribe(listener: (state: QueryState<T>) => void, autoFetch: boolean): () => void {
    if (this.#listeners.has(listener)) return noop
    if (this.#listeners === NO_LISTENERS) this.#listeners = new Set()
    this.#listeners.add(listener)
    if (autoFetch) this.#enabled++
    this.#clearGc()
    if (this.#flight) this.#flight.stopRetry = false
    if (this.#listeners.size === 1) this.#scheduleStale()
    if (autoFetch && this.#fetcher && !this.#flight && !this.isFreshFor(this.#options.staleTime)) {
      if (!this.#host.signal.aborted) this.#start(undefined).catch(noop)
    }
    return () => {
      if (!this.#listeners.delete(listener)) return
      if (autoFetch) this.#enabled--
      if (this.#listeners.size > 0) return
      this.#clearStale()
      if (this.#flight) this.#flight.stopRetry = true
      this.#released()
    }
  }

  /** Data if fresh, otherwise the fetch in flight or a new one. */
  fetch(): Promise<T> {
    if (this.#flight) return this.#flight.promise
    if (this.isFreshFor(this.#options.staleTime)) return Promise.resolve(this.#state.data as T)
    return this.#start(undefined)
  }

  /** Fetches now, whatever the staleness; by default a fetch in flight with data is superseded. */
  refetch(options?: RefetchOptions, direction?: FetchDirection): Promise<T> {
    const flight = this.#flight
    if (!flight) return this.#start(direction)
    if (options?.cancelRefetch === false || !this.#hasData) return flight.promise
    return this.#supersede(flight, direction)
  }

  /** Marks the data stale; refetches at once when actively observed (or asked to). Never rejects. */
  invalidate(options?: { refetch?: boolean }): Promise<void> {
    this.#invalidated = true
    if (!this.#state.isStale) this.#setState({ ...this.#state, isStale: true })
    const refetch = options?.refetch ?? this.#enabled > 0
    if (!refetch || !this.#fetcher || this.#host.signal.aborted) return Promise.resolve()
    return this.refetch().then(noop, noop)
  }

  /**
   * Sets the data as if fetched at `updatedAt` (now by default). An updater's old data is the
   * confirmed value when optimistic updates are pending. `undefined` (given or returned) leaves
   * the data as it was. Returns the data now held.
   */
  setData(
    updater: T | undefined | ((old: T | undefined) => T | undefined),
    updatedAt?: number,
  ): T | undefined {
    const apply = (old: T | undefined): T | undefined =>
      typeof updater === 'function' ? (updater as (old: T | undefined) => T | undefined)(old) : updater
    let data: T | undefined
    if (this.#optimistic) {
      const base = apply(this.#optimistic.base)
      if (base === undefined) return this.#state.data
      this.#optimistic.base = shareStructure(this.#options.structuralSharing, this.#optimistic.base, base)
      data = this.#optimistic.replay()
    } else {
      data = apply(this.#state.data)
      if (data === undefined) return this.#state.data
    }
    this.#succeed(data as T, updatedAt)
    if (this.#flight) {
      // a cancel of the fetch in flight must not revert to a state without this data
      this.#flight.before = { status: 'success', error: null, failureCount: 0, failureReason: null }
    } else {
      this.#released()
    }
    return this.#state.data
  }

  /**
   * Aborts the fetch in flight; its awaiters get an `AsyncCancelledError`; the state reverts to
   * the one before the fetch (with `revert` false it stays, only no longer fetching).
   */
  cancel(reason?: unknown, revert = true): void {
    const flight = this.#flight
    if (!flight) return
    this.#flight = undefined
    const error = new AsyncCancelledError(`query ${this.hash}`, reason)
    flight.controller.abort(error)
    flight.promise.catch(noop) // awaiters still see the rejection; an unawaited fetch is not "unhandled"
    flight.reject(error)
    this.#setState(
      revert
        ? {
            ...this.#state,
            status: flight.before.status,
            error: flight.before.error,
            failureCount: flight.before.failureCount,
            failureReason: flight.before.failureReason,
            isFetching: false,
          }
        : { ...this.#state, isFetching: false },
    )
    this.#released()
  }

  /** Back to the state the entry was created with (its initial data, if any); cancels a fetch. */
  reset(): void {
    this.cancel('the query was reset')
    this.#optimistic = undefined
    this.#invalidated = false
    this.#hasData = false
    this.#setState(this.#startState())
    this.#scheduleStale()
  }

  /** Adopts the latest fetcher and options given for this key. */
  configure(fetcher: QueryFetcher<T> | undefined, options: ResolvedQueryOptions | undefined): void {
    if (fetcher) this.#fetcher = fetcher
    if (options && options !== this.#options) {
      const gcChanged = options.gcTime !== this.#options.gcTime
      this.#options = options
      if (gcChanged && this.#gcTimer) this.scheduleGc()
    }
  }

  /** Applies an optimistic update at once; returns its id for {@link settleOptimistic}. */
  addOptimistic(update: (data: T | undefined) => T): number {
    const log = (this.#optimistic ??= new OptimisticLog<T>(this.#state.data))
    const id = log.add(update)
    this.#setState({ ...this.#state, data: log.replay() })
    return id
  }

  /** Commits (on success) or rolls back exactly (on failure) one optimistic update. */
  settleOptimistic(id: number, succeeded: boolean): void {
    const log = this.#optimistic
    if (!log) return
    if (succeeded) log.commit(id)
    else this.#setState({ ...this.#state, data: log.rollback(id) })
    if (!log.hasPending) this.#optimistic = undefined
    this.#released()
  }

  /** Calls `callback` once when the entry is destroyed; returns the function that cancels that. */
  onDestroy(callback: () => void): () => void {
    const callbacks = (this.#onDestroy ??= new Set())
    callbacks.add(callback)
    return () => void callbacks.delete(callback)
  }

  /** Cancels everything and clears every timer; the store no longer holds the entry. */
  destroy(): void {
    this.#destroyed = true
    this.cancel('the query store was cleared')
    this.#clearGc()
    this.#clearStale()
    this.#listeners.clear() // a flush iterating them stops here
    this.#listeners = NO_LISTENERS
    this.#enabled = 0
    this.#optimistic = undefined
    const callbacks = this.#onDestroy
    this.#onDestroy = undefined
    if (callbacks !== undefined) for (const callback of callbacks) callback()
  }

  /** Calls the observers with the latest state (from the store's notifier). */
  flushListeners(): void {
    const state = this.state
    if (state === this.#notified) return
    this.#notified = state
    for (const listener of this.#listeners) callListener(listener, state, this.#host.onListenerError)
  }

  /** Starts the garbage-collection countdown when unobserved and idle. */
  scheduleGc(): void {
    this.#clearGc()
    const { gcTime } = this.#options
    if (this.#destroyed || this.busy || gcTime === Infinity) return
    this.#gcTimer = setLongTimeout(
      () => {
        this.#gcTimer = undefined
        if (!this.busy) this.#host.collect(this as QueryEntry<unknown>)
      },
      gcTime,
      { unref: true },
    )
  }

  #startState(): QueryState<T> {
    const initial = this.#initial?.()
    if (initial === undefined || initial.data === undefined) return emptyState<T>()
    this.#hasData = true
    return {
      ...emptyState<T>(),
      status: 'success',
      data: initial.data,
      updatedAt: initial.updatedAt,
      isStale: !(Date.now() - initial.updatedAt < this.#options.staleTime),
    }
  }

  #released(): void {
    if (this.busy || this.#destroyed) return
    this.scheduleGc()
    this.#host.released(this as QueryEntry<unknown>)
  }

  #setState(state: QueryState<T>): void {
    this.#state = state
    if (this.#listeners.size > 0) this.#host.notifier.schedule(this)
    this.#host.changed(this as QueryEntry<unknown>)
  }

  #succeed(data: T, updatedAt = Date.now()): void {
    this.#hasData = true
    this.#invalidated = false
    const shared = shareStructure(this.#options.structuralSharing, this.#state.data, data)
    this.#setState({
      status: 'success',
      data: shared,
      error: null,
      isStale: !(Date.now() - updatedAt < this.#options.staleTime),
      isFetching: this.#flight !== undefined,
      updatedAt,
      failureCount: 0,
      failureReason: null,
      isPlaceholderData: false,
    })
    this.#scheduleStale()
  }

  #start(direction: FetchDirection): Promise<T> {
    if (this.#host.signal.aborted) {
      return Promise.reject(new AsyncCancelledError(`query ${this.hash}`, 'the store is closed'))
    }
    const fetcher = this.#fetcher
    if (!fetcher) {
      return Promise.reject(
        new QueryStoreError(`QueryStore: query ${this.hash} has no fetcher to refetch with`),
      )
    }
    let resolve!: Flight<T>['resolve']
    let reject!: Flight<T>['reject']
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    const state = this.#state
    const flight: Flight<T> = {
      promise,
      controller: new LazyAbortController(),
      resolve,
      reject,
      direction,
      before: state,
      failures: 0,
      lastError: null,
      stopRetry: false,
      fetchedAt: undefined,
      span: undefined,
    }
    this.#flight = flight
    this.#clearGc()
    const loading = state.data === undefined && !this.#hasData
    this.#setState({
      ...state,
      status: loading ? 'loading' : state.status,
      error: loading ? null : state.error,
      isFetching: true,
      failureCount: 0,
      failureReason: null,
    })
    const tracer = activeTracer()
    if (tracer === undefined) {
      this.#run(flight, fetcher).then(
        (data) => this.#settle(flight, true, data),
        (error: unknown) => this.#settle(flight, false, error),
      )
      return promise
    }
    const span = (flight.span = startSpan(tracer, {
      name: 'QueryStore fetch',
      attributes: { 'tributary.query.key_hash': this.#keyDigest() },
    }))
    withSpan(span, () => this.#run(flight, fetcher)).then(
      (data) => this.#traced(flight, span, this.#settle(flight, true, data)),
      (error: unknown) => this.#traced(flight, span, this.#settle(flight, false, error)),
    )
    return promise
  }

  /**
   * The key's digest for spans: the first 16 hex digits of the SHA-256 of its stable hash, so
   * that what a key holds (ids, emails, filters) never reaches a trace.
   */
  #keyDigest(): string {
    return (this.#digest ??= createHash('sha256').update(this.hash).digest('hex').slice(0, 16))
  }

  /**
   * Ends a fetch's span: `tributary.query.attempts`, `tributary.outcome` (`success`, `failure`,
   * or `cancelled` for a fetch cancelled or superseded), `tributary.query.l2` when the value
   * came from the shared L2; status ERROR on failure. Never the data.
   */
  #traced(flight: Flight<T>, span: Span, outcome: SettleOutcome): void {
    const succeeded = outcome === 'success'
    span.setAttribute('tributary.query.attempts', flight.failures + (succeeded ? 1 : 0))
    span.setAttribute('tributary.outcome', outcome)
    if (succeeded && flight.fetchedAt !== undefined) span.setAttribute('tributary.query.l2', true)
    endSpan(span, outcome === 'failure' ? (flight.lastError ?? new Error('fetch failed')) : undefined)
  }

  #supersede(old: Flight<T>, direction: FetchDirection): Promise<T> {
    this.#flight = undefined
    old.controller.abort(new AsyncCancelledError(`query ${this.hash}`, 'superseded by a newer fetch'))
    const promise = this.#start(direction)
    old.promise.catch(noop) // it follows the new fetch, which may fail
    old.resolve(promise)
    return promise
  }

  #run(flight: Flight<T>, given: QueryFetcher<T>): Promise<T> {
    const options = this.#options
    const schema = options.schema
    // With a schema, each attempt's value is validated (so an L2 stores the schema's output).
    const fetcher: QueryFetcher<T> =
      schema === undefined
        ? given
        : (context) => {
            const value = given(context)
            const check = (data: unknown): T => validateQueryData(schema, this.hash, data) as T
            return isPromiseLike(value) ? Promise.resolve(value).then(check) : check(value)
          }
    const { key, hash } = this
    const { meta } = options
    const direction = flight.direction
    const host = this.#host
    const fetchedAt = (at: number): void => void (flight.fetchedAt = at)
    return runWithRetry(
      (attempt, signal) => {
        // `signal` is a getter: a fetcher that never reads it costs no AbortController
        const context: QueryFunctionContext =
          direction === undefined
            ? {
                key,
                get signal() {
                  return signal()
                },
                attempt,
                meta,
              }
            : {
                key,
                get signal() {
                  return signal()
                },
                attempt,
                meta,
                direction,
              }
        return host.fetchThrough === undefined
          ? fetcher(context)
          : host.fetchThrough(this, fetcher, context, fetchedAt)
      },
      {
        retry: options.retry,
        retryDelay: options.retryDelay,
        timeout: options.timeout,
        signal: flight.controller,
        operation: `query ${hash}`,
        canRetry: () => !flight.stopRetry,
        settleOnAbort: false, // cancel() and supersede settle the flight's awaiters themselves
        onFailure: (failureCount, willRetry, error) => {
          flight.failures = failureCount
          flight.lastError = error
          if (willRetry && this.#flight === flight) {
            this.#setState({ ...this.#state, failureCount, failureReason: error })
          }
        },
      },
    )
  }

  #settle(flight: Flight<T>, succeeded: boolean, outcome: unknown): SettleOutcome {
    if (this.#flight !== flight) return 'cancelled' // or superseded: the late answer is discarded
    if (succeeded && outcome === undefined && !this.#options.allowUndefined) {
      succeeded = false
      outcome = new QueryStoreError(`QueryStore: the fetcher of query ${this.hash} resolved undefined`)
      flight.failures++
      flight.lastError = outcome
    }
    this.#flight = undefined
    if (succeeded) {
      let data = outcome as T
      if (this.#optimistic) {
        data = this.#optimistic.rebase(data) as T
        if (!this.#optimistic.hasPending) this.#optimistic = undefined
      }
      this.#succeed(data, flight.fetchedAt)
      flight.resolve(this.#state.data as T)
    } else {
      this.#setState({
        ...this.#state,
        status: 'error',
        error: outcome,
        isFetching: false,
        failureCount: flight.failures,
        failureReason: flight.lastError,
      })
      flight.promise.catch(noop) // marked handled before it rejects (a success needs no extra promise)
      flight.reject(outcome)
    }
    this.#released()
    return succeeded ? 'success' : 'failure'
  }

  #scheduleStale(): void {
    this.#clearStale()
    const { staleTime } = this.#options
    if (this.#listeners.size === 0 || !this.#hasData || this.#invalidated || !(staleTime < Infinity)) return
    const wait = this.#state.updatedAt + staleTime - Date.now()
    if (wait <= 0) return
    this.#staleTimer = setLongTimeout(
      () => {
        this.#staleTimer = undefined
        if (!this.#state.isStale) this.#setState({ ...this.#state, isStale: true })
      },
      wait,
      { unref: true },
    )
  }

  #clearStale(): void {
    this.#staleTimer?.clear()
    this.#staleTimer = undefined
  }

  #clearGc(): void {
    this.#gcTimer?.clear()
    this.#gcTimer = undefined
  }
}
