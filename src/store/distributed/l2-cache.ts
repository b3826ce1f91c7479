/**
 * The contracts of the query store's shared tiers: the L2 cache (values with their fetch
 * time, a TTL, tags), its lease locks, and the invalidation bus. `redisCache` and `redisBus`
 * implement them on Redis; another backend implements the same interfaces.
 */
import type { QueryKey } from '../key-hash'

/** One value in L2: the data, when it was fetched, and its tags. */
export interface L2Entry {
  /** The key as given to the store. */
  readonly key: QueryKey
  /** The cached data. */
  readonly data: unknown
  /** When the data was fetched (ms since the epoch): freshness counts from here, on every instance. */
  readonly updatedAt: number
  /** Tags for `invalidateTags`. */
  readonly tags: readonly string[]
}

/** Lease locks, one per key hash: only the holder of a key's lock fetches it. */
export interface L2Locks {
  /** Takes the lock for `hash` with `token` for `leaseMs` if nobody holds it; true when taken. */
  acquire(hash: string, token: string, leaseMs: number): Promise<boolean>
  /** Extends the lease if `token` still holds it; false when the lock was lost. */
  renew(hash: string, token: string, leaseMs: number): Promise<boolean>
  /** Releases the lock if `token` still holds it (compare-and-delete). */
  release(hash: string, token: string): Promise<void>
}

/** A shared cache behind the store's in-memory L1, keyed by query key hash. */
export interface L2Cache {
  /** The entry for `hash`, or `undefined`. */
  get(hash: string): Promise<L2Entry | undefined>
  /** Writes `entry` for `hash`, expiring after `ttlMs` (`Infinity`: never). */
  set(hash: string, entry: L2Entry, ttlMs: number): Promise<void>
  /** Deletes every entry whose key starts with the key hashed to `prefixHash` (element boundaries respected). */
  deletePrefix(prefixHash: string): Promise<void>
  /** Deletes every entry tagged with one of `tags`. */
  deleteTags(tags: readonly string[]): Promise<void>
  /** Lease locks for stampede protection across instances; without them each instance fetches. */
  readonly locks?: L2Locks
}

/** What the bus carries between stores. `from` is the sending store's id (its own messages are ignored). */
export type BusMessage =
  | { readonly type: 'invalidate'; readonly from: string; readonly prefix: QueryKey }
  | { readonly type: 'set'; readonly from: string; readonly key: QueryKey }
  | { readonly type: 'tags'; readonly from: string; readonly tags: readonly string[] }

/** Carries invalidations between the stores sharing an L2. */
export interface InvalidationBus {
  /** Sends `message` to every subscriber (the sender's own included: it filters by `from`). */
  publish(message: BusMessage): Promise<void>
  /** Calls `listener` for each message; returns the function that stops (the last one frees the connection). */
  subscribe(listener: (message: BusMessage) => void, onError: (error: unknown) => void): () => void
}
