/**
 * Shard resolvers: which shard a key lives on. `hashShardResolver` (rendezvous hashing),
 * `rangeShardResolver` (key ranges), and `AsyncShardResolver` (a directory lookup, cached).
 */
import type { Kysely } from 'kysely'
import { sql } from '../model/kysely'
import { raceAbort } from '../core/abort'
import { checkOptions, checks, type OptionSpec, ttlProblem } from '../core/option-checks'
import { AsyncResult } from '../core/async-result'
import { ShardRoutingError } from './errors'
import { compareValues } from './merge'

/**
 * A key a resolver can route.
 *
 * @example
 * ```ts
 * import { hashShardResolver, type ShardKey } from 'tributary'
 * const key: ShardKey = 42n
 * hashShardResolver(['a', 'b']).resolve(key)
 * ```
 */
export type ShardKey = string | number | bigint

/**
 * Chooses a shard from a key, synchronously.
 *
 * @example
 * ```ts
 * import { type ShardResolver } from 'tributary'
 * const byTenant: ShardResolver<string> = { resolve: (tenant) => (tenant < 'm' ? 'a_to_l' : 'm_to_z') }
 * ```
 */
export interface ShardResolver<K = ShardKey> {
  /** The shard name for `key`; throws a `ShardRoutingError` when it cannot route it. */
  resolve(key: K): string
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

// murmur3's finaliser: every input bit affects every output bit.
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Routes keys by rendezvous (highest-random-weight) hashing: each key goes to the shard with
 * the highest `hash(shard, key)`. The answer depends only on the set of names (not their
 * order) and is the same in every process and release.
 *
 * How keys move: adding an (n+1)-th shard moves about 1/(n+1) of the keys, every one of them
 * to the new shard — no key moves between old shards. Removing a shard moves only that
 * shard's keys, spread evenly over the rest. Renaming a shard is removing one and adding one.
 * Moving the rows of the keys that changed shard is up to you (resolve each key with the old
 * and the new resolver and copy the rows whose answers differ).
 *
 * @example
 * ```ts
 * import { hashShardResolver } from 'tributary'
 * const byUser = hashShardResolver(['us_east', 'us_west', 'eu'])
 * await shards.withShard(byUser.resolve(userId), () => User.asyncFind(userId))
 * ```
 */
export function hashShardResolver(shards: readonly string[]): ShardResolver<ShardKey> {
  if (shards.length === 0) throw new RangeError('hashShardResolver needs at least one shard')
  if (new Set(shards).size !== shards.length) throw new RangeError('hashShardResolver: shard names repeat')
  const seeds = shards.map((name) => mix(fnv1a(name) ^ 0x9e3779b9))
  return {
    resolve(key) {
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'bigint') {
        throw new ShardRoutingError('hashShardResolver', key, 'keys must be strings, numbers or bigints')
      }
      const h = fnv1a(String(key))
      let best = 0
      let bestScore = -1
      for (let i = 0; i < shards.length; i++) {
        const score = mix(h ^ (seeds[i] as number))
        if (score > bestScore || (score === bestScore && (shards[i] as string) < (shards[best] as string))) {
          best = i
          bestScore = score
        }
      }
      return shards[best] as string
    },
  }
}

/**
 * One range of {@link rangeShardResolver}: keys in `[from, to)` live on `shard`.
 *
 * @example
 * ```ts
 * import { rangeShardResolver, type ShardRange } from 'tributary'
 * const ranges: ShardRange<number>[] = [{ shard: 'old', to: 1_000 }, { shard: 'new', from: 1_000 }]
 * rangeShardResolver(ranges).resolve(5) // 'old'
 * ```
 */
export interface ShardRange<K> {
  readonly shard: string
  /** Inclusive lower bound. Defaults to no bound. */
  readonly from?: K
  /** Exclusive upper bound. Defaults to no bound. */
  readonly to?: K
}

