/**
 * `ComponentCache`: fetched component values kept across `resolve` calls for their `ttl`,
 * bounded by least-recent use, with identical concurrent fetches made once.
 *
 * The resolver depends only on the {@link ComponentValueCache} interface, so another store can
 * back it.
 */

/** One cached raw value (after `field` was picked, before coercion). */
export interface CachedComponentValue {
  readonly value: unknown
  /** `Date.now()` when it was stored. */
  readonly storedAt: number
  /** `Date.now()` after which it is stale (still kept for `fallbackTo: 'cache'`). */
  readonly expiresAt: number
}

/** What the resolver needs from a cache. Keys are opaque strings the resolver builds. */
export interface ComponentValueCache {
  /** The entry for `key`, fresh or stale, or undefined. */
  get(key: string): CachedComponentValue | undefined
  /** Stores `value` for `ttlSeconds` (0: stale at once, kept only as a last good value). */
  set(key: string, value: unknown, ttlSeconds: number): void
  /** Removes one entry; true if it existed. */
  delete(key: string): boolean
  /** Removes every entry. */
  clear(): void
  /**
   * Runs `fetch` unless an identical fetch (same key) is already in flight, in which case that
   * one's outcome is shared. The shared fetch's signal aborts only when every caller's signal has.
   */
  dedupe<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>
}

/** Options for {@link ComponentCache}. */
export interface ComponentCacheOptions {
  /** The most entries kept; the least recently used go first. Defaults to 1,000. */
  maxEntries?: number
}

interface Flight {
  readonly promise: Promise<unknown>
  readonly controller: AbortController
  waiting: number
}

const noop = (): void => undefined

/**
 * An in-memory, LRU-bounded {@link ComponentValueCache}. Share one between `resolve` calls to
 * keep values for their `ttl`.
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
  private readonly entries = new Map<string, CachedComponentValue>()
  private readonly flights = new Map<string, Flight>()

  constructor(options: ComponentCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError(`maxEntries must be a whole number >= 1, got ${this.maxEntries}`)
    }
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size
  }

  /** Fetches in flight now. */
  get inFlight(): number {
    return this.flights.size
  }

  get(key: string): CachedComponentValue | undefined {
    const entry = this.entries.get(key)
    if (entry) {
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    return entry
  }

  set(key: string, value: unknown, ttlSeconds: number): void {
    const storedAt = Date.now()
    this.entries.delete(key)
    this.entries.set(key, { value, storedAt, expiresAt: storedAt + ttlSeconds * 1_000 })
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  delete(key: string): boolean {
    return this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  dedupe<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    let flight = this.flights.get(key)
    if (!flight) {
      const controller = new AbortController()
      const created: Flight = {
        controller,
        waiting: 0,
        promise: Promise.resolve()
          .then(() => fetch(controller.signal))
          .finally(() => {
            if (this.flights.get(key) === created) this.flights.delete(key)
          }),
      }
      created.promise.catch(noop)
      this.flights.set(key, created)
      flight = created
    }
    const shared = flight
    shared.waiting++
    if (!signal) return shared.promise as Promise<T>
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason)
        if (--shared.waiting === 0) {
          if (this.flights.get(key) === shared) this.flights.delete(key)
          shared.controller.abort(signal.reason)
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      shared.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort)
          resolve(value as T)
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      )
    })
  }
}

/** True when a cached entry's ttl has not passed. */
export function isFresh(entry: CachedComponentValue, now = Date.now()): boolean {
  return entry.expiresAt > now
}

/** The cache `resolve` uses when no `cache` option is given. */
export const defaultComponentCache: ComponentCache = new ComponentCache()
