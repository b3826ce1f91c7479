/**
 * `QueryStore`: the collection of cached queries — keyed by a stable hash, bounded by
 * `maxEntries` (least-recently-used eviction of idle entries) and `gcTime`, with filters for
 * bulk work (TanStack's `QueryClient` names), cache events, mutations and paginated queries.
 */
import { AsyncCancelledError } from '../core/errors'
import { raceAbort } from '../core/abort'
import { DISPOSE } from '../core/dispose'
import { entryMatcher, type QueryFilters } from './filters'
import { checkStoreOptions } from './option-specs'
import { hashKey, hashStartsWith, prefixOfHash, type QueryKey } from './key-hash'
import { Mutation, type MutationHost, type MutationOptions, type Mutator } from './mutation'
import { callListener, Notifier } from './notifier'
import { PaginatedQuery, type PageFetcher, type PaginatedOptions } from './paginated'
import { Query, type QueryHandleHost, type Updater } from './query'
import { QueryEntry, type EntryHost, type EntryInitial } from './query-entry'
import { DistributedLayer, type DistributedStoreOptions } from './distributed/layer'
import { staleWithinGrace } from './distributed/grace'
import {
  DEFAULT_QUERY_OPTIONS,
  QueryStoreError,
  resolveOptions,
  type QueryFetcher,
  type EntryOptions,
  type QueryHandleOptions,
  type ResolvedQueryOptions,
  type SchemaOutput,
  type StoreQueryOptions,
} from './options'
import type { StandardSchemaV1 } from '../core/standard-schema'

/** Options for a {@link QueryStore}: defaults for every query, plus the cache bounds. */
export interface QueryStoreOptions extends StoreQueryOptions, DistributedStoreOptions {
  /**
   * Most entries kept; beyond it the least recently used idle ones go (never one observed,
   * fetching, with pending optimistic updates, or the one just used: when none can go, the
   * bound is exceeded until one becomes idle). Defaults to no limit.
   */
  maxEntries?: number
  /** Receives errors thrown by listeners. Defaults to `console.error`. */
  onListenerError?: (error: unknown) => void
  /**
   * Receives what the store handles without failing a read: an L2 or bus outage
   * (`L2UnavailableError`, once per outage), a stale value served within `grace`
   * (`StaleValueServedError`). Defaults to `onListenerError`.
   */
  onError?: (error: unknown) => void
}

/**
 * Options for {@link QueryStore.fetch}: query options, the data a new entry starts with, and a
 * signal for this caller.
 */
export interface FetchOptions<T = unknown>
  extends StoreQueryOptions, Pick<QueryHandleOptions<T>, 'initialData' | 'initialDataUpdatedAt'> {
  /** Stops this caller's wait (the shared fetch goes on for other callers). Defaults to none. */
  signal?: AbortSignal
}

/** Options for {@link QueryStore.ensureQueryData}. */
export interface EnsureQueryDataOptions<T> extends FetchOptions<T> {
  /** When the cached data is stale, answer it and refetch in the background. Defaults to false. */
  revalidateIfStale?: boolean
}

/** Which queries `invalidate` refetches at once. */
export type InvalidateRefetch = 'observed' | 'all' | 'none'

/** Which matched queries `invalidateQueries` refetches: observed, unobserved, all or none. */
export type RefetchType = 'active' | 'inactive' | 'all' | 'none'

/** Picks running mutations for {@link QueryStore.isMutating}. */
export interface MutationFilters {
  /** Mutations whose `mutationKey` starts with this one (or equals it with `exact`). Defaults to every mutation. */
  mutationKey?: QueryKey
  /** Match `mutationKey` exactly. Defaults to false. */
  exact?: boolean
}

/** What changed in the cache: an entry was added, removed, or its state changed. */
export interface QueryCacheEvent {
  readonly type: 'added' | 'removed' | 'updated'
  /** The store's handle on the entry. */
  readonly query: Query<unknown>
}

/** Receives {@link QueryCacheEvent}s, synchronously as they happen. */
export type QueryCacheListener = (event: QueryCacheEvent) => void

