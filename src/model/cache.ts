/**
 * The models' optional read cache (`User.cached({ ttl })`, `scope.cached({ ttl })`): reads go
 * through a `QueryStore` — the same machinery as every other tributary cache — keyed by table,
 * database, helper, SQL and bound values. Writes made through a model mark its table's cached
 * reads stale in every store used for them.
 */
import type { CompiledQuery } from 'kysely'
import { QueryStore } from '../store/query-store'
import { type QueryKey, type QueryKeyPart } from '../store/key-hash'
import { InvalidQueryError } from './errors'

/**
 * Options for `Model.cached()` and `scope.cached()`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore({ maxEntries: 10_000 })
 * const active = User.where({ active: true }).cached({ ttl: 30, store })
 * await active.asyncCount() // runs the query
 * await active.asyncCount() // from the cache for 30 s
 * ```
 */
export interface ModelCacheOptions {
  /**
   * How long a read's answer is served from the cache, in seconds (as `@Component({ ttl })`).
   * `0` caches nothing but still makes identical reads in flight run once.
   */
  ttl: number
  /** The store to cache in. Defaults to one store shared by every model (at most 1,000 entries). */
  store?: QueryStore
}

/** The validated cache settings a scope carries. @internal */
export interface ModelCache {
  readonly store: QueryStore
  /** The ttl in ms. */
  readonly ttlMs: number
}

let defaultStore: QueryStore | undefined
/** Stores that hold (or held) model reads, so writes can invalidate them. */
const stores = new Set<QueryStore>()

/**
 * The store that `cached({ ttl })` uses when given none: one per process, bounded to 1,000
 * entries (least recently used first). Replaced by a fresh one if it was closed.
 *
 * @example
 * ```ts
 * import { defaultModelCacheStore } from 'tributary'
 * await defaultModelCacheStore().invalidate(['tributary.model', 'users'])
 * ```
 */
export function defaultModelCacheStore(): QueryStore {
  if (defaultStore === undefined || defaultStore.closed) defaultStore = new QueryStore({ maxEntries: 1_000 })
  return defaultStore
}

/** Checks `cached()` options; throws an `InvalidQueryError` naming the model. @internal */
export function modelCache(model: string, options: ModelCacheOptions): ModelCache {
  const ttl = (options as Partial<ModelCacheOptions> | undefined)?.ttl
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
    throw new InvalidQueryError(model, 'ttl', `cached() needs a ttl in seconds >= 0, got ${String(ttl)}`)
  }
  if (options.store !== undefined && !(options.store instanceof QueryStore)) {
    throw new InvalidQueryError(model, 'store', 'cached({ store }) must be a QueryStore')
  }
  const store = options.store ?? defaultModelCacheStore()
  if (!stores.has(store)) {
    stores.add(store)
    // a read finding no row answers undefined: a cached answer, not a failed fetch
    store.setQueryDefaults(['tributary.model'], { allowUndefined: true })
  }
  return { store, ttlMs: ttl * 1_000 }
}

/** The prefix of every cached read of `table`. */
function tablePrefix(table: string): QueryKey {
  return ['tributary.model', table]
}

const databaseIds = new WeakMap<object, number>()
let nextDatabaseId = 0

function keyPart(value: unknown): QueryKeyPart {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : { number: String(value) }
    case 'bigint':
      return { bigint: value.toString() }
    default:
      if (value instanceof Date) return { date: value.getTime() }
      if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('base64') }
      return { json: JSON.stringify(value) ?? null }
  }
}

/**
 * The cache key of a read: table, database (each Kysely instance apart, so shards never
 * share answers), helper, SQL and bound values. @internal
 */
export function readKey(table: string, db: object, helper: string, query: CompiledQuery<unknown>): QueryKey {
  let id = databaseIds.get(db)
  if (id === undefined) databaseIds.set(db, (id = ++nextDatabaseId))
  return ['tributary.model', table, id, helper, query.sql, query.parameters.map(keyPart)]
}

/** Marks every cached read of `table` stale (after a write through a model). @internal */
export function invalidateTable(table: string): void {
  if (stores.size === 0) return
  const prefix = tablePrefix(table)
  for (const store of stores) {
    if (store.closed) stores.delete(store)
    else void store.invalidate(prefix, { refetch: 'none' })
  }
}
