/**
 * One cached query: a small state machine (idle → loading → success | error) with its
 * listeners, the fetch in flight (returned, not repeated), retry, timeout, staleness and
 * garbage-collection timers. Created and owned by a `QueryStore`.
 */
import { AsyncCancelledError, TributaryError, hasErrorKind } from '../core/errors'
import type { QueryKey } from './key-hash'
import { callListener, type Notifiable, type Notifier } from './notifier'
import { OptimisticLog } from './optimistic-log'
import { defaultRetryDelay, runWithRetry, type RetryDelayOption, type RetryOption } from './retry'

/** Where a query is: never fetched, fetching its first value, holding data, or failed. */
export type QueryStatus = 'idle' | 'loading' | 'success' | 'error'

/** A snapshot of a query's state. A new object after every change. */
export interface QueryState<T> {
  /** `idle` before the first fetch; `loading` while fetching with no data; then `success`/`error`. */
  readonly status: QueryStatus
  /** The last value (kept through later errors and refetches). */
  readonly data: T | undefined
  /** The error of the last attempt of the last failed fetch; `null` after a success. */
  readonly error: unknown
  /** True when the data is older than `staleTime`, invalidated, or missing. */
  readonly isStale: boolean
  /** True while a fetch (including retries and their waits) is running. */
  readonly isFetching: boolean
  /** When `data` was last set (ms since the epoch); 0 before the first value. */
  readonly updatedAt: number
  /** Failures of the current fetch (while retrying) or of the last failed fetch; 0 after a success. */
  readonly failureCount: number
}

/** What a fetcher receives. */
export interface QueryFunctionContext {
  /** The query's key. */
  readonly key: QueryKey
  /** Aborted when the fetch is cancelled, superseded, times out, or the store closes. */
  readonly signal: AbortSignal
  /** 0 for the first attempt, then 1, 2, … for retries. */
  readonly attempt: number
}

/** Loads a query's value. It should stop when `signal` aborts. */
export type QueryFetcher<T> = (context: QueryFunctionContext) => T | PromiseLike<T>

/** Called with the new state after each batch of changes. */
export type QueryListener<T> = (state: QueryState<T>) => void

/** Options for a query; the store's options give the defaults. */
export interface StoreQueryOptions {
  /** How long data stays fresh (served without a request), in ms. Defaults to 0 (always revalidate). */
  staleTime?: number
  /** How long an entry with no subscribers is kept, in ms. Defaults to 300_000 (5 minutes). */
  cacheTime?: number
  /** Retries after a failure: a count, `true`, or `(failureCount, error) => boolean`. Defaults to 0. */
  retry?: RetryOption
  /** Delay before a retry, in ms. Defaults to `min(1000 * 2 ** failureCount, 30_000)`. */
  retryDelay?: RetryDelayOption
  /** Aborts an attempt after this many ms with an `AsyncTimeoutError`. Defaults to no limit. */
  timeout?: number
}

/** {@link StoreQueryOptions} with every default filled in. */
export interface ResolvedQueryOptions {
  readonly staleTime: number
  readonly cacheTime: number
  readonly retry: RetryOption
  readonly retryDelay: RetryDelayOption
  readonly timeout: number
}

/** The defaults of {@link StoreQueryOptions}. */
export const DEFAULT_QUERY_OPTIONS: ResolvedQueryOptions = Object.freeze({
  staleTime: 0,
  cacheTime: 300_000,
  retry: 0,
  retryDelay: defaultRetryDelay,
  timeout: Infinity,
})

/** Options for {@link Query.refetch}. */
export interface RefetchOptions {
  /** Abort a fetch in flight and start over (its awaiters get the new result). Defaults to true. */
  cancelRefetch?: boolean
}

/** A query was asked to fetch but has no fetcher (it was only ever set with `setData`). */
export class QueryStoreError extends TributaryError {}

