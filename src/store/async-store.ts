/**
 * `createAsyncStore`: one parameterised request exposed as `data` / `loading` / `error`
 * readables (Svelte-store style), with `refetch`, `updateParams` (which aborts the superseded
 * request and discards its late answer) and `mutate`, on the `QueryStore` machinery.
 */
import { checkStoreOptions } from './option-specs'
import type { QueryKey } from './key-hash'
import type { QueryFunctionContext, StoreQueryOptions, QueryState } from './options'
import type { Query } from './query'
import { QueryStore } from './query-store'

/** A value that can be read now and watched. */
export interface Readable<T> {
  /** The current value. */
  get(): T
  /** Calls `listener` at once with the current value, then after each change; returns the unsubscribe. */
  subscribe(listener: (value: T) => void): () => void
}

/** Loads the value for `params`. It should stop when `context.signal` aborts. */
export type AsyncStoreFetcher<T, P> = (params: P, context: QueryFunctionContext) => T | PromiseLike<T>

/** Options for {@link createAsyncStore}. */
export interface AsyncStoreConfig<P> extends StoreQueryOptions {
  /** A shared store to cache in. Defaults to a private store, closed by `close()`. */
  store?: QueryStore
  /**
   * The cache key for `params` (share entries across async stores with it). Defaults to a
   * private key per `updateParams` call, so params need not be JSON.
   */
  key?: (params: P) => QueryKey
}

/** What {@link createAsyncStore} returns. */
export interface AsyncStore<T, P> {
  /** The latest data for the current params (kept while refetching). */
  readonly data: Readable<T | undefined>
  /** True while a request for the current params runs. */
  readonly loading: Readable<boolean>
  /** The error of the last failed request for the current params, else `null`. */
  readonly error: Readable<unknown>
  /** The current params. */
  readonly params: P
  /** Requests again (superseding a request in flight). */
  refetch(): Promise<T>
  /** Switches to new params: the superseded request is aborted and its late answer discarded. */
  updateParams(params: P | ((old: P) => P)): Promise<T>
  /** Sets the data locally (a value or an updater); with `revalidate: true`, refetches after. Defaults to no refetch. */
  mutate(updater: T | ((old: T | undefined) => T), options?: { revalidate?: boolean }): Promise<void>
  /** Stops listening and releases the cache entry (or the private store). */
  close(): void
}

class Cell<T> implements Readable<T> {
  readonly #listeners = new Set<(value: T) => void>()
  #last: T

  constructor(private readonly read: () => T) {
    this.#last = read()
  }

  get(): T {
    return this.read()
  }

  subscribe(listener: (value: T) => void): () => void {
    this.#listeners.add(listener)
    listener(this.get())
    return () => void this.#listeners.delete(listener)
  }

  sync(): void {
    const value = this.read()
    if (Object.is(value, this.#last)) return
    this.#last = value
    for (const listener of this.#listeners) listener(value)
  }

  clear(): void {
    this.#listeners.clear()
  }
}

let storeIds = 0
const noop = (): void => undefined

class AsyncStoreImpl<T, P> implements AsyncStore<T, P> {
  readonly data: Cell<T | undefined>
  readonly loading: Cell<boolean>
  readonly error: Cell<unknown>
  readonly #store: QueryStore
  readonly #ownsStore: boolean
  readonly #id = ++storeIds
  #version = 0
  #params: P
  #query: Query<T>
  #unsubscribe: () => void = noop

  constructor(
    private readonly fetcher: AsyncStoreFetcher<T, P>,
    params: P,
    private readonly config: AsyncStoreConfig<P>,
  ) {
    checkStoreOptions('createAsyncStore', config)
    this.#ownsStore = config.store === undefined
    this.#store = config.store ?? new QueryStore(config)
    this.#params = params
    this.#query = this.#attach(params)
    this.data = new Cell(() => this.#state().data)
    this.loading = new Cell(() => this.#state().isFetching)
    this.error = new Cell(() => this.#state().error)
  }

  get params(): P {
    return this.#params
  }

  refetch(): Promise<T> {
    return this.#query.refetch()
  }

  updateParams(params: P | ((old: P) => P)): Promise<T> {
    const next = typeof params === 'function' ? (params as (old: P) => P)(this.#params) : params
    this.#detach('superseded by updateParams')
    this.#params = next
    this.#query = this.#attach(next)
    this.#sync()
    return this.#query.fetch()
  }

  mutate(updater: T | ((old: T | undefined) => T), options?: { revalidate?: boolean }): Promise<void> {
    this.#query.setData(updater)
    this.#sync()
    if (!options?.revalidate) return Promise.resolve()
    return this.#query.refetch().then(noop)
  }

  close(): void {
    this.#detach('the async store was closed')
    if (this.#ownsStore) this.#store.close()
    for (const cell of [this.data, this.loading, this.error] as Array<Cell<unknown>>) cell.clear()
  }

  #state(): QueryState<T> {
    return this.#query.state
  }

  #attach(params: P): Query<T> {
    const key = this.config.key
      ? this.config.key(params)
      : ['tributary.async-store', this.#id, ++this.#version]
    const query = this.#store.query<T>(key, (context) => this.fetcher(params, context), this.config)
    this.#unsubscribe = query.subscribe(() => this.#sync())
    return query
  }

  #detach(reason: string): void {
    const old = this.#query
    this.#unsubscribe()
    this.#unsubscribe = noop
    if (!this.config.key) this.#store.remove(old.key)
    else if (old.observerCount === 0) old.cancel(reason)
  }

  #sync(): void {
    this.data.sync()
    this.loading.sync()
    this.error.sync()
  }
}

/**
 * One parameterised request as readables: `data`, `loading`, `error`, plus `refetch`,
 * `updateParams` and `mutate`. It starts loading at once.
 *
 * @example
 * ```ts
 * import { createAsyncStore } from 'tributary'
 * const user = createAsyncStore((id: number, { signal }) => loadUser(id, signal), 1, { timeout: 2_000 })
 * user.data.subscribe((value) => render(value))
 * await user.updateParams(2) // the request for 1 is aborted; its late answer is ignored
 * user.close()
 * ```
 */
export function createAsyncStore<T, P>(
  fetcher: AsyncStoreFetcher<T, P>,
  params: P,
  config: AsyncStoreConfig<P> = {},
): AsyncStore<T, P> {
  return new AsyncStoreImpl(fetcher, params, config)
}
