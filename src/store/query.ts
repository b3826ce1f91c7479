/**
 * `Query`: a handle on the store's entry for one key (TanStack's observer). It follows the
 * store: kept past `gcTime`, evicted or removed, it re-attaches to the store's entry for its
 * key on its next use, so invalidations and mutations always reach it. Its own options
 * (`enabled`, `select`, `placeholderData`) shape what it shows, not what is cached.
 */
import type { QueryKey } from './key-hash'
import { callListener } from './notifier'
import { checkStoreOptions } from './option-specs'
import type { FetchDirection, QueryEntry } from './query-entry'
import type {
  EntryOptions,
  QueryFetcher,
  QueryListener,
  QueryHandleOptions,
  QueryState,
  RefetchOptions,
  ResolvedQueryOptions,
} from './options'
import { replaceEqualDeep } from './structural-sharing'

/** What a handle needs from its store. @internal */
export interface QueryHandleHost {
  /** The store's entry for `hash`, if it holds one. */
  lookup(hash: string): QueryEntry<unknown> | undefined
  /** Receives errors thrown by listeners. */
  onListenerError(error: unknown): void
  /** A handle with subscribers lost its entry: re-attach it when the store has one for its key again. */
  orphaned(handle: Query<unknown, unknown>): void
  /** A handle no longer waits for an entry (it re-attached, or its subscribers left). */
  forget(handle: Query<unknown, unknown>): void
  /** The store's entry for the key, created (with these fetcher and options) if absent. */
  attach(
    key: QueryKey,
    fetcher: QueryFetcher<unknown> | undefined,
    options: EntryOptions<unknown> | undefined,
  ): QueryEntry<unknown>
}

/** A new value for a query's data, or a function from the old data to the new. */
export type Updater<T> = T | undefined | ((old: T | undefined) => T | undefined)