/** True when `error` is a {@link QueryStoreError}. */
export function isQueryStoreError(error: unknown): error is QueryStoreError {
  return hasErrorKind(error, 'QueryStoreError')
}

/** What a query needs from its store. @internal */
export interface QueryHost {
  readonly notifier: Notifier
  onListenerError(error: unknown): void
  /** The entry has no subscribers and its `cacheTime` has passed. */
  collect(query: Query<unknown>): void
  /** The entry became unobserved and idle (a candidate for LRU eviction). */
  released(query: Query<unknown>): void
}

interface Flight<T> {
  readonly promise: Promise<T>
  readonly controller: AbortController
  readonly resolve: (value: T | PromiseLike<T>) => void
  readonly reject: (error: unknown) => void
  readonly before: Pick<QueryState<T>, 'status' | 'error' | 'failureCount'>
  failures: number
}

const noop = (): void => undefined

function unrefTimer(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}

/**
 * A cached query. Get one from `store.query(key, fetcher, options)`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore({ staleTime: 60_000 })
 * const user = store.query(['user', 1], ({ signal }) => loadUser(1, signal))
 * const stop = user.subscribe((state) => console.log(state.status, state.data))
 * await user.refetch()
 * stop()
 * ```
 */
export class Query<T> implements Notifiable {
  #state: QueryState<T>
  #notified: QueryState<T> | undefined
  #hasData = false
  #invalidated = false
  #flight: Flight<T> | undefined
  #fetcher: QueryFetcher<T> | undefined
  #options: ResolvedQueryOptions
  #optimistic: OptimisticLog<T> | undefined
  #gcTimer: ReturnType<typeof setTimeout> | undefined
  #staleTimer: ReturnType<typeof setTimeout> | undefined
  readonly #listeners = new Set<QueryListener<T>>()
  readonly #host: QueryHost

  /** @internal Created by `QueryStore`. */
  constructor(
    host: QueryHost,
    /** The key as given. */
    readonly key: QueryKey,
    /** The stable hash of {@link key}. */
    readonly hash: string,
    fetcher: QueryFetcher<T> | undefined,
    options: ResolvedQueryOptions,
  ) {
    this.#host = host
    this.#fetcher = fetcher
    this.#options = options
    this.#state = {
      status: 'idle',
      data: undefined,
      error: null,
      isStale: true,
      isFetching: false,
      updatedAt: 0,
      failureCount: 0,
    }
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

  /** The options in effect (the latest given for this key, over the store's defaults). */
  get options(): ResolvedQueryOptions {
    return this.#options
  }

  /** How many listeners are subscribed. */
  get observerCount(): number {
    return this.#listeners.size
  }

  /** True while a fetch is in flight. */
  get isFetching(): boolean {
    return this.#flight !== undefined
  }

  /** True when the query holds data newer than `staleTime` ms and is not invalidated. */
  isFreshFor(staleTime: number): boolean {
    return this.#hasData && !this.#invalidated && Date.now() - this.#state.updatedAt < staleTime
  }

