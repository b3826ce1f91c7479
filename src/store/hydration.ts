/**
 * Handing a warm cache to another process: `dehydrate(store)` gives a JSON-ready snapshot of
 * the successful queries, `hydrate(store, state)` puts it into another store, keeping any
 * data there that is newer (TanStack's `dehydrate` / `hydrate`).
 */
import { checkStoreOptions } from './option-specs'
import type { QueryKey } from './key-hash'
import type { Query } from './query'
import type { QueryStore } from './query-store'

/** One query in a {@link DehydratedState}. */
export interface DehydratedQuery {
  readonly queryKey: QueryKey
  readonly queryHash: string
  readonly state: {
    readonly data: unknown
    /** When the data was fetched (ms since the epoch). */
    readonly dataUpdatedAt: number
    readonly status: 'success'
  }
}

/** What {@link dehydrate} returns: plain data (JSON-serialisable when the cached data is). */
export interface DehydratedState {
  readonly queries: readonly DehydratedQuery[]
}

/** Options for {@link dehydrate}. */
export interface DehydrateOptions {
  /** Which queries to include. Defaults to those holding data (`status` `success`). */
  shouldDehydrateQuery?: (query: Query<unknown>) => boolean
}

/**
 * A snapshot of the cached data of `store`, for {@link hydrate} in another store or process.
 *
 * @example
 * ```ts
 * import { QueryStore, dehydrate, hydrate } from 'tributary'
 * const json = JSON.stringify(dehydrate(warm))
 * hydrate(cold, JSON.parse(json)) // cold.getData(['user', 1]) is there, with its age kept
 * ```
 */
export function dehydrate(store: QueryStore, options?: DehydrateOptions): DehydratedState {
  checkStoreOptions('dehydrate', options)
  const include =
    options?.shouldDehydrateQuery ?? ((query: Query<unknown>) => query.state.status === 'success')
  const queries: DehydratedQuery[] = []
  for (const query of store.findAll()) {
    const { data, updatedAt } = query.state
    if (data === undefined || !include(query)) continue
    queries.push({
      queryKey: query.key,
      queryHash: query.hash,
      state: { data, dataUpdatedAt: updatedAt, status: 'success' },
    })
  }
  return { queries }
}

/**
 * Puts a {@link dehydrate}d snapshot into `store`: each query's data with its original age
 * (so `staleTime` counts from when it was fetched). Data already in `store` that is as new or
 * newer is kept.
 */
export function hydrate(store: QueryStore, state: DehydratedState | null | undefined): void {
  if (state === null || state === undefined || !Array.isArray(state.queries)) return
  for (const { queryKey, state: dehydrated } of state.queries) {
    if (dehydrated.data === undefined) continue
    const existing = store.getQuery(queryKey)?.state
    if (
      existing !== undefined &&
      existing.data !== undefined &&
      existing.updatedAt >= dehydrated.dataUpdatedAt
    )
      continue
    store.setData(queryKey, dehydrated.data, { updatedAt: dehydrated.dataUpdatedAt })
  }
}
