/**
 * `ComponentCache`: fetched component values kept across `resolve` calls for their `ttl`,
 * bounded by least-recent use, with identical concurrent fetches made once.
 *
 * It is a thin layer over the library's {@link QueryStore} (one query per cache key): `ttl`
 * is the query's `staleTime`, `maxEntries` the store's LRU bound, and a fetch in flight is the
 * store's, returned rather than repeated. Entries never expire on their own (`gcTime` is
 * infinite), so a stale value stays available as the last good one for `fallbackTo: 'cache'`.
 *
 * The resolver depends only on the {@link ComponentValueCache} interface, so another store can
 * back it.
 */
import { raceAbort } from '../core/abort'
import { TributaryError } from '../core/errors'
import { checkOptions, checks } from '../core/option-checks'
import type { QueryFetcher } from '../store/options'
import type { Query } from '../store/query'
import { QueryStore } from '../store/query-store'

/** One cached raw value (after `field` was picked, before coercion). */
export interface CachedComponentValue {
  readonly value: unknown
  /** `Date.now()` when it was stored. */
  readonly storedAt: number
  /** `Date.now()` after which it is stale (still kept for `fallbackTo: 'cache'`). */
  readonly expiresAt: number
}

/**
 * Options for `ComponentValueCache.fetch`.
 *
 * @example
 * ```ts
 * import { ComponentCache } from 'tributary'
 * const cache = new ComponentCache()
 * const port = await cache.fetch('consul:app/port', (signal) => readPort(signal), { ttl: 60, signal })
 * ```
 */
export interface ComponentCacheFetchOptions {
  /** Seconds a stored value stays fresh (served without calling the fetcher). Defaults to 0. */
  readonly ttl?: number
  /** Stops this caller's wait; the shared fetch is aborted only when every caller's signal has. Defaults to none. */
  readonly signal?: AbortSignal
}

/**
 * A cache of component values. `resolve` calls `fetch` (for `ttl` and identical concurrent
 * fetches) and `get` (for `fallbackTo: 'cache'`); the other methods are for the cache's owner.
 * Keys are opaque strings the resolver builds. {@link ComponentCache} is the implementation;
 * pass another as `resolve(Class, { cache })`.
 *
 * @example
 * ```ts
 * import { ComponentCache, resolve, type ComponentValueCache } from 'tributary'
 * const cache: ComponentValueCache = new ComponentCache({ maxEntries: 200 })
 * const config = await resolve(AppConfig, { sources, cache })
 * ```
 */
export interface ComponentValueCache {
  /** The entry for `key`, fresh or stale, or undefined. Counts as a use for the LRU bound. */
  get(key: string): CachedComponentValue | undefined
  /** Stores `value` for `ttlSeconds` (0: stale at once, kept only as a last good value). */
  set(key: string, value: unknown, ttlSeconds: number): void
  /**
   * Get-or-fetch: a value stored less than `ttl` seconds ago at once (without calling `fetch`),
   * else the fetch already in flight for `key`, else a new call of `fetch`, whose value is then
   * stored. A failed fetch keeps the last good value. The shared fetch's signal aborts only
   * when every caller's signal has.
   */
  fetch<T>(
    key: string,
    fetch: (signal: AbortSignal) => Promise<T>,
    options?: ComponentCacheFetchOptions,
  ): Promise<T>
  /** Like {@link ComponentValueCache.fetch | fetch} with a ttl of 0: runs `fetch` unless an identical one is in flight. */
  dedupe<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>
  /** Removes one entry (cancelling its fetch in flight); true if it held a value. */
  delete(key: string): boolean
  /** Removes every entry, cancelling fetches in flight (their callers get an `AsyncCancelledError`). */
  clear(): void
}

/** Options for {@link ComponentCache}. */
export interface ComponentCacheOptions {
  /** The most entries kept; the least recently used go first. Defaults to 1,000. */
  maxEntries?: number
}

/** A fetch in flight and how many callers still wait for it. */
interface Flight {
  readonly promise: Promise<unknown>
  readonly query: Query<unknown>
  waiting: number
}

/** The fetcher of entries that were only ever `set`: the cache never refetches them itself. */
const storedOnly: QueryFetcher<never> = () =>
  Promise.reject(new TributaryError('ComponentCache: this entry has no fetch of its own'))

