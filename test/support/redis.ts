/**
 * A Redis client for one test file, with a unique key prefix that `cleanup()` deletes.
 */
import Redis from 'ioredis'
import { redisUrl } from './services'
import { uniqueName } from './database'

/** A Redis connection and a key prefix owned by one test file. */
export interface TestRedis {
  readonly client: Redis
  /** Prefix every key with this (it ends with `:`). */
  readonly prefix: string
  /** Deletes every key under the prefix and closes the connection. */
  cleanup(): Promise<void>
}

/** Connects to Redis and reserves a unique key prefix. */
export async function createTestRedis(name = 'tributary'): Promise<TestRedis> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  const prefix = `${uniqueName(name)}:`
  return {
    client,
    prefix,
    async cleanup() {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
        cursor = next
        if (keys.length > 0) await client.del(...keys)
      } while (cursor !== '0')
      await client.quit()
    },
  }
}
