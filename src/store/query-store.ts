/**
 * `QueryStore`: the collection of cached queries — keyed by a stable hash, bounded by
 * `maxEntries` (least-recently-used eviction of unobserved entries) and `cacheTime`, with
 * prefix invalidation, mutations and paginated queries built on it.
 */
import { AsyncCancelledError } from '../core/errors'
import { raceAbort } from '../core/abort'
import { DISPOSE } from '../core/dispose'
import { hashKey, hashStartsWith, prefixOfHash, type QueryKey } from './key-hash'
import { Mutation, type MutationHost, type MutationOptions, type Mutator } from './mutation'
import { Notifier } from './notifier'
import { PaginatedQuery, type PageFetcher, type PaginatedOptions } from './paginated'
import {
  DEFAULT_QUERY_OPTIONS,
  Query,
  QueryStoreError,
  type QueryFetcher,
  type QueryHost,
  type StoreQueryOptions,
  type ResolvedQueryOptions,
} from './query'

/** Options for a {@link QueryStore}: defaults for every query, plus the cache bounds. */
export interface QueryStoreOptions extends StoreQueryOptions {
  /** Most entries kept; beyond it the least recently used unobserved ones go. Defaults to no limit. */
  maxEntries?: number
  /** Receives errors thrown by listeners. Defaults to `console.error`. */
  onListenerError?: (error: unknown) => void
}

/** Options for {@link QueryStore.fetch}: query options plus a signal for this caller. */
export interface FetchOptions extends StoreQueryOptions {
  /** Stops this caller's wait (the shared fetch goes on for other callers). */
  signal?: AbortSignal
}

/** Which queries `invalidate` refetches at once. */
export type InvalidateRefetch = 'observed' | 'all' | 'none'

/**
 * A framework-agnostic async query cache: stale-while-revalidate, deduplicated requests,
 * cancellation, timeouts, retry with backoff, a bounded cache, optimistic mutations.
 * It is also a small get-or-fetch TTL cache: `store.fetch(key, fetcher, { staleTime: ttl })`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore({ maxEntries: 1_000, staleTime: 60_000, cacheTime: 300_000 })
 * const user = store.query(['user', 1], ({ signal }) => loadUser(1, signal), { timeout: 2_000 })
 * const stop = user.subscribe((state) => render(state))
 * const same = await store.fetch(['user', 1], ({ signal }) => loadUser(1, signal)) // cached
 * stop()
 * store.close()
 * ```
 */
export class QueryStore {
  readonly #entries = new Map<string, Query<unknown>>()
  readonly #defaults: ResolvedQueryOptions
  readonly #maxEntries: number
  readonly #notifier = new Notifier()
  readonly #lifetime = new AbortController()
  readonly #host: QueryHost
  readonly #mutationHost: MutationHost

  constructor(options: QueryStoreOptions = {}) {
    this.#defaults = resolveOptions(DEFAULT_QUERY_OPTIONS, options)
    this.#maxEntries = options.maxEntries ?? Infinity
    if (!(this.#maxEntries >= 1)) {
      throw new QueryStoreError(`QueryStore: option maxEntries must be at least 1, got ${options.maxEntries}`)
    }
    const onListenerError = options.onListenerError ?? ((error: unknown) => console.error(error))
    this.#host = {
      notifier: this.#notifier,
      onListenerError,
      collect: (query) => {
        if (this.#entries.get(query.hash) === query) this.#entries.delete(query.hash)
        query.destroy()
      },
      released: () => this.#evict(),
    }
    this.#mutationHost = {
      entry: (key) => this.#entry(key, hashKey(key), undefined, undefined),
      invalidate: (prefix) => this.invalidate(prefix),
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
   * The query for `key`, created if absent. The latest `fetcher` and `options` given for a key
   * are the ones used. It fetches when subscribed to with stale or no data.
   */
  query<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: StoreQueryOptions): Query<T> {
    const entry = this.#entry(key, hashKey(key), fetcher, options)
    if (entry.observerCount === 0 && !entry.isFetching) entry.scheduleGc()
    return entry
  }

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
  fetch<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: FetchOptions): Promise<T> {
    const hash = hashKey(key)
    const entry = this.#entries.get(hash) as Query<T> | undefined
    if (entry !== undefined) {
      if (this.#maxEntries !== Infinity) {
        this.#entries.delete(hash)
        this.#entries.set(hash, entry as Query<unknown>)
      }
      if (entry.isFreshFor(options?.staleTime ?? entry.options.staleTime)) {
        const data = Promise.resolve(entry.data as T)
        return options?.signal ? raceAbort(data, options.signal) : data
      }
    }
    return this.#miss(key, hash, entry, fetcher, options)
  }

  /** Like {@link fetch}, but resolves with nothing and never rejects (to warm the cache). */
  prefetch<T>(key: QueryKey, fetcher: QueryFetcher<T>, options?: FetchOptions): Promise<void> {
    return this.fetch(key, fetcher, options).then(
      () => undefined,
      () => undefined,
    )
  }

  /** The cached data for `key`, or `undefined`. */
  getData<T>(key: QueryKey): T | undefined {
    return this.#entries.get(hashKey(key))?.data as T | undefined
  }

  /** The query for `key` if the cache holds one. */
  getQuery<T>(key: QueryKey): Query<T> | undefined {
    return this.#entries.get(hashKey(key)) as Query<T> | undefined
  }