/** Options for {@link QueryStore.refetchQueries}. */
export interface RefetchQueriesOptions {
  /** Supersede a fetch in flight (with data) instead of sharing it. Defaults to true. */
  cancelRefetch?: boolean
  /** Reject with the first failure instead of resolving. Defaults to false. */
  throwOnError?: boolean
}

const noop = (): void => undefined

/**
 * A framework-agnostic async query cache: stale-while-revalidate, deduplicated requests,
 * cancellation, timeouts, retry with backoff, structural sharing, a bounded cache, optimistic
 * mutations. It is also a small get-or-fetch TTL cache: `store.fetch(key, fetcher, { staleTime: ttl })`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore({ maxEntries: 1_000, staleTime: 60_000, gcTime: 300_000 })
 * const user = store.query(['user', 1], ({ signal }) => loadUser(1, signal), { timeout: 2_000 })
 * const stop = user.subscribe((state) => render(state))
 * const same = await store.fetch(['user', 1], ({ signal }) => loadUser(1, signal)) // cached
 * stop()
 * store.close()
 * ```
 */
export class QueryStore {
  readonly #entries = new Map<string, QueryEntry<unknown>>()
  readonly #handles = new WeakMap<QueryEntry<unknown>, Query<unknown>>()
  readonly #defaults: ResolvedQueryOptions
  readonly #queryDefaults: Array<{ readonly prefix: string; options: StoreQueryOptions }> = []
  readonly #maxEntries: number
  readonly #notifier = new Notifier()
  readonly #lifetime = new AbortController()
  readonly #listeners = new Set<QueryCacheListener>()
  readonly #running: Array<QueryKey | undefined> = []
  readonly #scopes = new Map<string, Promise<void>>()
  /** Subscribed handles whose entry went, by key hash, waiting for the store to hold one again. */
  readonly #orphans = new Map<string, Set<Query<unknown, unknown>>>()
  readonly #onListenerError: (error: unknown) => void
  readonly #entryHost: EntryHost
  readonly #handleHost: QueryHandleHost
  readonly #mutationHost: MutationHost
  readonly #layer: DistributedLayer | undefined
  readonly #onError: (error: unknown) => void
  #mru: QueryEntry<unknown> | undefined