/**
 * Routes keys by range: each key goes to the range with `from ≤ key < to`. Ranges must not
 * overlap; a key outside every range throws a `ShardRoutingError`. Keys compare as numbers
 * (numbers and bigints together) or as strings (by code point).
 *
 * @example
 * ```ts
 * import { rangeShardResolver } from 'tributary'
 * const byId = rangeShardResolver([
 *   { shard: 'old', to: 1_000_000 },
 *   { shard: 'new', from: 1_000_000 },
 * ])
 * byId.resolve(42) // 'old'
 * ```
 */
export function rangeShardResolver<K extends ShardKey>(ranges: readonly ShardRange<K>[]): ShardResolver<K> {
  if (ranges.length === 0) throw new RangeError('rangeShardResolver needs at least one range')
  const sorted = [...ranges].sort((a, b) =>
    a.from === undefined ? -1 : b.from === undefined ? 1 : compareValues(a.from, b.from),
  )
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i] as ShardRange<K>
    if (r.from !== undefined && r.to !== undefined && compareValues(r.from, r.to) >= 0) {
      throw new RangeError(`rangeShardResolver: the range of ${r.shard} is empty (from ${r.from} to ${r.to})`)
    }
    const next = sorted[i + 1]
    if (next && (r.to === undefined || next.from === undefined || compareValues(r.to, next.from) > 0)) {
      throw new RangeError(`rangeShardResolver: the ranges of ${r.shard} and ${next.shard} overlap`)
    }
  }
  return {
    resolve(key) {
      // Binary search for the last range whose `from` ≤ key.
      let lo = 0
      let hi = sorted.length - 1
      let found = -1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const from = (sorted[mid] as ShardRange<K>).from
        if (from === undefined || compareValues(from, key) <= 0) {
          found = mid
          lo = mid + 1
        } else hi = mid - 1
      }
      const range = sorted[found]
      if (!range || (range.to !== undefined && compareValues(key, range.to) >= 0)) {
        throw new ShardRoutingError('rangeShardResolver', key, 'it is outside every range')
      }
      return range.shard
    },
  }
}

/**
 * Options of {@link AsyncShardResolver}.
 *
 * @example
 * ```ts
 * import { AsyncShardResolver } from 'tributary'
 * const resolver = new AsyncShardResolver<string>({
 *   lookup: async (tenant) => (await fetchDirectory(tenant)).shard,
 *   ttl: 30,
 *   maxEntries: 50_000,
 * })
 * ```
 */
export interface AsyncShardResolverOptions<K> {
  /** Looks a key up (e.g. in a directory table); `undefined`/`null` when the key is unknown. */
  lookup: (key: K, context: { signal: AbortSignal }) => PromiseLike<string | null | undefined>
  /** How long an answer is reused, in seconds (as every `ttl`; `Infinity` for ever). Defaults to 60. */
  ttl?: number
  /** How many answers are kept (the oldest are dropped first). Defaults to 10 000. */
  maxEntries?: number
  /** The name used in errors and metrics. Defaults to `'AsyncShardResolver'`. */
  name?: string
  /** The clock, in milliseconds. Defaults to `Date.now`. */
  now?: () => number
}

const RESOLVER_OPTIONS: OptionSpec = {
  lookup: checks.function,
  ttl: (value) => ttlProblem(value),
  maxEntries: checks.integer(1),
  name: checks.name,
  now: checks.function,
}
const DIRECTORY_OPTIONS: OptionSpec = {
  ...RESOLVER_OPTIONS,
  lookup: () => 'is set by fromDirectory',
  table: checks.name,
  keyColumn: checks.name,
  shardColumn: checks.name,
}

interface CacheEntry {
  readonly shard: string
  readonly expires: number
}