  /** Sets the data for `key` (a value or an updater of the old data), creating the entry if absent. */
  setData<T>(key: QueryKey, updater: T | ((old: T | undefined) => T)): T {
    return this.#entry<T>(key, hashKey(key), undefined, undefined).setData(updater)
  }

  /**
   * Marks every query whose key starts with `prefix` stale and refetches the observed ones
   * (or all, or none). Resolves when those refetches settle; never rejects.
   *
   * @example
   * ```ts
   * await store.invalidate(['user']) // ['user', 1], ['user', 2, 'posts'], …
   * ```
   */
  invalidate(prefix: QueryKey = [], options?: { refetch?: InvalidateRefetch }): Promise<void> {
    const start = prefixOfHash(hashKey(prefix))
    const refetch = options?.refetch ?? 'observed'
    const pending: Array<Promise<void>> = []
    for (const [hash, entry] of this.#entries) {
      if (!hashStartsWith(hash, start)) continue
      const now = refetch === 'all' || (refetch === 'observed' && entry.observerCount > 0)
      pending.push(entry.invalidate({ refetch: now }))
    }
    return Promise.all(pending).then(() => undefined)
  }

  /** Removes the queries whose key starts with `prefix`, cancelling their fetches. */
  remove(prefix: QueryKey): void {
    const start = prefixOfHash(hashKey(prefix))
    for (const [hash, entry] of this.#entries) {
      if (!hashStartsWith(hash, start)) continue
      this.#entries.delete(hash)
      entry.destroy()
    }
  }

  /**
   * A mutation: `mutate(variables)` runs `mutator`, applying `optimistic` updates at once and
   * rolling back exactly those on failure, then refetching `invalidates` after success.
   */
  mutation<TVariables, TResult, TData = unknown>(
    mutator: Mutator<TVariables, TResult>,
    options?: MutationOptions<TVariables, TResult, TData>,
  ): Mutation<TVariables, TResult, TData> {
    return new Mutation(this.#mutationHost, mutator, options ?? {})
  }

  /** An infinite list: pages fetched one after another, `fetchNextPage()` appends the next. */
  paginated<TPage, TParam>(
    key: QueryKey,
    fetchPage: PageFetcher<TPage, TParam>,
    options: PaginatedOptions<TPage, TParam>,
  ): PaginatedQuery<TPage, TParam> {
    return new PaginatedQuery(
      (fetcher, queryOptions) => this.#entry(key, hashKey(key), fetcher, queryOptions),
      fetchPage,
      options,
    )
  }

  /** Drops every entry, cancelling fetches and clearing every timer. The store stays usable. */
  clear(): void {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    this.#notifier.clear()
    for (const entry of entries) entry.destroy()
  }

  /** Clears the store and cancels running mutations' waits; later fetches reject. */
  close(): void {
    this.#lifetime.abort(new AsyncCancelledError('QueryStore', 'the store was closed'))
    this.clear()
  }

  /** Same as {@link close}, for `using store = new QueryStore()`. */
  [DISPOSE](): void {
    this.close()
  }

  #miss<T>(
    key: QueryKey,
    hash: string,
    entry: Query<T> | undefined,
    fetcher: QueryFetcher<T>,
    options: FetchOptions | undefined,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new AsyncCancelledError('QueryStore.fetch', 'the store is closed'))
    if (entry === undefined) entry = this.#entry(key, hash, fetcher, options)
    else entry.configure(fetcher, options ? resolveOptions(entry.options, options) : undefined)
    const promise = entry.fetch()
    return options?.signal ? raceAbort(promise, options.signal) : promise
  }

  #entry<T>(
    key: QueryKey,
    hash: string,
    fetcher: QueryFetcher<T> | undefined,
    options: StoreQueryOptions | undefined,
  ): Query<T> {
    let entry = this.#entries.get(hash) as Query<T> | undefined
    if (entry !== undefined) {
      entry.configure(fetcher, options ? resolveOptions(entry.options, options) : undefined)
      if (this.#maxEntries !== Infinity) {
        this.#entries.delete(hash)
        this.#entries.set(hash, entry as Query<unknown>)
      }
      return entry
    }
    const resolved = options ? resolveOptions(this.#defaults, options) : this.#defaults
    entry = new Query<T>(this.#host, key, hash, fetcher, resolved)
    this.#entries.set(hash, entry as Query<unknown>)
    if (this.#entries.size > this.#maxEntries) this.#evict()
    return entry
  }

  #evict(): void {
    let excess = this.#entries.size - this.#maxEntries
    if (excess <= 0) return
    for (const [hash, entry] of this.#entries) {
      if (entry.observerCount > 0 || entry.isFetching) continue
      this.#entries.delete(hash)
      entry.destroy()
      if (--excess === 0) return
    }
  }
}

function resolveOptions(base: ResolvedQueryOptions, options: StoreQueryOptions): ResolvedQueryOptions {
  const resolved: ResolvedQueryOptions = {
    staleTime: options.staleTime ?? base.staleTime,
    cacheTime: options.cacheTime ?? base.cacheTime,
    retry: options.retry ?? base.retry,
    retryDelay: options.retryDelay ?? base.retryDelay,
    timeout: options.timeout ?? base.timeout,
  }
  for (const name of ['staleTime', 'cacheTime', 'timeout'] as const) {
    const value = resolved[name]
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new QueryStoreError(
        `QueryStore: option ${name} must be a number of ms >= 0, got ${String(value)}`,
      )
    }
  }
  return resolved
}