/**
 * A cached query, seen through one handle. Get one from `store.query(key, fetcher, options)`.
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
export class Query<TData, TQueryFnData = TData> {
  #entry: QueryEntry<TQueryFnData>
  readonly #host: QueryHandleHost
  readonly #fetcher: QueryFetcher<TQueryFnData> | undefined
  readonly #options: QueryHandleOptions<TQueryFnData, TData> | undefined
  readonly #subscriptions = new Map<QueryListener<TData>, () => void>()
  #lastEntryState: QueryState<TQueryFnData> | undefined
  #lastState: QueryState<TData> | undefined
  #selectedFrom: TQueryFnData | undefined
  #selected: TData | undefined
  #shown: TData | undefined
  #unwatch: (() => void) | undefined

  /** @internal Created by `QueryStore`. */
  constructor(
    host: QueryHandleHost,
    entry: QueryEntry<TQueryFnData>,
    fetcher: QueryFetcher<TQueryFnData> | undefined,
    options: QueryHandleOptions<TQueryFnData, TData> | undefined,
  ) {
    this.#host = host
    this.#entry = entry
    this.#fetcher = fetcher
    this.#options = options
  }

  /** The key as given. */
  get key(): QueryKey {
    return this.#entry.key
  }

  /** The stable hash of {@link key}. */
  get hash(): string {
    return this.#entry.hash
  }

  /** The current state as this handle shows it (its `select` and `placeholderData` applied). */
  get state(): QueryState<TData> {
    return this.#derive(this.#peek().state)
  }

  /** The current data as this handle shows it, without a staleness check. */
  get data(): TData | undefined {
    const entry = this.#peek()
    const options = this.#options
    if (options?.select === undefined && options?.placeholderData === undefined)
      return entry.data as TData | undefined
    return this.#derive(entry.state).data
  }

  /** The entry's options in effect (the latest given for this key, over the store's defaults). */
  get options(): ResolvedQueryOptions {
    return this.#peek().options
  }

  /** How many listeners the entry has, through every handle. */
  get observerCount(): number {
    return this.#peek().observerCount
  }

  /** True while a fetch is in flight. */
  get isFetching(): boolean {
    return this.#peek().isFetching
  }

  /** True when the entry holds data newer than `staleTime` ms and is not invalidated. */
  isFreshFor(staleTime: number): boolean {
    return this.#peek().isFreshFor(staleTime)
  }

  /**
   * Calls `listener` after each batch of changes (once per microtask at most, with the
   * latest state). Subscribing to a query with stale or no data starts a fetch unless
   * `enabled` is false (stale-while-revalidate: the stale data stays in `state.data`
   * meanwhile). When the last listener leaves, a fetch in flight makes no more retries.
   * Returns the unsubscribe function.
   */
  subscribe(listener: QueryListener<TData>): () => void {
    if (!this.#subscriptions.has(listener)) {
      const entry = this.#live()
      this.#subscriptions.set(listener, this.#observe(entry, listener))
      this.#watch(entry)
    }
    return () => {
      const unsubscribe = this.#subscriptions.get(listener)
      if (unsubscribe === undefined) return
      this.#subscriptions.delete(listener)
      unsubscribe()
      if (this.#subscriptions.size > 0) return
      this.#unwatch?.()
      this.#unwatch = undefined
      this.#host.forget(this as Query<unknown, unknown>)
    }
  }

  /** Data if fresh, otherwise the fetch in flight or a new one. Rejects with the fetch's error. */
  fetch(): Promise<TData> {
    return this.#project(this.#live().fetch())
  }

  /** Fetches now, whatever the staleness. By default a fetch in flight is superseded. */
  refetch(options?: RefetchOptions): Promise<TData> {
    checkStoreOptions('refetch', options)
    return this.#project(this.#live().refetch(options))
  }

  /**
   * Marks the data stale. With subscribers (or `refetch: true`), refetches at once,
   * superseding a fetch in flight. Resolves when that refetch settles; never rejects.
   */
  invalidate(options?: { refetch?: boolean }): Promise<void> {
    checkStoreOptions('Query.invalidate', options)
    return this.#live().invalidate(options)
  }

  /**
   * Sets the cached data (a value, or an updater of the old data) as if fetched now (or at
   * `updatedAt`). With optimistic updates pending, the updater applies to the confirmed value
   * and the pending ones are replayed. `undefined`, given or returned, leaves the data as it
   * was (as TanStack's `setQueryData`). Returns the cached data.
   */
  setData(updater: Updater<TQueryFnData>, options?: { updatedAt?: number }): TQueryFnData | undefined {
    checkStoreOptions('Query.setData', options)
    return this.#live().setData(updater, options?.updatedAt)
  }

  /** Aborts the fetch in flight; its awaiters get an `AsyncCancelledError`; the state reverts. */
  cancel(reason?: unknown): void {
    this.#peek().cancel(reason)
  }

  /** @internal Re-binds to the store's entry for the key (called when the store has one again). */
  reattach(): void {
    if (this.#subscriptions.size === 0) return
    if (this.#peek().destroyed) this.#host.orphaned(this as Query<unknown, unknown>) // gone again: keep waiting
  }

  /** @internal Fetches one more page of an infinite query (or all, with no direction). */
  fetchDirection(direction: FetchDirection, options?: RefetchOptions): Promise<TQueryFnData> {
    return this.#live().refetch(options, direction)
  }

  /** The entry this handle is bound to, re-bound to the store's one for the key if that changed. */
  #peek(): QueryEntry<TQueryFnData> {
    if (!this.#entry.destroyed) return this.#entry
    const current = this.#host.lookup(this.#entry.hash)
    if (current !== undefined) this.#rebind(current as QueryEntry<TQueryFnData>)
    return this.#entry
  }

  /** Like {@link #peek}, but creates the store's entry for the key when it holds none. */
  #live(): QueryEntry<TQueryFnData> {
    if (!this.#entry.destroyed) return this.#entry
    const entry = this.#host.attach(
      this.#entry.key,
      this.#fetcher as QueryFetcher<unknown> | undefined,
      this.#options as EntryOptions<unknown> | undefined,
    )
    this.#rebind(entry as QueryEntry<TQueryFnData>)
    return this.#entry
  }

  #rebind(entry: QueryEntry<TQueryFnData>): void {
    this.#entry = entry
    this.#lastEntryState = undefined
    if (this.#subscriptions.size === 0) return
    for (const [listener, unsubscribe] of this.#subscriptions) {
      unsubscribe()
      this.#subscriptions.set(listener, this.#observe(entry, listener))
    }
    this.#host.forget(this as Query<unknown, unknown>)
    this.#watch(entry)
    // the subscribers see the new entry's state once, as after any change (batched on a microtask)
    void Promise.resolve().then(() => {
      if (this.#entry !== entry) return
      const state = this.#derive(entry.state)
      for (const listener of this.#subscriptions.keys())
        callListener(listener, state, this.#host.onListenerError)
    })
  }

  /** While subscribed, learns when the entry goes, to re-attach once the store has a new one. */
  #watch(entry: QueryEntry<TQueryFnData>): void {
    this.#unwatch?.()
    this.#unwatch = entry.onDestroy(() => {
      this.#unwatch = undefined
      if (this.#subscriptions.size > 0) this.#host.orphaned(this as Query<unknown, unknown>)
    })
  }

  #observe(entry: QueryEntry<TQueryFnData>, listener: QueryListener<TData>): () => void {
    const plain = this.#options?.select === undefined && this.#options?.placeholderData === undefined
    // a bridge per subscription, so one listener given to two handles is two subscriptions
    const bridge = plain
      ? (state: QueryState<TQueryFnData>) => listener(state as unknown as QueryState<TData>)
      : (state: QueryState<TQueryFnData>) => listener(this.#derive(state))
    return entry.subscribe(bridge, this.#options?.enabled !== false)
  }

  #project(promise: Promise<TQueryFnData>): Promise<TData> {
    if (this.#options?.select === undefined) return promise as unknown as Promise<TData>
    return promise.then((data) => this.#select(data))
  }

  #select(data: TQueryFnData): TData {
    const select = this.#options?.select
    if (select === undefined) return data as unknown as TData
    if (this.#selectedFrom === data && this.#selected !== undefined) return this.#selected
    const selected = replaceEqualDeep(this.#selected, select(data))
    this.#selectedFrom = data
    this.#selected = selected
    return selected
  }

  #derive(state: QueryState<TQueryFnData>): QueryState<TData> {
    const options = this.#options
    if (options?.select === undefined && options?.placeholderData === undefined) {
      return state as unknown as QueryState<TData>
    }
    if (state === this.#lastEntryState && this.#lastState !== undefined) return this.#lastState
    let derived: QueryState<TData>
    const placeholder = options.placeholderData
    let raw = state.data
    let isPlaceholderData = false
    if (
      raw === undefined &&
      placeholder !== undefined &&
      (state.status === 'idle' || state.status === 'loading')
    ) {
      raw =
        typeof placeholder === 'function'
          ? (placeholder as (previous: TData | undefined) => TQueryFnData | undefined)(this.#shown)
          : placeholder
      isPlaceholderData = raw !== undefined
    }
    try {
      const data = raw === undefined ? undefined : this.#select(raw)
      derived = isPlaceholderData
        ? { ...state, status: 'success', data, isPlaceholderData }
        : { ...state, data: data as TData | undefined }
    } catch (error) {
      derived = { ...state, data: this.#shown, status: 'error', error, isPlaceholderData: false }
    }
    if (!isPlaceholderData && derived.data !== undefined) this.#shown = derived.data
    this.#lastEntryState = state
    this.#lastState = derived
    return derived
  }
}