  /**
   * Calls `listener` after each batch of changes (once per microtask at most, with the
   * latest state). Subscribing to a query with stale or no data starts a fetch
   * (stale-while-revalidate: the stale data stays in `state.data` meanwhile).
   * Returns the unsubscribe function.
   */
  subscribe(listener: QueryListener<T>): () => void {
    this.#listeners.add(listener)
    this.#clearGc()
    if (this.#listeners.size === 1) this.#scheduleStale()
    if (this.#fetcher && !this.#flight && !this.isFreshFor(this.#options.staleTime)) {
      this.#start().catch(noop)
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return
      this.#clearStale()
      this.#released()
    }
  }

  /** Data if fresh, otherwise the fetch in flight or a new one. Rejects with the fetch's error. */
  fetch(): Promise<T> {
    if (this.#flight) return this.#flight.promise
    if (this.isFreshFor(this.#options.staleTime)) return Promise.resolve(this.#state.data as T)
    return this.#start()
  }

  /** Fetches now, whatever the staleness. By default a fetch in flight is superseded. */
  refetch(options?: RefetchOptions): Promise<T> {
    const flight = this.#flight
    if (!flight) return this.#start()
    if (options?.cancelRefetch === false || !this.#hasData) return flight.promise
    return this.#supersede(flight)
  }

  /**
   * Marks the data stale. With subscribers (or `refetch: true`), refetches at once,
   * superseding a fetch in flight. Resolves when that refetch settles; never rejects.
   */
  invalidate(options?: { refetch?: boolean }): Promise<void> {
    this.#invalidated = true
    if (!this.#state.isStale) this.#setState({ ...this.#state, isStale: true })
    const refetch = options?.refetch ?? this.#listeners.size > 0
    if (!refetch || !this.#fetcher) return Promise.resolve()
    return this.refetch().then(noop, noop)
  }

  /**
   * Sets the data (a value, or an updater of the old data) as if fetched now. With optimistic
   * updates pending, the updater applies to the confirmed value and the pending ones are replayed.
   */
  setData(updater: T | ((old: T | undefined) => T)): T {
    const apply = (old: T | undefined): T =>
      typeof updater === 'function' ? (updater as (old: T | undefined) => T)(old) : updater
    let data: T
    if (this.#optimistic) {
      this.#optimistic.base = apply(this.#optimistic.base)
      data = this.#optimistic.replay() as T
    } else {
      data = apply(this.#state.data)
    }
    this.#succeed(data)
    if (!this.#flight) this.#released()
    return data
  }

  /** Aborts the fetch in flight; its awaiters get an `AsyncCancelledError`; the state reverts. */
  cancel(reason?: unknown): void {
    const flight = this.#flight
    if (!flight) return
    this.#flight = undefined
    const error = new AsyncCancelledError(`query ${this.hash}`, reason)
    flight.controller.abort(error)
    flight.reject(error)
    this.#setState({ ...this.#state, ...flight.before, isFetching: false })
    this.#released()
  }

  /** @internal Adopts the latest fetcher and options given for this key. */
  configure(fetcher: QueryFetcher<T> | undefined, options: ResolvedQueryOptions | undefined): void {
    if (fetcher) this.#fetcher = fetcher
    if (options && options !== this.#options) this.#options = options
  }

  /** @internal Applies an optimistic update at once; returns its id for {@link settleOptimistic}. */
  addOptimistic(update: (data: T | undefined) => T): number {
    const log = (this.#optimistic ??= new OptimisticLog<T>(this.#state.data))
    const id = log.add(update)
    this.#setState({ ...this.#state, data: log.replay() })
    return id
  }

  /** @internal Commits (on success) or rolls back exactly (on failure) one optimistic update. */
  settleOptimistic(id: number, succeeded: boolean): void {
    const log = this.#optimistic
    if (!log) return
    if (succeeded) log.commit(id)
    else this.#setState({ ...this.#state, data: log.rollback(id) })
    if (!log.hasPending) this.#optimistic = undefined
  }

  /** @internal Cancels everything and clears every timer (store `clear()`/`close()`/eviction). */
  destroy(): void {
    this.cancel('the query store was cleared')
    this.#clearGc()
    this.#clearStale()
    this.#listeners.clear()
    this.#optimistic = undefined
  }

  /** @internal Calls the listeners with the latest state (from the store's notifier). */
  flushListeners(): void {
    const state = this.state
    if (state === this.#notified) return
    this.#notified = state
    for (const listener of this.#listeners) callListener(listener, state, this.#host.onListenerError)
  }

  /** @internal Starts the garbage-collection countdown when unobserved and idle. */
  scheduleGc(): void {
    this.#clearGc()
    const { cacheTime } = this.#options
    if (this.#listeners.size > 0 || this.#flight || cacheTime === Infinity) return
    this.#gcTimer = unrefTimer(
      setTimeout(() => {
        this.#gcTimer = undefined
        if (this.#listeners.size === 0 && !this.#flight) this.#host.collect(this as Query<unknown>)
      }, cacheTime),
    )
  }

  #released(): void {
    if (this.#listeners.size > 0 || this.#flight) return
    this.scheduleGc()
    this.#host.released(this as Query<unknown>)
  }

  #setState(state: QueryState<T>): void {
    this.#state = state
    if (this.#listeners.size > 0) this.#host.notifier.schedule(this)
  }

  #succeed(data: T): void {
    this.#hasData = true
    this.#invalidated = false
    this.#setState({
      status: 'success',
      data,
      error: null,
      isStale: this.#options.staleTime <= 0,
      isFetching: this.#flight !== undefined,
      updatedAt: Date.now(),
      failureCount: 0,
    })
    this.#scheduleStale()
  }

  #start(): Promise<T> {
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
    promise.catch(noop) // awaiters still see the rejection; an unawaited fetch is not "unhandled"
    const state = this.#state
    const flight: Flight<T> = {
      promise,
      controller: new AbortController(),
      resolve,
      reject,
      before: { status: state.status, error: state.error, failureCount: state.failureCount },
      failures: 0,
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
    })
    this.#run(flight, fetcher).then(
      (data) => this.#settle(flight, true, data),
      (error: unknown) => this.#settle(flight, false, error),
    )
    return promise
  }

  #supersede(old: Flight<T>): Promise<T> {
    this.#flight = undefined
    old.controller.abort(new AsyncCancelledError(`query ${this.hash}`, 'superseded by a newer fetch'))
    const promise = this.#start()
    old.resolve(promise)
    return promise
  }

  #run(flight: Flight<T>, fetcher: QueryFetcher<T>): Promise<T> {
    const options = this.#options
    return runWithRetry((attempt, signal) => fetcher({ key: this.key, signal, attempt }), {
      retry: options.retry,
      retryDelay: options.retryDelay,
      timeout: options.timeout,
      signal: flight.controller.signal,
      operation: `query ${this.hash}`,
      onFailure: (failureCount, willRetry) => {
        flight.failures = failureCount
        if (willRetry && this.#flight === flight) this.#setState({ ...this.#state, failureCount })
      },
    })
  }

  #settle(flight: Flight<T>, succeeded: boolean, outcome: unknown): void {
    if (this.#flight !== flight) return // cancelled or superseded: the late answer is discarded
    this.#flight = undefined
    if (succeeded) {
      let data = outcome as T
      if (this.#optimistic) {
        data = this.#optimistic.rebase(data) as T
        if (!this.#optimistic.hasPending) this.#optimistic = undefined
      }
      this.#succeed(data)
      flight.resolve(data)
    } else {
      this.#setState({
        ...this.#state,
        status: 'error',
        error: outcome,
        isFetching: false,
        failureCount: flight.failures,
      })
      flight.reject(outcome)
    }
    this.#released()
  }

  #scheduleStale(): void {
    this.#clearStale()
    const { staleTime } = this.#options
    if (this.#listeners.size === 0 || !this.#hasData || this.#invalidated || !(staleTime < Infinity)) return
    const wait = this.#state.updatedAt + staleTime - Date.now()
    if (wait <= 0) return
    this.#staleTimer = unrefTimer(
      setTimeout(() => {
        this.#staleTimer = undefined
        if (!this.#state.isStale) this.#setState({ ...this.#state, isStale: true })
      }, wait),
    )
  }

  #clearStale(): void {
    if (this.#staleTimer === undefined) return
    clearTimeout(this.#staleTimer)
    this.#staleTimer = undefined
  }

  #clearGc(): void {
    if (this.#gcTimer === undefined) return
    clearTimeout(this.#gcTimer)
    this.#gcTimer = undefined
  }
}