/**
 * An in-memory, LRU-bounded {@link ComponentValueCache} backed by a {@link QueryStore}. Share
 * one between `resolve` calls to keep values for their `ttl`.
 *
 * @example
 * ```ts
 * import { ComponentCache, resolve } from 'tributary'
 * const cache = new ComponentCache({ maxEntries: 500 })
 * const a = await resolve(AppConfig, { sources, cache })   // fetches
 * const b = await resolve(AppConfig, { sources, cache })   // components with a ttl come from the cache
 * ```
 */
export class ComponentCache implements ComponentValueCache {
  readonly maxEntries: number
  readonly #store: QueryStore
  readonly #flights = new Map<string, Flight>()

  constructor(options: ComponentCacheOptions = {}) {
    checkOptions('new ComponentCache(options)', options ?? null, { maxEntries: checks.integer(1) })
    this.maxEntries = options.maxEntries ?? 1_000
    this.#store = new QueryStore({
      maxEntries: this.maxEntries,
      gcTime: Infinity,
      staleTime: 0,
      retry: 0,
      allowUndefined: true, // a source may answer undefined (a component then uses its fallback)
    })
  }

  /** Entries held now (a key whose first fetch is in flight counts). */
  get size(): number {
    return this.#store.size
  }

  /** Fetches in flight now. */
  get inFlight(): number {
    return this.#flights.size
  }

  get(key: string): CachedComponentValue | undefined {
    const query = this.#store.getQuery<unknown>([key])
    if (query === undefined || query.data === undefined) return undefined
    this.#store.query([key], storedOnly) // marks it most recently used
    const storedAt = query.state.updatedAt
    return { value: query.data, storedAt, expiresAt: storedAt + query.options.staleTime }
  }

  set(key: string, value: unknown, ttlSeconds: number): void {
    this.#store.query<unknown>([key], storedOnly, { staleTime: ttlSeconds * 1_000 }).setData(value)
  }

  fetch<T>(
    key: string,
    fetch: (signal: AbortSignal) => Promise<T>,
    options: ComponentCacheFetchOptions = {},
  ): Promise<T> {
    const { signal } = options
    if (signal?.aborted) return Promise.reject(signal.reason)
    const shared = this.#store.fetch<T>([key], (context) => fetch(context.signal), {
      staleTime: (options.ttl ?? 0) * 1_000,
    })
    const query = this.#store.getQuery<unknown>([key])
    if (query === undefined || !query.isFetching) return shared // fresh: served from the store
    const flight = this.#join(key, shared, query)
    if (!signal) return shared
    // This caller's wait ends on its signal; the shared fetch only when no caller waits.
    return raceAbort(shared, signal, () => {
      if (--flight.waiting === 0 && this.#flights.get(key) === flight) {
        this.#flights.delete(key)
        flight.query.cancel(signal.reason)
      }
    })
  }

  dedupe<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.fetch(key, fetch, { ttl: 0, signal })
  }

  delete(key: string): boolean {
    const had = this.#store.getQuery<unknown>([key])?.data !== undefined
    this.#store.remove([key])
    this.#flights.delete(key)
    return had
  }

  clear(): void {
    this.#store.clear()
    this.#flights.clear()
  }

  /** Counts one more caller of the flight `shared`, registering the flight if it is new. */
  #join(key: string, shared: Promise<unknown>, query: Query<unknown>): Flight {
    let flight = this.#flights.get(key)
    if (flight?.promise !== shared) {
      const created: Flight = { promise: shared, query, waiting: 0 }
      const settled = (): void => {
        if (this.#flights.get(key) === created) this.#flights.delete(key)
        // A key whose only fetch failed holds nothing worth keeping.
        if (query.data === undefined && !query.isFetching && this.#store.getQuery([key]) === query) {
          this.#store.remove([key])
        }
      }
      shared.then(settled, settled)
      this.#flights.set(key, created)
      flight = created
    }
    flight.waiting++
    return flight
  }
}

/** The cache `resolve` uses when no `cache` option is given. */
export const defaultComponentCache: ComponentCache = new ComponentCache()
