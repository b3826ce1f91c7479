/**
 * The parts of an ioredis client that the store's Redis tiers use, as structural types: an
 * ioredis `Redis` fits, and an application without ioredis installed type-checks against
 * tributary's declarations.
 */

/** A MULTI batch (ioredis' `multi()`). */
export interface RedisBatchLike {
  set(key: string, value: string): unknown
  set(key: string, value: string, px: 'PX', milliseconds: number): unknown
  sadd(key: string, member: string): unknown
  exec(): Promise<unknown>
}

/** The commands of `redisCache` and its lease locks; an ioredis `Redis` fits. */
export interface RedisCacheClient {
  get(key: string): Promise<string | null>
  del(...keys: string[]): Promise<number>
  smembers(key: string): Promise<string[]>
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: string, elements: string[]]>
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>
  multi(): RedisBatchLike
}

/** The subscriber connection `duplicate()` gives `redisBus`; an ioredis `Redis` fits. */
export interface RedisBusSubscriberLike {
  subscribe(...channels: string[]): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  disconnect(): void
}

/** The commands of `redisBus`; an ioredis `Redis` fits. */
export interface RedisBusClient {
  publish(channel: string, message: string): Promise<number>
  duplicate(): RedisBusSubscriberLike
}
