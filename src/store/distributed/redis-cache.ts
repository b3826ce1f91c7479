/**
 * `redisCache(client)`: the query store's L2 on Redis. Values are JSON in the hydration format
 * (`{ queryKey, queryHash, state: { data, dataUpdatedAt, status } }` plus `tags`) with a `PX`
 * TTL; tags are Redis sets of key hashes; locks are `SET NX PX` leases. ioredis is only a type here.
 */
import { checkStoreOptions } from '../option-specs'
import type { RedisCacheClient } from './redis-client'
import { hashStartsWith } from '../key-hash'
import { L2CodecError } from './errors'
import type { L2Cache, L2Entry } from './l2-cache'
import { redisLocks } from './lock'
import { commandDeadlines } from './command-deadlines'

/** Turns L2 entries into strings and back. */
export interface L2Codec {
  encode(entry: L2Entry, hash: string): string
  /** Throws on a value it cannot read (reported as an `L2CodecError`, treated as a miss). */
  decode(text: string): L2Entry
}

/** Options for {@link redisCache}. */
export interface RedisCacheOptions {
  /** Prefix of every key written (values, tag sets, locks). Defaults to `'tributary:store:'`. */
  prefix?: string
  /** How values are written. Defaults to JSON in the hydration format ({@link hydrationCodec}). */
  codec?: L2Codec
  /**
   * Fails a command after this many ms (so a Redis outage costs a read this much at most,
   * whatever the client's offline queue does). Defaults to 1_000.
   */
  commandTimeout?: number
}

/** JSON in `dehydrate`'s per-query format, with the entry's tags: readable by `hydrate` too. */
export const hydrationCodec: L2Codec = {
  encode: (entry, hash) =>
    JSON.stringify({
      queryKey: entry.key,
      queryHash: hash,
      state: { data: entry.data, dataUpdatedAt: entry.updatedAt, status: 'success' },
      tags: entry.tags,
    }),
  decode: (text) => {
    const parsed = JSON.parse(text) as {
      queryKey?: unknown
      state?: { data?: unknown; dataUpdatedAt?: unknown }
      tags?: unknown
    }
    const { queryKey, state, tags } = parsed
    if (!Array.isArray(queryKey) || typeof state?.dataUpdatedAt !== 'number' || !Array.isArray(tags)) {
      throw new TypeError('not a tributary L2 entry')
    }
    return { key: queryKey, data: state.data, updatedAt: state.dataUpdatedAt, tags: tags as string[] }
  },
}

/**
 * An {@link L2Cache} on Redis through your ioredis client (not closed by the store).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { QueryStore, redisCache, redisBus } from 'tributary'
 * const redis = new Redis()
 * const store = new QueryStore({ l2: redisCache(redis, { prefix: 'app:' }), bus: redisBus(redis, { prefix: 'app:' }) })
 * ```
 */
export function redisCache(client: RedisCacheClient, options: RedisCacheOptions = {}): L2Cache {
  checkStoreOptions('redisCache', options ?? null)
  const prefix = options.prefix ?? 'tributary:store:'
  const codec = options.codec ?? hydrationCodec
  const run = commandDeadlines(options.commandTimeout ?? 1_000)
  const valueKey = (hash: string): string => `${prefix}v:${hash}`
  const tagKey = (tag: string): string => `${prefix}tag:${tag}`
  const valuePrefix = `${prefix}v:`

  async function deleteKeys(keys: readonly string[]): Promise<void> {
    for (let at = 0; at < keys.length; at += 500) await run(client.del(...keys.slice(at, at + 500)))
  }

  return {
    get(hash) {
      return run(client.get(valueKey(hash))).then((text) => {
        if (text === null) return undefined
        try {
          return codec.decode(text)
        } catch (error) {
          throw new L2CodecError(valueKey(hash), error)
        }
      })
    },
    async set(hash, entry, ttlMs) {
      const key = valueKey(hash)
      const text = codec.encode(entry, hash)
      const batch = client.multi()
      if (ttlMs === Infinity) batch.set(key, text)
      else batch.set(key, text, 'PX', Math.max(1, Math.ceil(ttlMs)))
      for (const tag of entry.tags) batch.sadd(tagKey(tag), hash)
      await run(batch.exec())
    },
    async deletePrefix(prefixHash) {
      const found: string[] = []
      let cursor = '0'
      do {
        const [next, keys] = await run(
          client.scan(cursor, 'MATCH', `${escapeGlob(valuePrefix + prefixHash)}*`, 'COUNT', 1000),
        )
        cursor = next
        for (const key of keys) if (hashStartsWith(key.slice(valuePrefix.length), prefixHash)) found.push(key)
      } while (cursor !== '0')
      await deleteKeys(found)
    },
    async deleteTags(tags) {
      if (tags.length === 0) return
      const hashes = new Set<string>()
      for (const tag of tags) for (const hash of await run(client.smembers(tagKey(tag)))) hashes.add(hash)
      await deleteKeys([...[...hashes].map(valueKey), ...tags.map(tagKey)])
    },
    locks: redisLocks(client, prefix, run),
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}