/**
 * Routes keys by looking them up (typically in a directory table on a central database),
 * caching each answer for `ttl` seconds. Concurrent lookups of one key share one query; failures
 * and unknown keys are not cached.
 *
 * @example
 * ```ts
 * import { AsyncShardResolver } from 'tributary'
 * const directory = AsyncShardResolver.fromDirectory(centralDb, { table: 'tenant_shards', ttl: 30 })
 * const shard = await directory.resolveAsync(tenantId)
 * await shards.withShard(shard, () => Invoice.where({ tenantId }).asyncAll())
 * ```
 */
export class AsyncShardResolver<K extends ShardKey = ShardKey> {
  private readonly cache = new Map<K, CacheEntry>()
  private readonly inFlight = new Map<K, Promise<string>>()
  private readonly ttlMs: number
  private readonly maxEntries: number
  private readonly name: string
  private readonly now: () => number

  constructor(private readonly options: AsyncShardResolverOptions<K>) {
    checkOptions('new AsyncShardResolver(options)', options ?? null, RESOLVER_OPTIONS)
    if (typeof options.lookup !== 'function') {
      throw new TypeError('new AsyncShardResolver(options): option lookup must be a function')
    }
    this.ttlMs = (options.ttl ?? 60) * 1_000
    this.maxEntries = options.maxEntries ?? 10_000
    this.name = options.name ?? 'AsyncShardResolver'
    this.now = options.now ?? Date.now
  }

  /**
   * A resolver reading `select <shardColumn> from <table> where <keyColumn> = key`.
   * `table` defaults to `'shard_directory'`, `keyColumn` to `'key'`, `shardColumn` to `'shard'`.
   */
  static fromDirectory<K extends ShardKey = ShardKey, DB = unknown>(
    db: Kysely<DB>,
    options: {
      table?: string
      keyColumn?: string
      shardColumn?: string
    } & Omit<AsyncShardResolverOptions<K>, 'lookup'> = {},
  ): AsyncShardResolver<K> {
    checkOptions('AsyncShardResolver.fromDirectory(db, options)', options, DIRECTORY_OPTIONS)
    const { table = 'shard_directory', keyColumn = 'key', shardColumn = 'shard', ...rest } = options
    return new AsyncShardResolver<K>({
      name: `AsyncShardResolver(${table})`,
      ...rest,
      lookup: async (key) => {
        const { rows } = await sql<{
          shard: string
        }>`select ${sql.ref(shardColumn)} as shard from ${sql.table(
          table,
        )} where ${sql.ref(keyColumn)} = ${key} limit 1`.execute(db)
        return rows[0]?.shard
      },
    })
  }

  /** The shard of `key`: from the cache while fresh, else from a lookup. */
  resolveAsync(key: K, options: { signal?: AbortSignal } = {}): AsyncResult<string> {
    const operation = `${this.name}.resolveAsync`
    const cached = this.cache.get(key)
    if (cached && cached.expires > this.now()) return AsyncResult.resolve(cached.shard, { operation })
    return AsyncResult.from((signal) => raceAbort(this.load(key), signal), {
      operation,
      signal: options.signal,
    })
  }

  /** Forgets the answer for `key`, or every answer. */
  invalidate(key?: K): void {
    if (key === undefined) this.cache.clear()
    else this.cache.delete(key)
  }

  private load(key: K): Promise<string> {
    let pending = this.inFlight.get(key)
    if (pending) return pending
    pending = Promise.resolve()
      .then(() => this.options.lookup(key, { signal: new AbortController().signal }))
      .then(
        (shard) => {
          if (typeof shard !== 'string' || shard === '') {
            throw new ShardRoutingError(this.name, key, 'the key is not in the directory')
          }
          this.cache.delete(key)
          this.cache.set(key, { shard, expires: this.now() + this.ttlMs })
          if (this.cache.size > this.maxEntries) {
            const oldest = this.cache.keys().next()
            if (!oldest.done) this.cache.delete(oldest.value)
          }
          return shard
        },
        (error: unknown) => {
          throw new ShardRoutingError(this.name, key, 'the lookup failed', { cause: error })
        },
      )
      .finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, pending)
    return pending
  }
}