  constructor(options: QueryStoreOptions = {}) {
    checkStoreOptions('new QueryStore', options)
    this.#defaults = resolveOptions(DEFAULT_QUERY_OPTIONS, options)
    this.#maxEntries = options.maxEntries ?? Infinity
    if (!(this.#maxEntries >= 1)) {
      throw new QueryStoreError(`QueryStore: option maxEntries must be at least 1, got ${options.maxEntries}`)
    }
    const onListenerError = options.onListenerError ?? ((error: unknown) => console.error(error))
    this.#onListenerError = onListenerError
    this.#onError = options.onError ?? onListenerError
    this.#layer =
      options.l2 !== undefined || options.bus !== undefined
        ? new DistributedLayer(options, {
            invalidateLocal: (prefix, exact) => {
              if (this.closed) return
              void this.invalidateQueries({ queryKey: prefix, exact }, { refetchType: 'active' })
            },
            invalidateTaggedLocal: (tags) => {
              if (!this.closed) void this.#invalidateTagged(tags)
            },
            report: (error) => this.#onError(error),
          })
        : undefined
    const layer = this.#layer
    this.#entryHost = {
      notifier: this.#notifier,
      onListenerError,
      signal: this.#lifetime.signal,
      collect: (entry) => {
        if (this.#entries.get(entry.hash) === entry) this.#drop(entry)
        else entry.destroy()
      },
      released: () => {
        if (this.#entries.size > this.#maxEntries) this.#evict()
      },
      changed: (entry) => {
        if (this.#listeners.size > 0) this.#emit('updated', entry)
      },
      fetchThrough:
        layer === undefined
          ? undefined
          : (entry, fetcher, context, fetchedAt) => layer.fetchThrough(entry, fetcher, context, fetchedAt),
    }
    this.#handleHost = {
      lookup: (hash) => this.#entries.get(hash),
      onListenerError,
      orphaned: (handle) => {
        if (this.closed) return
        const waiting = this.#orphans.get(handle.hash)
        if (waiting) waiting.add(handle)
        else this.#orphans.set(handle.hash, new Set([handle]))
      },
      forget: (handle) => {
        const waiting = this.#orphans.get(handle.hash)
        if (waiting?.delete(handle) && waiting.size === 0) this.#orphans.delete(handle.hash)
      },
      attach: (key, fetcher, queryOptions) => this.#entry(key, hashKey(key), fetcher, queryOptions),
    }
    this.#mutationHost = {
      entry: (key) => this.#entry(key, hashKey(key), undefined, undefined),
      invalidate: (prefix) => this.invalidate(prefix),
      running: (key, change) => {
        if (change === 1) this.#running.push(key)
        else {
          const at = this.#running.indexOf(key)
          if (at >= 0) this.#running.splice(at, 1)
        }
      },
      inScope: (id, work) => this.#inScope(id, work),
      notifier: this.#notifier,
      onListenerError,
      signal: this.#lifetime.signal,
    }
  }

  /** How many entries the cache holds. */
  get size(): number {
    return this.#entries.size
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#lifetime.signal.aborted
  }

  /**
   * {@link QueryStore.query} with a Standard Schema: the fetcher may return anything, the
   * schema's output is the query's data (see {@link StoreQueryOptions.schema}).
   *
   * @example
   * ```ts
   * import { z } from 'zod'
   * const User = z.object({ id: z.number(), name: z.string() })
   * const user = store.query(['user', 1], () => fetch('/users/1').then((r) => r.json()), { schema: User })
   * // Query<{ id: number; name: string }>
   * ```
   */
  query<S extends StandardSchemaV1, TData = SchemaOutput<S>>(
    key: QueryKey,
    fetcher: QueryFetcher<unknown>,
    options: QueryHandleOptions<SchemaOutput<S>, TData> & { schema: S },
  ): Query<TData, SchemaOutput<S>>
  /**
   * A handle on the query for `key`, whose entry is created if absent. The latest `fetcher` and
   * entry options given for a key are the ones used; `enabled`, `select` and `placeholderData`
   * belong to this handle. It fetches when subscribed to with stale or no data.
   */
  query<TQueryFnData, TData = TQueryFnData>(
    key: QueryKey,
    fetcher: QueryFetcher<TQueryFnData>,
    options?: QueryHandleOptions<TQueryFnData, TData>,
  ): Query<TData, TQueryFnData>
  query<TQueryFnData, TData = TQueryFnData>(
    key: QueryKey,
    fetcher: QueryFetcher<TQueryFnData>,
    options?: QueryHandleOptions<TQueryFnData, TData>,
  ): Query<TData, TQueryFnData> {
    checkStoreOptions('query', options)
    const entry = this.#entry(key, hashKey(key), fetcher, options)
    return new Query<TData, TQueryFnData>(this.#handleHost, entry, fetcher, options)
  }

  /**
   * {@link QueryStore.fetch} with a Standard Schema: the fetcher may return anything, the
   * schema's output is the data (see {@link StoreQueryOptions.schema}).
   *
   * @example
   * ```ts
   * import { z } from 'zod'
   * const port = await cache.fetch(['port'], () => readRaw(), { schema: z.coerce.number().int() }) // number
   * ```
   */
  fetch<S extends StandardSchemaV1>(
    key: QueryKey,
    fetcher: QueryFetcher<unknown>,
    options: FetchOptions<SchemaOutput<S>> & { schema: S },
  ): Promise<SchemaOutput<S>>
  /**
   * Get-or-fetch: fresh cached data at once (no request), else the fetch in flight for the
   * same key, else a new fetch. Rejects with the fetch's last error.
   *
   * @example
   * ```ts
   * import { QueryStore } from 'tributary'
   * const cache = new QueryStore()
   * const port = await cache.fetch(['consul', 'app/port'], ({ signal }) => readPort(signal), {
   *   staleTime: 30_000,
   * })
   * ```
   */
  fetch<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: FetchOptions<T>): Promise<T>
  fetch<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: FetchOptions<T>): Promise<T> {
    checkStoreOptions('fetch', options)
    const hash = hashKey(key)
    const entry = this.#entries.get(hash) as QueryEntry<T> | undefined
    if (entry !== undefined) {
      if (this.#maxEntries !== Infinity) this.#touch(hash, entry as QueryEntry<unknown>)
      if (entry.isFreshFor(options?.staleTime ?? entry.options.staleTime)) {
        const data = Promise.resolve(entry.data as T)
        return options?.signal ? raceAbort(data, options.signal) : data
      }
    }
    return this.#miss(key, hash, entry, fetcher, options)
  }

  /**
   * TanStack's `ensureQueryData`: the cached data whatever its age (or `initialData`, which
   * then seeds the entry), else a fetch. With `revalidateIfStale`, stale data is answered and
   * refetched in the background.
   *
   * @example
   * ```ts
   * const config = await store.ensureQueryData(['config'], ({ signal }) => loadConfig(signal))
   * ```
   */
  ensureQueryData<T>(
    key: QueryKey,
    fetcher: QueryFetcher<T>,
    options?: EnsureQueryDataOptions<T>,
  ): Promise<T> {
    checkStoreOptions('ensureQueryData', options)
    const hash = hashKey(key)
    let entry = this.#entries.get(hash) as QueryEntry<T> | undefined
    if (entry === undefined && options?.initialData !== undefined && !this.closed) {
      entry = this.#entry(key, hash, fetcher, options)
    }
    if (entry === undefined || !entry.hasData) return this.fetch(key, fetcher, options)
    if (this.#maxEntries !== Infinity) this.#touch(hash, entry as QueryEntry<unknown>)
    if (options?.revalidateIfStale && !entry.isFreshFor(options.staleTime ?? entry.options.staleTime)) {
      entry.configure(fetcher, undefined)
      if (!this.closed) entry.fetch().catch(noop)
    }
    const data = Promise.resolve(entry.data as T)
    return options?.signal ? raceAbort(data, options.signal) : data
  }

  /** Like {@link fetch}, but resolves with nothing and never rejects (to warm the cache). */
  prefetch<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: FetchOptions<T>): Promise<void> {
    return this.fetch(key, fetcher, options).then(noop, noop)
  }

  /** The cached data for `key`, or `undefined`. */
  getData<T>(key: QueryKey): T | undefined {
    return this.#entries.get(hashKey(key))?.data as T | undefined
  }

  /** The store's handle on the query for `key` if the cache holds one. */
  getQuery<T>(key: QueryKey): Query<T> | undefined {
    const entry = this.#entries.get(hashKey(key))
    return entry === undefined ? undefined : (this.#handleOf(entry) as Query<T>)
  }

  /**
   * Sets the data for `key` (a value or an updater of the old data) as fetched now or at
   * `updatedAt`, creating the entry if absent. `undefined`, given or returned, changes nothing
   * (TanStack's `setQueryData`). Returns the data now cached.
   */
  setData<T>(key: QueryKey, updater: Updater<T>, options?: { updatedAt?: number }): T | undefined {
    checkStoreOptions('setData', options)
    const hash = hashKey(key)
    const existing = this.#entries.get(hash) as QueryEntry<T> | undefined
    if (existing !== undefined) return this.#shared(existing, existing.setData(updater, options?.updatedAt))
    const data =
      typeof updater === 'function' ? (updater as (old: T | undefined) => T | undefined)(undefined) : updater
    if (data === undefined) return undefined // TanStack creates no entry for no data
    const entry = this.#entry<T>(key, hash, undefined, undefined)
    return this.#shared(entry, entry.setData(data, options?.updatedAt))
  }

  /**
   * Marks every query carrying one of `tags` (its `tags` option) stale, refetching the observed
   * ones; with an L2 and a bus, deletes the tagged values from L2 and does the same in every
   * store. Resolves when done; never rejects.
   *
   * @example
   * ```ts
   * await store.fetch(['user', 1], load, { tags: ['user:1'] })
   * await store.invalidateTags(['user:1'])
   * ```
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) {
      throw new QueryStoreError(
        `QueryStore.invalidateTags: tags must be an array of strings, got ${String(tags)}`,
      )
    }
    await this.#layer?.invalidateTags(tags)
    await this.#invalidateTagged(tags)
  }

  #invalidateTagged(tags: readonly string[]): Promise<void> {
    const wanted = new Set(tags)
    return this.invalidateQueries(
      {
        predicate: (query) =>
          (this.#entries.get(query.hash)?.options.tags ?? []).some((tag) => wanted.has(tag)),
      },
      { refetchType: 'active' },
    )
  }

  /** Sends data set here to L2 and the other stores (in the background; failures are reported). */
  #shared<T>(entry: QueryEntry<T>, data: T | undefined): T | undefined {
    if (this.#layer !== undefined && entry.hasData) void this.#layer.set(entry as QueryEntry<unknown>)
    return data
  }

  /**
   * Marks every query whose key starts with `prefix` stale and refetches the observed ones
   * (with an enabled handle), or all, or none. Resolves when those refetches settle; never rejects.
   *
   * @example
   * ```ts
   * await store.invalidate(['user']) // ['user', 1], ['user', 2, 'posts'], …
   * ```
   */
  invalidate(prefix: QueryKey = [], options?: { refetch?: InvalidateRefetch }): Promise<void> {
    checkStoreOptions('invalidate', options)
    if (this.#layer === undefined) return this.#invalidateHere(prefix, options)
    hashKey(prefix) // a bad key throws now, as without the layer
    // L2 first: a refetch here or elsewhere must not read the old value back from it
    return this.#layer.invalidate(prefix).then(() => this.#invalidateHere(prefix, options))
  }

  #invalidateHere(prefix: QueryKey, options: { refetch?: InvalidateRefetch } | undefined): Promise<void> {
    const refetch = options?.refetch ?? 'observed'
    const pending = this.#matching({ queryKey: prefix }).map((entry) =>
      entry.invalidate({ refetch: refetch === 'all' || (refetch === 'observed' && entry.isActive) }),
    )
    return Promise.all(pending).then(noop)
  }

  /**
   * TanStack's `invalidateQueries`: marks the matched queries stale and refetches those of
   * `refetchType`. Resolves when the refetches settle; never rejects.
   */
  invalidateQueries(filters?: QueryFilters, options?: { refetchType?: RefetchType }): Promise<void> {
    checkStoreOptions('invalidateQueries', options)
    const type = options?.refetchType ?? 'active'
    const pending = this.#matching(filters).map((entry) => {
      const active = entry.isActive
      const refetch =
        !entry.isDisabled &&
        (type === 'all' || (type === 'active' && active) || (type === 'inactive' && !active))
      return entry.invalidate({ refetch })
    })
    return Promise.all(pending).then(noop)
  }

  /** Removes the queries whose key starts with `prefix`, cancelling their fetches. */
  remove(prefix: QueryKey): void {
    this.removeQueries({ queryKey: prefix })
  }

  /** Removes the matched queries, cancelling their fetches (subscribed handles follow the next entry for their key; others re-attach on their next use). */
  removeQueries(filters?: QueryFilters): void {
    for (const entry of this.#matching(filters)) this.#drop(entry)
  }

  /** The first query matching `filters` (`exact` defaults to true here, as in TanStack). */
  find<T>(filters: QueryFilters): Query<T> | undefined {
    const matches = entryMatcher({ exact: true, ...filters })
    for (const entry of this.#entries.values()) {
      if (matches(entry, this.#handleOfEntry)) return this.#handleOf(entry) as Query<T>
    }
    return undefined
  }

  /** Every query matching `filters` (all without filters), in the store's order (least recently used first with `maxEntries`). */
  findAll(filters?: QueryFilters): Array<Query<unknown>> {
    return this.#matching(filters).map((entry) => this.#handleOf(entry))
  }

  /** `[key, data]` of every matched query. */
  getQueriesData<T>(filters: QueryFilters): Array<[QueryKey, T | undefined]> {
    return this.#matching(filters).map((entry) => [entry.key, entry.data as T | undefined])
  }

  /** Sets the data of every matched query (existing ones only); returns `[key, data]` of each. */
  setQueriesData<T>(filters: QueryFilters, updater: Updater<T>): Array<[QueryKey, T | undefined]> {
    return this.#matching(filters).map((entry) => [
      entry.key,
      (entry as QueryEntry<T>).setData(updater) as T | undefined,
    ])
  }

  /** How many matched queries are fetching. */
  isFetching(filters?: QueryFilters): number {
    return this.#matching({ ...filters, fetchStatus: 'fetching' }).length
  }

  /** How many mutation calls (of the matched mutations) are running. */
  isMutating(filters?: MutationFilters): number {
    if (filters?.mutationKey === undefined) return this.#running.length
    const hash = hashKey(filters.mutationKey)
    const prefix = prefixOfHash(hash)
    return this.#running.filter((key) => {
      if (key === undefined) return false
      const own = hashKey(key)
      return filters.exact ? own === hash : hashStartsWith(own, prefix)
    }).length
  }

  /**
   * Cancels the fetches of the matched queries; each reverts to its state before the fetch
   * (`revert: false` keeps the state, only no longer fetching). Defaults to reverting.
   */
  cancelQueries(filters?: QueryFilters, options?: { revert?: boolean }): Promise<void> {
    checkStoreOptions('cancelQueries', options)
    for (const entry of this.#matching(filters)) entry.cancel('cancelQueries', options?.revert ?? true)
    return Promise.resolve()
  }

  /** Resets the matched queries to their initial state, then refetches the observed ones. */
  resetQueries(filters?: QueryFilters): Promise<void> {
    const entries = this.#matching(filters)
    for (const entry of entries) entry.reset()
    const pending = entries
      .filter((entry) => entry.isActive && entry.fetcher !== undefined)
      .map((entry) => entry.refetch().then(noop, noop))
    return Promise.all(pending).then(noop)
  }

  /**
   * Refetches the matched queries that have a fetcher, except those observed only by disabled
   * handles (`type` picks active or inactive ones). Resolves when they settle; rejects only
   * with `throwOnError`.
   */
  refetchQueries(filters?: QueryFilters, options?: RefetchQueriesOptions): Promise<void> {
    checkStoreOptions('refetchQueries', options)
    const pending = this.#matching(filters)
      .filter((entry) => entry.fetcher !== undefined && !entry.isDisabled)
      .map((entry) => {
        const promise = entry.refetch({ cancelRefetch: options?.cancelRefetch ?? true }).then(noop)
        return options?.throwOnError ? promise : promise.catch(noop)
      })
    return Promise.all(pending).then(noop)
  }

  /**
   * Defaults for queries whose key starts with `queryKey`, applied when their entry is
   * created (over the store's options; later registrations win where they overlap).
   */
  setQueryDefaults(queryKey: QueryKey, options: StoreQueryOptions): void {
    checkStoreOptions('setQueryDefaults', options)
    resolveOptions(this.#defaults, options) // checks them now
    const prefix = prefixOfHash(hashKey(queryKey))
    const existing = this.#queryDefaults.find((item) => item.prefix === prefix)
    if (existing) existing.options = options
    else this.#queryDefaults.push({ prefix, options })
  }

  /** The defaults registered with {@link setQueryDefaults} that apply to `queryKey`, merged. */
  getQueryDefaults(queryKey: QueryKey): StoreQueryOptions {
    return this.#defaultsFor(hashKey(queryKey))
  }

  #defaultsFor(hash: string): StoreQueryOptions {
    let merged: StoreQueryOptions = {}
    for (const item of this.#queryDefaults) {
      if (hashStartsWith(hash, item.prefix)) merged = { ...merged, ...stripUndefined(item.options) }
    }
    return merged
  }

  /**
   * Calls `listener` when an entry is added, removed or its state changes. Returns the
   * unsubscribe function.
   *
   * @example
   * ```ts
   * const stop = store.subscribe((event) => console.log(event.type, event.query.key))
   * ```
   */
  subscribe(listener: QueryCacheListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /**
   * A mutation: `mutate(variables)` runs `mutator`, applying `optimistic` updates at once and
   * rolling back exactly those on failure, then refetching `invalidates` after success.
   */
  mutation<TVariables, TResult, TData = unknown, TContext = unknown>(
    mutator: Mutator<TVariables, TResult>,
    options?: MutationOptions<TVariables, TResult, TData, TContext>,
  ): Mutation<TVariables, TResult, TData, TContext> {
    checkStoreOptions('mutation', options)
    return new Mutation(this.#mutationHost, mutator, options ?? {})
  }

  /** An infinite list: pages fetched one after another, `fetchNextPage()` appends the next. */
  paginated<TPage, TParam>(
    key: QueryKey,
    fetchPage: PageFetcher<TPage, TParam>,
    options: PaginatedOptions<TPage, TParam>,
  ): PaginatedQuery<TPage, TParam> {
    checkStoreOptions('paginated', options)
    return new PaginatedQuery(
      (fetcher, queryOptions) => this.query(key, fetcher, queryOptions),
      fetchPage,
      options,
    )
  }

  /** Drops every entry, cancelling fetches and clearing every timer. The store stays usable. */
  clear(): void {
    const entries = [...this.#entries.values()]
    this.#notifier.clear()
    for (const entry of entries) this.#drop(entry)
    this.#mru = undefined
  }

  /** Clears the store and cancels running mutations' waits; later fetches reject. */
  close(): void {
    this.#layer?.close()
    this.#lifetime.abort(new AsyncCancelledError('QueryStore', 'the store was closed'))
    this.clear()
    this.#listeners.clear()
    this.#orphans.clear()
  }

  /** Same as {@link close}, for `using store = new QueryStore()`. */
  [DISPOSE](): void {
    this.close()
  }

  #miss<T>(
    key: QueryKey,
    hash: string,
    entry: QueryEntry<T> | undefined,
    fetcher: QueryFetcher<T>,
    options: FetchOptions<T> | undefined,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new AsyncCancelledError('QueryStore.fetch', 'the store is closed'))
    if (entry === undefined) entry = this.#create(key, hash, fetcher, options, false)
    else entry.configure(fetcher, options ? resolveOptions(entry.options, options) : undefined)
    let promise = entry.fetch()
    if (!entry.isFetching) entry.scheduleGc() // fresh initial data: no fetch to start the countdown
    const { grace, staleTime } = entry.options
    if (grace > 0) {
      const layer = this.#layer
      const stale = entry
      promise = promise.catch((error: unknown) =>
        layer !== undefined
          ? layer.grace(stale, hash, grace, staleTime, error)
          : graceFromL1(stale, grace + staleTime, error, this.#onError),
      )
    }
    return options?.signal ? raceAbort(promise, options.signal) : promise
  }

  #entry<T>(
    key: QueryKey,
    hash: string,
    fetcher: QueryFetcher<T> | undefined,
    options: EntryOptions<T> | undefined,
    /** False when the caller fetches at once (the countdown starts when that fetch settles). */
    startGc = true,
  ): QueryEntry<T> {
    const entry = this.#entries.get(hash) as QueryEntry<T> | undefined
    if (entry === undefined) return this.#create(key, hash, fetcher, options, startGc)
    entry.configure(fetcher, options ? resolveOptions(entry.options, options) : undefined)
    if (this.#maxEntries !== Infinity) this.#touch(hash, entry as QueryEntry<unknown>)
    return entry
  }

  #create<T>(
    key: QueryKey,
    hash: string,
    fetcher: QueryFetcher<T> | undefined,
    options: EntryOptions<T> | undefined,
    startGc: boolean,
  ): QueryEntry<T> {
    const base =
      this.#queryDefaults.length > 0
        ? resolveOptions(this.#defaults, this.#defaultsFor(hash))
        : this.#defaults
    const resolved = options ? resolveOptions(base, options) : base
    const entry = new QueryEntry<T>(this.#entryHost, key, hash, fetcher, resolved, initialOf(options))
    this.#entries.set(hash, entry as QueryEntry<unknown>)
    this.#mru = entry as QueryEntry<unknown>
    if (startGc) entry.scheduleGc()
    if (this.#listeners.size > 0) this.#emit('added', entry as QueryEntry<unknown>)
    if (this.#orphans.has(hash)) this.#adopt(hash)
    if (this.#entries.size > this.#maxEntries) this.#evict()
    return entry
  }

  /**
   * Re-attaches the subscribed handles that lost their entry for `hash`, once the code that
   * created the new entry has finished (so a `setData` lands before they look at it).
   */
  #adopt(hash: string): void {
    const waiting = this.#orphans.get(hash)
    this.#orphans.delete(hash)
    void Promise.resolve().then(() => {
      for (const handle of waiting ?? []) handle.reattach()
    })
  }

  #touch(hash: string, entry: QueryEntry<unknown>): void {
    if (this.#mru === entry) return
    this.#entries.delete(hash)
    this.#entries.set(hash, entry)
    this.#mru = entry
  }

  /** Drops least recently used idle entries beyond the bound; never the one just used. */
  #evict(): void {
    let excess = this.#entries.size - this.#maxEntries
    if (excess <= 0) return
    // deleting the entry being visited is safe while iterating a Map (no copy: this runs per miss at the bound)
    for (const entry of this.#entries.values()) {
      if (entry === this.#mru || entry.busy) continue
      this.#drop(entry)
      if (--excess === 0) return
    }
  }

  #drop(entry: QueryEntry<unknown>): void {
    this.#entries.delete(entry.hash)
    if (this.#mru === entry) this.#mru = undefined
    entry.destroy()
    if (this.#listeners.size > 0) this.#emit('removed', entry)
  }

  #matching(filters: QueryFilters | undefined): Array<QueryEntry<unknown>> {
    const matches = entryMatcher(filters)
    const found: Array<QueryEntry<unknown>> = []
    for (const entry of this.#entries.values()) if (matches(entry, this.#handleOfEntry)) found.push(entry)
    return found
  }

  readonly #handleOfEntry = (entry: QueryEntry<unknown>): Query<unknown> => this.#handleOf(entry)

  #handleOf(entry: QueryEntry<unknown>): Query<unknown> {
    let handle = this.#handles.get(entry)
    if (handle === undefined) {
      handle = new Query<unknown>(this.#handleHost, entry, undefined, undefined)
      this.#handles.set(entry, handle)
    }
    return handle
  }

  #emit(type: QueryCacheEvent['type'], entry: QueryEntry<unknown>): void {
    const event: QueryCacheEvent = { type, query: this.#handleOf(entry) }
    for (const listener of [...this.#listeners]) callListener(listener, event, this.#onListenerError)
  }

  #inScope<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#scopes.get(id) ?? Promise.resolve()
    const run = previous.then(() => work())
    const tail = run.then(noop, noop)
    this.#scopes.set(id, tail)
    void tail.then(() => {
      if (this.#scopes.get(id) === tail) this.#scopes.delete(id)
    })
    return run
  }
}

function graceFromL1<T>(
  entry: QueryEntry<T>,
  limit: number,
  error: unknown,
  report: (e: unknown) => void,
): T {
  const stale = staleWithinGrace(entry, limit, error, report)
  if (stale === undefined) throw error
  return stale.data
}

function stripUndefined(options: StoreQueryOptions): StoreQueryOptions {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(options)) if (value !== undefined) out[name] = value
  return out as StoreQueryOptions
}

function initialOf<T>(options: EntryOptions<T> | undefined): (() => EntryInitial<T> | undefined) | undefined {
  if (options?.initialData === undefined) return undefined
  const { initialData, initialDataUpdatedAt } = options
  return () => {
    const data = typeof initialData === 'function' ? (initialData as () => T | undefined)() : initialData
    if (data === undefined) return undefined
    const at = typeof initialDataUpdatedAt === 'function' ? initialDataUpdatedAt() : initialDataUpdatedAt
    return { data, updatedAt: at ?? Date.now() }
  }
}
