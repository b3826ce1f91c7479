/**
 * Query filters, as TanStack Query's: pick cache entries by key prefix (or exact key), by
 * whether they are observed, stale or fetching, and by a predicate.
 */
import { checkStoreOptions } from './option-specs'
import { hashKey, hashStartsWith, prefixOfHash, type QueryKey } from './key-hash'
import type { Query } from './query'
import type { QueryEntry } from './query-entry'

/** Which entries a filter keeps by observation: observed (`active`), unobserved, or both. */
export type QueryTypeFilter = 'all' | 'active' | 'inactive'

/** Picks queries for the store's bulk methods. Every condition given must hold. */
export interface QueryFilters {
  /** Keys starting with this one (element by element), or equal to it with `exact`. Defaults to every key. */
  queryKey?: QueryKey
  /** Match `queryKey` exactly instead of as a prefix. Defaults to false. */
  exact?: boolean
  /** `active`: with an enabled subscriber; `inactive`: without one. Defaults to `all`. */
  type?: QueryTypeFilter
  /** Only stale (`true`) or only fresh (`false`) data. Defaults to either. */
  stale?: boolean
  /** Only entries fetching (`fetching`) or not (`idle`). Defaults to either. */
  fetchStatus?: 'fetching' | 'idle'
  /** A last test on the query. Defaults to none. */
  predicate?: (query: Query<unknown>) => boolean
}

/** A compiled filter. @internal */
export type EntryMatcher = (
  entry: QueryEntry<unknown>,
  handleOf: (entry: QueryEntry<unknown>) => Query<unknown>,
) => boolean

/** Compiles `filters` into a test on entries (the key is hashed once). @internal */
export function entryMatcher(filters: QueryFilters | undefined): EntryMatcher {
  if (filters === undefined) return () => true
  checkStoreOptions('filters', filters)
  const { queryKey, exact = false, type = 'all', stale, fetchStatus, predicate } = filters
  const hash = queryKey === undefined ? undefined : hashKey(queryKey)
  const prefix = hash === undefined ? undefined : prefixOfHash(hash)
  return (entry, handleOf) => {
    if (hash !== undefined) {
      if (exact ? entry.hash !== hash : !hashStartsWith(entry.hash, prefix as string)) return false
    }
    if (type !== 'all' && entry.isActive !== (type === 'active')) return false
    if (stale !== undefined && entry.state.isStale !== stale) return false
    if (fetchStatus !== undefined && entry.isFetching !== (fetchStatus === 'fetching')) return false
    return predicate === undefined || predicate(handleOf(entry))
  }
}
